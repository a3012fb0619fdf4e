"""Losses: ``forward(pred, target, weight=None, avg_factor=None) -> scalar``.

Each has ``reduction`` ('mean' | 'sum' | 'none') and ``loss_weight``, mmdet's ``avg_factor``
semantics (see :mod:`zoo.api.loss_base`), and the class attributes ``loss_kind``
('classification' | 'regression') and, for regression, ``takes_decoded_boxes`` (False: deltas;
True: ``x1, y1, x2, y2`` boxes), which heads use to check that a configured loss fits.
"""
from .ciou_loss import CIoULoss
from .cross_entropy_loss import CrossEntropyLoss
from .diou_loss import DIoULoss
from .focal_loss import FocalLoss
from .giou_loss import GIoULoss
from .iou_loss import IoULoss
from .l1_loss import L1Loss
from .mse_loss import MSELoss
from .smooth_l1_loss import SmoothL1Loss

__all__ = ['CIoULoss', 'CrossEntropyLoss', 'DIoULoss', 'FocalLoss', 'GIoULoss', 'IoULoss', 'L1Loss',
           'MSELoss', 'SmoothL1Loss']
