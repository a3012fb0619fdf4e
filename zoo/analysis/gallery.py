"""Galleries: the images where the detector misses the most ground truth, and those where it
makes the most false detections, drawn with their ground truth and predictions.

Per image, the detections scoring at least ``score_thr`` are matched to the ground truth as COCO
does at ``iou_thr`` (:mod:`zoo.analysis.matching`): a *false* detection is one matched to no
box (nor to an ignored one), a *missed* box a regular ground-truth box no detection matched.
Images are ranked by that count (ties: dataset order) and the top ``k`` with a count above 0
are drawn (:func:`zoo.visualization.draw_detections`): ground truth thin and labelled
``GT <class>``, predictions thick with their scores.
"""
from __future__ import annotations

import os
from typing import Mapping, Sequence

import numpy as np

from ..runner.atomic import atomic_write
from ..visualization import draw_detections
from .matching import iou_matrix, match_image, top_detections


def image_errors(rec: Mapping, num_classes: int, iou_thr: float = 0.5,
                 score_thr: float = 0.3) -> tuple[int, int]:
    """(missed ground-truth boxes, false detections) of one record (see the module docstring)."""
    keep = np.flatnonzero(np.asarray(rec['scores'], dtype=np.float64) >= score_thr)
    labels = np.asarray(rec['labels'], dtype=np.int64)
    gt_labels = np.asarray(rec['gt_labels'], dtype=np.int64)
    gt_ignore = np.asarray(rec['gt_ignore'], dtype=bool)
    missed = false = 0
    for c in range(num_classes):
        det = keep[labels[keep] == c]
        det = det[top_detections(np.asarray(rec['scores'])[det], len(det))]
        gt = np.flatnonzero(gt_labels == c)
        det_gt, det_ign = match_image(iou_matrix(np.asarray(rec['bboxes'])[det],
                                                 np.asarray(rec['gt_bboxes'])[gt], gt_ignore[gt]),
                                      gt_ignore[gt], iou_thr)
        false += int(((det_gt == -1) & ~det_ign).sum())
        found = set(det_gt[(det_gt > -1) & ~det_ign].tolist())
        missed += sum(1 for j in range(len(gt)) if not gt_ignore[gt[j]] and j not in found)
    return missed, false


def rank_images(records: Sequence[Mapping], num_classes: int, iou_thr: float = 0.5,
                score_thr: float = 0.3, k: int = 5) -> dict:
    """``{"missed": [(index, count), ...], "false": [...]}``: the top ``k`` images by each count
    (counts above 0 only), highest first."""
    counts = [image_errors(r, num_classes, iou_thr, score_thr) for r in records]
    out = {}
    for n, kind in enumerate(('missed', 'false')):
        order = sorted(range(len(records)), key=lambda i: (-counts[i][n], i))
        out[kind] = [(i, counts[i][n]) for i in order[:k] if counts[i][n] > 0]
    return out


def draw_record(rec: Mapping, classes: Sequence[str], score_thr: float = 0.3):
    """The record's image (read from ``img_path``) with its ground truth and its detections
    scoring at least ``score_thr``; a PIL image."""
    from PIL import Image
    with Image.open(rec['img_path']) as img:
        image = img.convert('RGB')
    image = draw_detections(image, rec['gt_bboxes'], rec['gt_labels'], None,
                            [f'GT {c}' for c in classes], line_width=1)
    keep = np.asarray(rec['scores']) >= score_thr
    return draw_detections(image, np.asarray(rec['bboxes'])[keep], np.asarray(rec['labels'])[keep],
                           np.asarray(rec['scores'])[keep], classes, line_width=3)


def write_gallery(records: Sequence[Mapping], ranked: Sequence[tuple[int, int]],
                  classes: Sequence[str], folder: str, kind: str, score_thr: float = 0.3) -> list:
    """Draw the ``ranked`` images into ``folder`` as ``<rank>_<image name>_<count><kind>.png``
    (written atomically); return the file names."""
    os.makedirs(folder, exist_ok=True)
    names = []
    for rank, (i, count) in enumerate(ranked, 1):
        rec = records[i]
        stem = os.path.splitext(os.path.basename(str(rec['img_path'])))[0]
        name = f'{rank:02d}_{stem}_{count}{kind}.png'
        with atomic_write(os.path.join(folder, name), 'wb') as f:
            draw_record(rec, classes, score_thr).save(f, format='PNG')
        names.append(name)
    return names


__all__ = ['draw_record', 'image_errors', 'rank_images', 'write_gallery']
