"""Reading what a metric needs out of one evaluated data sample.

mmengine's ``Evaluator`` hands metrics each ``DetDataSample`` converted by ``to_dict()``:
metainfo keys at the top level and ``pred_instances`` as a dict of tensors. Metrics called
directly may get the ``DetDataSample`` itself. :func:`unpack_sample` accepts both.
"""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import torch
from mmengine.structures import BaseDataElement


def _array(value: Any, dtype, shape_tail: tuple[int, ...] = ()) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    arr = np.asarray(value, dtype=dtype)
    return arr.reshape((-1,) + shape_tail)


def unpack_sample(sample: Any) -> dict:
    """The metric's record of one image: predictions and ground truth, as numpy arrays.

    Args:
        sample: a ``DetDataSample`` or its ``to_dict()``, with metainfo ``img_id``,
            ``ori_shape`` and ``instances`` (the ground truth in original-image pixels, a list of
            ``dict(bbox=[x1, y1, x2, y2], bbox_label=int, ignore_flag=0|1)``) and
            ``pred_instances`` (``bboxes`` (M, 4) xyxy in original-image pixels, ``scores``
            (M,), ``labels`` (M,)).

    Returns:
        dict(img_id, ori_shape=(h, w), bboxes=float64 (M, 4), scores=float64 (M,),
        labels=int64 (M,), gt_bboxes=float64 (N, 4), gt_labels=int64 (N,),
        gt_ignore=bool (N,)).

    Raises:
        KeyError: ``img_id``, ``ori_shape``, ``instances`` or ``pred_instances`` is missing
            (the message lists the keys that are there).
        ValueError: predictions of inconsistent lengths.
    """
    if isinstance(sample, BaseDataElement):
        sample = sample.to_dict()
    if not isinstance(sample, Mapping):
        raise TypeError(f'a data sample must be a DetDataSample or a dict, got '
                        f'{type(sample).__name__}')
    for key in ('img_id', 'ori_shape', 'pred_instances'):
        if key not in sample:
            raise KeyError(f'the data sample has no `{key}` (it has {sorted(sample)}); the model '
                           f'must return data samples carrying the dataset metainfo and '
                           f'pred_instances')
    if 'instances' not in sample:
        raise KeyError(f'the data sample of image {sample["img_id"]!r} has no `instances` '
                       f'metainfo (the ground truth); keep `instances` in PackDetInputs.meta_keys')
    pred = sample['pred_instances']
    if isinstance(pred, BaseDataElement):
        pred = pred.to_dict()
    bboxes = _array(pred.get('bboxes', np.zeros((0, 4))), np.float64, (4,))
    scores = _array(pred.get('scores', np.zeros(0)), np.float64)
    labels = _array(pred.get('labels', np.zeros(0)), np.int64)
    if not len(bboxes) == len(scores) == len(labels):
        raise ValueError(f'image {sample["img_id"]!r}: pred_instances hold {len(bboxes)} boxes, '
                         f'{len(scores)} scores and {len(labels)} labels')
    inst = sample['instances'] or []
    return dict(
        img_id=sample['img_id'],
        ori_shape=tuple(int(v) for v in sample['ori_shape'][:2]),
        bboxes=bboxes, scores=scores, labels=labels,
        gt_bboxes=np.asarray([i['bbox'] for i in inst], dtype=np.float64).reshape(-1, 4),
        gt_labels=np.asarray([i['bbox_label'] for i in inst], dtype=np.int64),
        gt_ignore=np.asarray([bool(i.get('ignore_flag', 0)) for i in inst], dtype=bool))
