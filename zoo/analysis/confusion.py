"""The confusion matrix of a detector, with a background row and column, by the conventions of
mmdetection's ``tools/analysis_tools/confusion_matrix.py``.

The matrix is (C + 1) x (C + 1): row ``i < C`` is ground-truth class ``i``, the last row is
background (a detection that overlaps no ground-truth box); column ``j < C`` is predicted class
``j``, the last column is "missed" (a ground-truth box no detection of its class found). Per
image, only detections scoring at least ``score_thr`` count, and then:

* every detection adds 1 to cell ``[g, j]`` for *each* ground-truth box of class ``g`` it
  overlaps with IoU >= ``iou_thr`` (``j`` its predicted class): a detection may count several
  times, and two detections on one box both count (there is no one-to-one matching);
* a detection overlapping no ground-truth box that much adds 1 to ``[background, j]``;
* a ground-truth box of class ``g`` that no detection of class ``g`` overlapped that much adds
  1 to ``[g, missed]``.

Ignored ground truth (COCO ``iscrowd``, VOC "difficult") is left out altogether, as in mmdet
(whose ``gt_instances`` hold no ignored box). The cell ``[background, missed]`` is always 0.
Boxes are xyxy pixels; IoU is :func:`zoo.structures.box_iou`.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from .matching import iou_matrix


def confusion_matrix(records: Sequence[Mapping], num_classes: int, iou_thr: float = 0.5,
                     score_thr: float = 0.3) -> np.ndarray:
    """(C + 1, C + 1) int64 counts; see the module docstring for the conventions.

    Args:
        records: per image, ``bboxes`` (M, 4), ``scores`` (M,), ``labels`` (M,), ``gt_bboxes``
            (N, 4), ``gt_labels`` (N,), ``gt_ignore`` (N,), xyxy pixels.
        num_classes: C.
        iou_thr: the IoU at which a detection covers a ground-truth box (mmdet: 0.5).
        score_thr: detections scoring less are dropped (mmdet: 0.3).

    Raises:
        ValueError: a label outside ``0 .. C-1``.
    """
    matrix = np.zeros((num_classes + 1, num_classes + 1), dtype=np.int64)
    for rec in records:
        keep = np.asarray(rec['scores'], dtype=np.float64) >= score_thr
        labels = np.asarray(rec['labels'], dtype=np.int64)[keep]
        regular = ~np.asarray(rec['gt_ignore'], dtype=bool)
        gt_labels = np.asarray(rec['gt_labels'], dtype=np.int64)[regular]
        for what, values in (('predicted', labels), ('ground-truth', gt_labels)):
            if values.size and (values.min() < 0 or values.max() >= num_classes):
                raise ValueError(f'image {rec.get("img_id")!r}: {what} labels must be in 0..'
                                 f'{num_classes - 1}, got {sorted(set(values.tolist()))}')
        ious = iou_matrix(np.asarray(rec['bboxes'])[keep], np.asarray(rec['gt_bboxes'])[regular],
                          np.zeros(len(gt_labels), dtype=bool))
        covers = ious >= iou_thr  # (M, N)
        found = np.zeros(len(gt_labels), dtype=bool)
        for d, label in enumerate(labels):
            hits = np.flatnonzero(covers[d])
            if hits.size == 0:
                matrix[num_classes, label] += 1  # background: a false detection
                continue
            for g in hits:
                matrix[gt_labels[g], label] += 1
                if gt_labels[g] == label:
                    found[g] = True
        for g in np.flatnonzero(~found):
            matrix[gt_labels[g], num_classes] += 1  # missed
    return matrix


def confusion_to_json(matrix: np.ndarray, classes: Sequence[str], iou_thr: float,
                      score_thr: float) -> dict:
    """The matrix with its axes named and its conventions stated, for ``confusion_matrix.json``."""
    return dict(
        rows=[*classes, 'background'], columns=[*classes, 'missed'],
        iou_thr=iou_thr, score_thr=score_thr, matrix=matrix.tolist(),
        conventions='rows: ground-truth class, last row background (a detection overlapping no '
                    'ground truth); columns: predicted class, last column missed (a ground-truth '
                    'box no detection of its class covered). A detection counts once per '
                    'ground-truth box it overlaps with IoU >= iou_thr (no one-to-one matching); '
                    'detections scoring below score_thr and ignored ground truth are left out '
                    '(mmdetection tools/analysis_tools/confusion_matrix.py).')


__all__ = ['confusion_matrix', 'confusion_to_json']
