"""The public part API: everything of the zoo that a plugin may import, besides ``registry``.

A plugin (the built-in ``plugins/`` package as much as a third-party distribution) imports
``registry`` (the catalogues, ``Requires``, the errors) and this package, and nothing else of
ours; the import-linter contracts in pyproject.toml check it. What each kind of part receives and
must provide is written in docs/parts.md.

Base classes and results of parts:

* losses: :class:`WeightedLoss` (``reduction``, ``loss_weight``, ``avg_factor``; the class
  attributes ``loss_kind`` and ``takes_decoded_boxes``), :func:`weight_reduce_loss`,
  :func:`check_reduction`, :data:`REDUCTIONS`, :class:`BoxIoULossBase` (IoU family on decoded
  boxes), :func:`binary_targets` (labels to sigmoid targets);
* anchor schemes: :class:`BaseAnchorGenerator` (tiling, cache, ``consumes``),
  :func:`check_strides`, :func:`check_positive_numbers`;
* assigners and samplers: :class:`AssignResult`, :class:`GridAssignResult`,
  :class:`SamplingResult`;
* layers: :class:`ConvNormAct`, :func:`make_norm`, :data:`NORMS`.

Structures and box operations (xyxy pixels, no "+1"; :mod:`zoo.structures`): ``DetDataSample``,
``InstanceData``, ``box_area``, ``box_iou``, ``box_iof``, ``paired_iou``, ``shape_iou``,
``clip_boxes``, ``rescale_boxes``, ``size_keep_mask``, ``inside_flags``, ``IOU_EPS``, ``box_diou``,
``batched_diou_nms``, ``batched_nms_topk``.

Helpers the heads share (:mod:`zoo.api.head_utils`): ``gt_of``, ``sample_images``,
``per_image_topk_mask``, ``select_detections``, ``nms_per_image``, ``batched_nms_by_cfg`` (with
``NMS_TYPES``), ``check_loss`` (with ``LOSS_KINDS``),
``check_mean_reduction``.

Mixed precision (:mod:`zoo.api.precision`): :func:`force_fp32`, the decorator that runs a
part's method in float32 inside a ``torch.autocast`` region (RoI layers, box coders, losses,
the heads' target and detection code), and is a plain call outside one.
"""
from zoo.structures import (IOU_EPS, DetDataSample, InstanceData, batched_diou_nms, batched_nms_topk,
                            box_area, box_diou, box_iof, box_iou, clip_boxes, inside_flags, paired_iou,
                            rescale_boxes, shape_iou, size_keep_mask)

from .anchor_base import BaseAnchorGenerator, check_positive_numbers, check_strides
from .assign_result import AssignResult, GridAssignResult
from .head_utils import (LOSS_KINDS, NMS_TYPES, batched_nms_by_cfg, check_loss, check_mean_reduction, gt_of,
                         nms_per_image, per_image_topk_mask, sample_images, select_detections)
from .labels import binary_targets
from .layers import NORMS, ConvNormAct, make_norm
from .loss_base import REDUCTIONS, BoxIoULossBase, WeightedLoss, check_reduction, weight_reduce_loss
from .precision import force_fp32
from .sampling_result import SamplingResult

__all__ = [
    # losses
    'REDUCTIONS', 'BoxIoULossBase', 'WeightedLoss', 'binary_targets', 'check_reduction',
    'weight_reduce_loss',
    # anchor schemes
    'BaseAnchorGenerator', 'check_positive_numbers', 'check_strides',
    # assigners, samplers
    'AssignResult', 'GridAssignResult', 'SamplingResult',
    # layers
    'NORMS', 'ConvNormAct', 'make_norm',
    # structures and box operations
    'DetDataSample', 'InstanceData', 'IOU_EPS', 'box_area', 'box_iof', 'box_iou', 'clip_boxes',
    'inside_flags', 'paired_iou', 'rescale_boxes', 'shape_iou', 'size_keep_mask', 'box_diou',
    'batched_diou_nms', 'batched_nms_topk',
    # head helpers
    'LOSS_KINDS', 'check_loss', 'check_mean_reduction', 'gt_of', 'per_image_topk_mask', 'sample_images',
    'select_detections',
    'nms_per_image', 'NMS_TYPES', 'batched_nms_by_cfg',
    # mixed precision
    'force_fp32',
]
