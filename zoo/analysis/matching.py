"""COCO's matching of one class's detections to the ground truth of one image, as pycocotools'
``COCOeval.evaluateImg`` does it (area range "all"), and the per-class collection of the matches
over a data set.

Per image and class, the ``max_dets`` highest-scoring detections (stable sort on the score) are
taken in score order; each one takes the not-yet-taken ground-truth box of its class with the
highest IoU, if that IoU is at least ``iou_thr``. Ignored ground truth (COCO ``iscrowd``, VOC
"difficult") is tried only after every regular box; its overlap is the intersection over the
detection's area, it can be taken any number of times, and a detection that takes it is ignored
(neither a true nor a false positive). Boxes are xyxy pixels, widths ``x2 - x1`` (no "+1").
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
import torch

from ..structures import box_iof, box_iou

#: pycocotools' ``maxDets[-1]``: at most this many detections per image and class are scored
MAX_DETS = 100


def iou_matrix(boxes: np.ndarray, gt_boxes: np.ndarray, gt_ignore: np.ndarray) -> np.ndarray:
    """(M, N) overlaps of detections (M, 4) with ground truth (N, 4), xyxy pixels: IoU for a
    regular box, intersection over the detection's area for an ignored one (pycocotools'
    ``iscrowd`` rule)."""
    a = torch.as_tensor(np.asarray(boxes, dtype=np.float64).reshape(-1, 4))
    b = torch.as_tensor(np.asarray(gt_boxes, dtype=np.float64).reshape(-1, 4))
    ious = box_iou(a, b).numpy()
    ignore = np.asarray(gt_ignore, dtype=bool).reshape(-1)
    if ignore.any():
        ious[:, ignore] = box_iof(a, b[torch.as_tensor(ignore)]).numpy()
    return ious


def top_detections(scores: np.ndarray, max_dets: int = MAX_DETS) -> np.ndarray:
    """Indices of the ``max_dets`` highest scores, highest first (a stable sort, as
    pycocotools' ``np.argsort(-score, kind='mergesort')``)."""
    return np.argsort(-np.asarray(scores, dtype=np.float64), kind='mergesort')[:max_dets]


def match_image(ious: np.ndarray, gt_ignore: np.ndarray, iou_thr: float) -> tuple[np.ndarray,
                                                                                   np.ndarray]:
    """Greedy matching of detections (rows of ``ious``, already in score order) to ground truth.

    Args:
        ious: (M, N) overlaps from :func:`iou_matrix`, detections sorted by score (highest
            first), all of one class and one image.
        gt_ignore: (N,) bool, the ignored ground-truth boxes.
        iou_thr: the overlap a match needs (``>=``).

    Returns:
        (det_gt (M,) int: the matched ground-truth index or -1; det_ignored (M,) bool: matched to
        an ignored box).
    """
    gt_ignore = np.asarray(gt_ignore, dtype=bool).reshape(-1)
    order = np.argsort(gt_ignore, kind='mergesort')  # regular boxes first, as pycocotools
    taken = np.zeros(len(gt_ignore), dtype=bool)
    det_gt = np.full(ious.shape[0], -1, dtype=np.int64)
    for d in range(ious.shape[0]):
        best, m = min(iou_thr, 1 - 1e-10), -1
        for g in order:
            if taken[g] and not gt_ignore[g]:
                continue
            if m > -1 and not gt_ignore[m] and gt_ignore[g]:
                break  # a regular match beats every ignored box
            if ious[d, g] < best:
                continue
            best, m = ious[d, g], g
        if m > -1:
            det_gt[d] = m
            taken[m] = True
    det_ignored = np.array([g > -1 and gt_ignore[g] for g in det_gt], dtype=bool)
    return det_gt, det_ignored


@dataclass
class ClassMatches:
    """The matches of one class over a data set, at one IoU threshold.

    Attributes:
        scores: (D,) the scored detections' scores, in image order then score order.
        tp: (D,) bool, true positives; the others are false positives.
        ignored: (D,) bool, detections matched to ignored ground truth (left out of AP).
        num_gt: the number of regular (not ignored) ground-truth boxes.
    """
    scores: np.ndarray
    tp: np.ndarray
    ignored: np.ndarray
    num_gt: int


def match_class(records: Sequence[Mapping], label: int, iou_thr: float,
                max_dets: int = MAX_DETS) -> ClassMatches:
    """:class:`ClassMatches` of class ``label`` over ``records`` (per image: ``bboxes`` (M, 4),
    ``scores`` (M,), ``labels`` (M,), ``gt_bboxes`` (N, 4), ``gt_labels`` (N,), ``gt_ignore``
    (N,), xyxy pixels; what :func:`zoo.analysis.records.load_records` returns)."""
    scores, tp, ignored, num_gt = [], [], [], 0
    for rec in records:
        gt_mask = np.asarray(rec['gt_labels']) == label
        gt_ignore = np.asarray(rec['gt_ignore'], dtype=bool)[gt_mask]
        num_gt += int((~gt_ignore).sum())
        det_idx = np.flatnonzero(np.asarray(rec['labels']) == label)
        det_idx = det_idx[top_detections(np.asarray(rec['scores'])[det_idx], max_dets)]
        ious = iou_matrix(np.asarray(rec['bboxes'])[det_idx], np.asarray(rec['gt_bboxes'])[gt_mask],
                          gt_ignore)
        det_gt, det_ignored = match_image(ious, gt_ignore, iou_thr)
        scores.append(np.asarray(rec['scores'], dtype=np.float64)[det_idx])
        tp.append((det_gt > -1) & ~det_ignored)
        ignored.append(det_ignored)
    return ClassMatches(np.concatenate(scores) if scores else np.zeros(0),
                        np.concatenate(tp) if tp else np.zeros(0, dtype=bool),
                        np.concatenate(ignored) if ignored else np.zeros(0, dtype=bool), num_gt)


__all__ = ['MAX_DETS', 'ClassMatches', 'iou_matrix', 'match_class', 'match_image',
           'top_detections']
