"""The per-image records the analyses read: a dataset's ground truth joined with detections from
a results file in COCO's results format (what ``zoo test --out`` writes).

A record is ``dict(img_id, img_path, ori_shape=(h, w), bboxes=float64 (M, 4) xyxy pixels of the
original image, scores=(M,), labels=int64 (M,) in 0 .. C-1, gt_bboxes=(N, 4), gt_labels=(N,),
gt_ignore=bool (N,))``.

How a results entry finds its image and class (the ids ``zoo test --out`` writes):

* with a test ``CocoMetric`` that has an ``ann_file``: ``image_id`` is the dataset's image id
  (that file's) and ``category_id`` the file's category of the class of the same name;
* otherwise (the default; VOC, YOLO and COCO folders alike): ``image_id`` ``k`` is the k-th
  image of the test split (1-based, in the dataset's order) and ``category_id`` is the label + 1,
  as :class:`~zoo.evaluation.CocoMetric` numbers them for its in-memory ground truth.
"""
from __future__ import annotations

import json
from typing import Mapping, Optional, Sequence

import numpy as np

from registry import ConfigError


def _xywh_to_xyxy(box) -> list[float]:
    x, y, w, h = (float(v) for v in box)
    return [x, y, x + w, y + h]


def read_results(path: str) -> list[dict]:
    """The detections of a COCO results file: ``[dict(image_id, category_id, bbox=[x, y, w, h],
    score), ...]``.

    Raises:
        ConfigError: the file is missing, not JSON, or not a list of such entries (the message
            names the file and the first bad entry).
    """
    try:
        with open(path, encoding='utf-8') as f:
            data = json.load(f)
    except FileNotFoundError:
        raise ConfigError(f'--results {path}: no such file') from None
    except json.JSONDecodeError as err:
        raise ConfigError(f'--results {path}: not a JSON file ({err})') from None
    if not isinstance(data, list):
        raise ConfigError(f'--results {path}: expected a list of detections in COCO results '
                          f'format (as `zoo test --out` writes), got a {type(data).__name__}')
    for i, det in enumerate(data):
        if (not isinstance(det, dict) or not {'image_id', 'category_id', 'bbox', 'score'} <= set(det)
                or len(det['bbox']) != 4):
            raise ConfigError(f'--results {path}: entry {i} is {det!r}; expected dict(image_id, '
                              f'category_id, bbox=[x, y, w, h], score)')
    return data


def dataset_records(dataset) -> list[dict]:
    """Records with the ground truth of every image of ``dataset`` (a zoo detection dataset:
    ``data_list`` records with ``img_id``, ``img_path``, ``height``, ``width``, ``instances``)
    and no detections."""
    out = []
    for rec in dataset.data_list:
        inst = rec['instances']
        out.append(dict(
            img_id=rec['img_id'], img_path=rec['img_path'],
            ori_shape=(int(rec['height']), int(rec['width'])),
            bboxes=np.zeros((0, 4)), scores=np.zeros(0), labels=np.zeros(0, dtype=np.int64),
            gt_bboxes=np.asarray([i['bbox'] for i in inst], dtype=np.float64).reshape(-1, 4),
            gt_labels=np.asarray([i['bbox_label'] for i in inst], dtype=np.int64),
            gt_ignore=np.asarray([bool(i.get('ignore_flag', 0)) for i in inst], dtype=bool)))
    return out


def join_results(records: Sequence[dict], detections: Sequence[Mapping], num_classes: int,
                 cat_ids: Optional[Sequence[int]] = None, source: str = 'results') -> list[dict]:
    """``records`` (from :func:`dataset_records`) with the ``detections`` put on their images.

    Args:
        cat_ids: the COCO category id of each label, with image ids that are the records'
            ``img_id``; ``None``: positions (image ``k`` is ``records[k - 1]``, category ``c`` is
            label ``c - 1``), see the module docstring.
        source: the file name, for messages.

    Raises:
        ConfigError: an image id or category id that matches no image or class (the
            results are from another split, data set or ``--cfg-options``).
    """
    if cat_ids is None:
        by_image = {i + 1: i for i in range(len(records))}
        label_of = {c + 1: c for c in range(num_classes)}
    else:
        by_image = {rec['img_id']: i for i, rec in enumerate(records)}
        label_of = {int(c): label for label, c in enumerate(cat_ids)}
    boxes = [[] for _ in records]
    scores = [[] for _ in records]
    labels = [[] for _ in records]
    for n, det in enumerate(detections):
        i = by_image.get(det['image_id'])
        if i is None:
            raise ConfigError(
                f'{source}: entry {n} has image_id {det["image_id"]!r}, which is not an image of '
                f'the test split ({len(records)} images; ' + (
                    'ids 1..N in the split\'s order' if cat_ids is None else 'the dataset\'s ids')
                + '): were the results made with the same config and options?')
        label = label_of.get(int(det['category_id']))
        if label is None:
            raise ConfigError(f'{source}: entry {n} has category_id {det["category_id"]!r}; the '
                              f'classes have ids {sorted(label_of)}')
        boxes[i].append(_xywh_to_xyxy(det['bbox']))
        scores[i].append(float(det['score']))
        labels[i].append(label)
    out = []
    for rec, b, s, lab in zip(records, boxes, scores, labels):
        out.append(dict(rec, bboxes=np.asarray(b, dtype=np.float64).reshape(-1, 4),
                        scores=np.asarray(s, dtype=np.float64),
                        labels=np.asarray(lab, dtype=np.int64)))
    return out


__all__ = ['dataset_records', 'join_results', 'read_results']
