"""Losses: ``forward(pred, target, weight=None, avg_factor=None) -> scalar``.

Each has ``reduction`` ('mean' | 'sum' | 'none') and ``loss_weight``, mmdet's ``avg_factor``
semantics (see :mod:`plugins.losses.reduction`), and the class attributes ``loss_kind``
('classification' | 'regression') and, for regression, ``takes_decoded_boxes`` (False: deltas;
True: ``x1, y1, x2, y2`` boxes), which heads use to check that a configured loss fits.
"""
from .ciou_loss import CIoULoss
from .cross_entropy_loss import CrossEntropyLoss
from .diou_loss import DIoULoss
from .focal_loss import FocalLoss
from .giou_loss import GIoULoss
from .iou_loss import BoxIoULossBase, IoULoss, paired_iou
from .l1_loss import L1Loss
from .labels import binary_targets
from .mse_loss import MSELoss
from .reduction import WeightedLoss, weight_reduce_loss
from .smooth_l1_loss import SmoothL1Loss

__all__ = ['BoxIoULossBase', 'CIoULoss', 'CrossEntropyLoss', 'DIoULoss', 'FocalLoss', 'GIoULoss',
           'IoULoss', 'L1Loss', 'MSELoss', 'SmoothL1Loss', 'WeightedLoss', 'binary_targets',
           'paired_iou', 'weight_reduce_loss']
