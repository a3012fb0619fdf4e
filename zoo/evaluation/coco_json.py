"""Conversions between the zoo's per-image records and COCO's JSON formats.

COCO boxes are ``[x, y, w, h]`` in continuous pixels; the zoo's are ``[x1, y1, x2, y2]`` with
``w = x2 - x1`` (no "+1"), so the conversion is exact both ways.
"""
from __future__ import annotations

import contextlib
import io
from typing import Mapping, Optional, Sequence

import numpy as np
from pycocotools.coco import COCO


def xyxy_to_xywh(boxes: np.ndarray) -> np.ndarray:
    """(N, 4) ``[x1, y1, x2, y2]`` -> (N, 4) ``[x, y, w, h]``."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    return np.concatenate([boxes[:, :2], boxes[:, 2:] - boxes[:, :2]], axis=1)


def results_to_coco_json(results: Sequence[Mapping], cat_ids: Sequence[int],
                         img_ids: Optional[Mapping] = None) -> list[dict]:
    """Detections in COCO's results format (the list ``COCO.loadRes`` and the evaluation
    server take).

    Args:
        results: per image, a mapping with ``img_id``, ``bboxes`` (M, 4) xyxy in original-image
            pixels, ``scores`` (M,) and ``labels`` (M,) in ``0 .. C-1`` (what
            :func:`zoo.evaluation.samples.unpack_sample` returns).
        cat_ids: the COCO category id of each label.
        img_ids: maps the records' ``img_id`` to COCO image ids; by default they are used as
            they are.

    Returns:
        ``[dict(image_id=int, category_id=int, bbox=[x, y, w, h], score=float), ...]``, one per
        detection, in the order of ``results``.

    Raises:
        ValueError: a label outside ``0 .. len(cat_ids) - 1``.
    """
    out = []
    num_classes = len(cat_ids)
    for res in results:
        labels = np.asarray(res['labels'], dtype=np.int64).reshape(-1)
        if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
            raise ValueError(f'image {res["img_id"]!r}: predicted labels must be in 0..'
                             f'{num_classes - 1} ({num_classes} classes), got '
                             f'{sorted(set(labels.tolist()))}')
        image_id = img_ids[res['img_id']] if img_ids is not None else res['img_id']
        for box, score, label in zip(xyxy_to_xywh(res['bboxes']).tolist(),
                                     np.asarray(res['scores'], dtype=np.float64).tolist(),
                                     labels.tolist()):
            out.append(dict(image_id=image_id, category_id=int(cat_ids[label]),
                            bbox=[float(v) for v in box], score=float(score)))
    return out


def gt_to_coco_dict(results: Sequence[Mapping], classes: Sequence[str]) -> tuple[dict, dict]:
    """A COCO ground-truth dataset built from the records' ``instances`` (original pixels).

    Images get ids ``1 .. N`` in the order of ``results`` (their first occurrence), with
    ``width``/``height`` from ``ori_shape``; categories are ``1 .. C`` named after ``classes``;
    each box becomes an annotation with ``bbox`` ``[x, y, w, h]``, ``area = w * h``,
    ``iscrowd`` = its ignore flag (COCOeval then neither rewards nor punishes detections on it),
    and ids from 1 (COCOeval treats id 0 as "unmatched").

    Args:
        results: per image, ``img_id``, ``ori_shape`` (h, w), ``gt_bboxes`` (N, 4) xyxy,
            ``gt_labels`` (N,), ``gt_ignore`` (N,).
        classes: the class names, label order.

    Returns:
        (the COCO dataset dict, a map from the records' ``img_id`` to the COCO image id).

    Raises:
        ValueError: a ground-truth label outside ``0 .. len(classes) - 1``.
    """
    images, annotations, img_ids = [], [], {}
    for res in results:
        if res['img_id'] in img_ids:
            continue
        labels = np.asarray(res['gt_labels'], dtype=np.int64).reshape(-1)
        if labels.size and (labels.min() < 0 or labels.max() >= len(classes)):
            raise ValueError(f'image {res["img_id"]!r}: ground-truth labels must be in 0..'
                             f'{len(classes) - 1} ({len(classes)} classes {tuple(classes)}), got '
                             f'{sorted(set(labels.tolist()))}')
        img_ids[res['img_id']] = image_id = len(img_ids) + 1
        h, w = res['ori_shape']
        images.append(dict(id=image_id, width=int(w), height=int(h), file_name=str(res['img_id'])))
        for box, label, ignore in zip(xyxy_to_xywh(res['gt_bboxes']).tolist(),
                                      np.asarray(res['gt_labels']).tolist(),
                                      np.asarray(res['gt_ignore']).tolist()):
            annotations.append(dict(id=len(annotations) + 1, image_id=image_id,
                                    category_id=int(label) + 1, bbox=box,
                                    area=float(box[2] * box[3]), iscrowd=int(bool(ignore))))
    categories = [dict(id=i + 1, name=name) for i, name in enumerate(classes)]
    return dict(images=images, annotations=annotations, categories=categories), img_ids


def coco_from_dict(dataset: dict) -> COCO:
    """A pycocotools index of an in-memory dataset dict (without pycocotools' prints)."""
    coco = COCO()
    coco.dataset = dataset
    with contextlib.redirect_stdout(io.StringIO()):
        coco.createIndex()
    return coco


def load_results(gt: COCO, detections: list[dict]) -> COCO:
    """``gt.loadRes(detections)``, also for an empty list (which pycocotools rejects):
    then a results index holding no detection, which COCOeval scores as 0 AP."""
    if detections:
        with contextlib.redirect_stdout(io.StringIO()):
            return gt.loadRes([dict(d) for d in detections])  # loadRes adds keys in place
    return coco_from_dict(dict(images=list(gt.dataset['images']),
                               categories=list(gt.dataset['categories']), annotations=[]))
