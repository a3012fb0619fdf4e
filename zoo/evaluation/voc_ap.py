"""Pascal VOC average precision: greedy matching of detections to ground truth, and the
11-point (VOC2007) or area (VOC2010+) AP.

The logic is the VOC devkit's (``VOCevaldet.m``; Everingham et al., IJCV 2010), also
transcribed by py-faster-rcnn's ``voc_eval.py``:

* the detections of one class, over all images, are taken in descending score order (a
  stable sort, so ties keep their input order, as MATLAB's ``sort``);
* each is compared with every ground-truth box of its image and class; with ``IoU >= iou_thr``
  against the best-overlapping box (the devkit's ``>=``; py-faster-rcnn writes ``>``), it is a
  true positive if that box is not yet taken, a false positive (duplicate) if it is, and
  *neither* if that box is "difficult" (ignored); below the threshold it is a false positive;
* recall = TP / (number of non-ignored ground-truth boxes), precision = TP / (TP + FP).

One departure, the zoo's box convention: IoU uses ``w = x2 - x1`` with no "+1" (the devkit and
py-faster-rcnn add 1 to widths and heights of 1-based pixel boxes). Ignored detections are
removed rather than kept with TP = FP = 0, which changes no AP but avoids 0/0 precisions.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from ..structures import box_iou as _box_iou


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU (M, N) of xyxy boxes ``a`` (M, 4) and ``b`` (N, 4), in float64: the zoo's
    :func:`zoo.structures.box_iou` on numpy arrays (widths ``x2 - x1``, no "+1")."""
    a = torch.as_tensor(np.asarray(a, dtype=np.float64).reshape(-1, 4))
    b = torch.as_tensor(np.asarray(b, dtype=np.float64).reshape(-1, 4))
    return _box_iou(a, b).numpy()


def match_detections(detections: Sequence[tuple[np.ndarray, np.ndarray]],
                     ground_truth: Sequence[tuple[np.ndarray, np.ndarray]],
                     iou_thr: float = 0.5) -> tuple[np.ndarray, np.ndarray, int]:
    """Greedy VOC matching of one class's detections (see the module docstring).

    Args:
        detections: per image, (boxes (M_i, 4) xyxy, scores (M_i,)).
        ground_truth: per image (same order), (boxes (N_i, 4) xyxy, ignore flags bool (N_i,)).
        iou_thr: the IoU a detection needs with a ground-truth box to hit it.

    Returns:
        (tp, fp, npos): ``tp`` and ``fp`` are 0/1 float arrays over the non-ignored detections
        in descending score order; ``npos`` counts the non-ignored ground-truth boxes.
    """
    if len(detections) != len(ground_truth):
        raise ValueError(f'{len(detections)} images of detections but {len(ground_truth)} of '
                         f'ground truth')
    img_idx, local_idx, scores, ious = [], [], [], []
    for i, ((boxes, sc), (gt_boxes, _)) in enumerate(zip(detections, ground_truth)):
        sc = np.asarray(sc, dtype=np.float64).reshape(-1)
        img_idx.append(np.full(sc.shape[0], i, dtype=np.int64))
        local_idx.append(np.arange(sc.shape[0]))
        scores.append(sc)
        ious.append(box_iou(boxes, gt_boxes))
    npos = int(sum(int((~np.asarray(ign, dtype=bool)).sum()) for _, ign in ground_truth))
    if not scores or not sum(s.size for s in scores):
        return np.zeros(0), np.zeros(0), npos
    img_idx, local_idx, scores = (np.concatenate(x) for x in (img_idx, local_idx, scores))
    order = np.argsort(-scores, kind='stable')
    taken = [np.zeros(len(gt[0]), dtype=bool) for gt in ground_truth]
    tp, fp = [], []
    for d in order:
        i, k = img_idx[d], local_idx[d]
        row = ious[i][k]
        if row.size == 0:
            tp.append(0.0), fp.append(1.0)
            continue
        j = int(np.argmax(row))
        if row[j] >= iou_thr:
            if ground_truth[i][1][j]:
                continue  # on an ignored ("difficult") box: neither hit nor miss
            if not taken[i][j]:
                taken[i][j] = True
                tp.append(1.0), fp.append(0.0)
            else:
                tp.append(0.0), fp.append(1.0)  # a duplicate detection
        else:
            tp.append(0.0), fp.append(1.0)
    return np.asarray(tp), np.asarray(fp), npos


def precision_recall(tp: np.ndarray, fp: np.ndarray, npos: int) -> tuple[np.ndarray, np.ndarray]:
    """Cumulative (recall, precision) after each detection, in score order."""
    ctp, cfp = np.cumsum(tp), np.cumsum(fp)
    recall = ctp / npos if npos > 0 else np.full_like(ctp, np.nan)
    precision = ctp / np.maximum(ctp + cfp, np.finfo(np.float64).eps)
    return recall, precision


def average_precision(recall: np.ndarray, precision: np.ndarray,
                      mode: str = '11points') -> float:
    """AP from a precision/recall curve.

    Args:
        recall, precision: (D,) in score order (see :func:`precision_recall`).
        mode: ``'11points'``: VOC2007's mean over t in {0, 0.1, ..., 1} of the highest precision
            at recall >= t (0 when none), with t = k / 10 exactly (``np.arange(0, 1.1, 0.1)``,
            used by py-faster-rcnn and mmdet, yields 0.30000000000000004 and so skips a recall
            of exactly 3/10); ``'area'``: VOC2010+'s area under the precision
            envelope (precision made monotonically decreasing), over the recall steps.

    Raises:
        ValueError: unknown ``mode``.
    """
    recall = np.asarray(recall, dtype=np.float64)
    precision = np.asarray(precision, dtype=np.float64)
    if mode == '11points':
        points = []
        for k in range(11):
            above = precision[recall >= k / 10]
            points.append(above.max() if above.size else 0.0)
        return float(sum(points) / 11)
    if mode == 'area':
        mrec = np.concatenate([[0.0], recall, [1.0]])
        mpre = np.concatenate([[0.0], precision, [0.0]])
        mpre = np.maximum.accumulate(mpre[::-1])[::-1]
        steps = np.where(mrec[1:] != mrec[:-1])[0]
        return float(np.sum((mrec[steps + 1] - mrec[steps]) * mpre[steps + 1]))
    raise ValueError(f"eval_mode must be '11points' or 'area', got {mode!r}")
