"""Packing a results dict into the model's input: an image tensor and a DetDataSample."""
from __future__ import annotations

from typing import Sequence

import torch

from registry import TRANSFORMS

from ..structures import DetDataSample, InstanceData

DEFAULT_META_KEYS = ('img_path', 'img_id', 'ori_shape', 'img_shape', 'scale_factor', 'flip',
                     'flip_direction', 'instances')


@TRANSFORMS.register_module()
class PackDetInputs:
    """The last transform: ``dict(inputs=..., data_samples=...)`` for mmengine's collate.

    Output:
        inputs: uint8 tensor (3, H, W), RGB, of the transformed image (a plain tensor; the
            data preprocessor normalizes and pads on the model's device).
        data_samples: :class:`~zoo.structures.DetDataSample` with

        * ``gt_instances`` (when ``gt_bboxes`` is present): ``bboxes`` float32 (N, 4) xyxy in
          pixels of the transformed image, ``labels`` int64 (N,), ``ignore_flags`` bool (N,);
        * ``proposals`` (when ``proposals`` is present, from ``LoadProposals``): ``bboxes``
          float32 (K, 4) xyxy in pixels of the transformed image, ``scores`` float32 (K,)
          (``proposals_scores``; zeros when absent);
        * metainfo: each of ``meta_keys`` present in ``results`` (default ``img_path``,
          ``img_id``, ``ori_shape``, ``img_shape``, ``scale_factor``, ``flip``,
          ``flip_direction``, ``instances``).

    Unlike mmdet, ignored boxes stay in ``gt_instances`` with ``ignore_flags`` True (the zoo's
    DetDataSample contract) rather than moving to ``ignored_instances``.

    Args:
        meta_keys: results keys copied into the metainfo.

    Raises:
        KeyError: ``results`` has no ``img`` (``LoadImageFromFile`` missing from the pipeline).
    """

    def __init__(self, meta_keys: Sequence[str] = DEFAULT_META_KEYS):
        self.meta_keys = tuple(meta_keys)

    def __call__(self, results: dict) -> dict:
        if 'img' not in results:
            raise KeyError(f'PackDetInputs: the results dict has no `img` (keys: '
                           f'{sorted(results)}); is LoadImageFromFile the first transform?')
        img = results['img']
        inputs = img.as_subclass(torch.Tensor) if isinstance(img, torch.Tensor) else \
            torch.as_tensor(img)
        sample = DetDataSample()
        if results.get('gt_bboxes') is not None:
            boxes = results['gt_bboxes']
            n = boxes.shape[0]
            labels = results.get('gt_labels', torch.zeros(n, dtype=torch.int64))
            flags = results.get('gt_ignore_flags', torch.zeros(n, dtype=torch.bool))
            sample.gt_instances = InstanceData(
                bboxes=boxes.as_subclass(torch.Tensor).to(torch.float32).reshape(-1, 4),
                labels=torch.as_tensor(labels, dtype=torch.int64),
                ignore_flags=torch.as_tensor(flags, dtype=torch.bool))
        if results.get('proposals') is not None:
            boxes = results['proposals'].as_subclass(torch.Tensor).to(torch.float32).reshape(-1, 4)
            scores = results.get('proposals_scores')
            scores = torch.zeros(boxes.shape[0]) if scores is None else \
                torch.as_tensor(scores, dtype=torch.float32).reshape(-1)
            sample.proposals = InstanceData(bboxes=boxes, scores=scores)
        sample.set_metainfo({k: results[k] for k in self.meta_keys if k in results})
        return dict(inputs=inputs.contiguous(), data_samples=sample)

    def __repr__(self) -> str:
        return f'PackDetInputs(meta_keys={self.meta_keys})'
