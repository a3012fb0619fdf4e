"""Precision-recall curves per class and their COCO-style (101-point interpolated) AP.

The curve and the AP are computed exactly as pycocotools' ``COCOeval.accumulate`` does
(area "all", 100 detections per image and class): the detections of a class over all images are
sorted by score (stable), precision and recall are accumulated (detections matched to ignored
ground truth count as neither), precision is made monotone (each value becomes the maximum of
the precisions at higher recall), and it is read at the 101 recalls 0, 0.01, ..., 1 (the first
point whose recall reaches each one; 0 past the last). AP is the mean of those 101 values. A
class without (regular) ground truth has no AP (``None``; pycocotools' -1), and is left out of
the mean over classes.
"""
from __future__ import annotations

from typing import Mapping, Optional, Sequence

import numpy as np

from .matching import MAX_DETS, ClassMatches, match_class

#: pycocotools' ``recThrs``: the 101 recalls at which the interpolated precision is read
RECALL_POINTS = np.linspace(0.0, 1.0, 101)


def precision_recall(matches: ClassMatches) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(recall (D,), precision (D,), scores (D,)) along the score-sorted detections of one class
    (ignored detections included, with the values of the detection before them), as
    pycocotools accumulates them. Empty arrays without detections; recall is NaN without
    ground truth."""
    order = np.argsort(-matches.scores, kind='mergesort')
    tp = (matches.tp & ~matches.ignored)[order]
    fp = (~matches.tp & ~matches.ignored)[order]
    tp_sum, fp_sum = np.cumsum(tp, dtype=np.float64), np.cumsum(fp, dtype=np.float64)
    recall = tp_sum / matches.num_gt if matches.num_gt else np.full(len(tp), np.nan)
    precision = tp_sum / (tp_sum + fp_sum + np.spacing(1))
    return recall, precision, matches.scores[order]


def interpolated_precision(recall: np.ndarray, precision: np.ndarray) -> np.ndarray:
    """(101,) precision at :data:`RECALL_POINTS`, from the monotone envelope of the curve."""
    envelope = np.maximum.accumulate(np.asarray(precision, dtype=np.float64)[::-1])[::-1]
    idx = np.searchsorted(recall, RECALL_POINTS, side='left')
    out = np.zeros(len(RECALL_POINTS))
    inside = idx < len(envelope)
    out[inside] = envelope[idx[inside]]
    return out


def average_precision(matches: ClassMatches) -> Optional[float]:
    """COCO's 101-point AP of one class; ``None`` without regular ground truth."""
    if matches.num_gt == 0:
        return None
    recall, precision, _ = precision_recall(matches)
    return float(np.mean(interpolated_precision(recall, precision)))


def mean_ap(aps: Sequence[Optional[float]]) -> Optional[float]:
    """Mean of the classes' APs that exist; ``None`` when none does."""
    values = [a for a in aps if a is not None]
    return float(np.mean(values)) if values else None


def pr_curves(records: Sequence[Mapping], classes: Sequence[str],
              iou_thrs: Sequence[float] = (0.5, 0.75), max_dets: int = MAX_DETS) -> dict:
    """Per IoU threshold and class: the raw curve, the 101-point interpolated curve and the AP.

    Args:
        records: per image, detections and ground truth (see
            :func:`zoo.analysis.matching.match_class`).
        classes: class names, label order.
        iou_thrs: the IoU thresholds (COCO's AP50 and AP75 by default).
        max_dets: detections scored per image and class (pycocotools' 100).

    Returns:
        ``{"recall_points": [101 floats], "iou_thresholds": {"0.5": {"mAP": float|None,
        "classes": {name: {"AP": float|None, "num_gt": int, "num_detections": int,
        "precision_101": [101], "recall": [D], "precision": [D], "scores": [D]}}}, ...}}``.
    """
    out = {'recall_points': RECALL_POINTS.tolist(), 'max_dets': max_dets, 'iou_thresholds': {}}
    for thr in iou_thrs:
        per_class = {}
        for label, name in enumerate(classes):
            m = match_class(records, label, thr, max_dets)
            recall, precision, scores = precision_recall(m)
            per_class[name] = dict(
                AP=average_precision(m), num_gt=m.num_gt, num_detections=int(len(m.scores)),
                precision_101=interpolated_precision(recall, precision).tolist(),
                recall=[None if np.isnan(r) else float(r) for r in recall],
                precision=precision.tolist(), scores=scores.tolist())
        out['iou_thresholds'][f'{thr:g}'] = dict(
            mAP=mean_ap([c['AP'] for c in per_class.values()]), classes=per_class)
    return out


__all__ = ['RECALL_POINTS', 'average_precision', 'interpolated_precision', 'mean_ap',
           'pr_curves', 'precision_recall']
