"""Scoring detections made outside the zoo (another library's model) with the zoo's own COCO
evaluation, :class:`~zoo.evaluation.CocoMetric`, on the same ground truth as ``zoo test``.

The ground truth is what the zoo's dataset reads (for BCCD: :class:`~zoo.datasets.VOCDataset`,
boxes ``xmin - 1 .. xmax - 1`` in original-image pixels, zero-width boxes dropped, VOC
"difficult" boxes as COCO crowd regions), so a model scored here and a zoo model scored by
``zoo test`` on the same split are measured by one rule (``benchmarks/vs_ultralytics.py``).
"""
from __future__ import annotations

import os.path as osp
from typing import Mapping, Sequence

import numpy as np


def split_records(data_root: str, classes: Sequence[str], split: str = 'val') -> list[dict]:
    """The records (``img_id``, ``img_path``, ``width``, ``height``, ``instances``) of one split
    of a Pascal VOC dataset, as the zoo's ``VOCDataset`` reads them (test mode: images without
    boxes kept)."""
    from zoo.datasets import VOCDataset
    dataset = VOCDataset(data_root=data_root, classes=tuple(classes), split=split, test_mode=True,
                         pipeline=[])
    return list(dataset.data_list)


def score_detections(records: Sequence[Mapping], detections: Mapping[str, Mapping],
                     classes: Sequence[str]) -> dict:
    """COCO box AP of ``detections`` against the ground truth of ``records``.

    Args:
        records: from :func:`split_records`.
        detections: per image file stem (the VOC ``img_id``), ``bboxes`` (M, 4) xyxy in
            original-image pixels, ``scores`` (M,), ``labels`` (M,) in ``0 .. C-1`` in the order
            of ``classes``. An image missing here has no detection.
        classes: the class names, label order.

    Returns:
        :class:`~zoo.evaluation.CocoMetric`'s keys without prefix (``bbox_mAP``,
        ``bbox_mAP_50``, ... and ``bbox_AP_<class>``).

    Raises:
        ValueError: detections for an image that is not in ``records`` (named), or boxes,
            scores and labels of different lengths, or labels out of range.
    """
    from zoo.evaluation import CocoMetric, unpack_sample
    known = {str(r['img_id']) for r in records}
    unknown = sorted(set(detections) - known)
    if unknown:
        raise ValueError(f'detections for images not in the split: {unknown[:5]}'
                         f'{" ..." if len(unknown) > 5 else ""}')
    samples = []
    for r in records:
        det = detections.get(str(r['img_id'])) or {}
        samples.append(unpack_sample(dict(
            img_id=r['img_id'], ori_shape=(r['height'], r['width']), instances=r['instances'],
            pred_instances=dict(bboxes=np.asarray(det.get('bboxes', []), dtype=np.float64).reshape(-1, 4),
                                scores=np.asarray(det.get('scores', []), dtype=np.float64),
                                labels=np.asarray(det.get('labels', []), dtype=np.int64)))))
    return CocoMetric(classes=tuple(classes)).compute_metrics(samples)


def stem(path: str) -> str:
    """The file stem of an image path (the VOC ``img_id``)."""
    return osp.splitext(osp.basename(path))[0]


__all__ = ['score_detections', 'split_records', 'stem']
