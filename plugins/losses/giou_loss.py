"""Generalized IoU loss (Rezatofighi et al., CVPR 2019, Algorithm 1/2), on
:func:`torchvision.ops.generalized_box_iou_loss`.

``GIoU = IoU - |C \\ (A u B)| / |C|`` with C the smallest box enclosing A and B;
``L = 1 - GIoU`` in [0, 2): unlike ``1 - IoU`` it still decreases as disjoint boxes approach.
"""
from __future__ import annotations

from torch import Tensor
from torchvision.ops import generalized_box_iou_loss

from registry import LOSSES
from zoo.api import IOU_EPS, BoxIoULossBase

__all__ = ['GIoULoss']


@LOSSES.register_module()
class GIoULoss(BoxIoULossBase):
    """``1 - GIoU`` of matched box pairs, eps 1e-7.

    Args:
        reduction: 'mean' | 'sum' | 'none'.
        loss_weight: factor on the reduced loss.

    Attributes:
        loss_kind = 'regression'; takes_decoded_boxes = True.

    Shapes and errors: see :class:`~zoo.api.BoxIoULossBase`.
    """

    def box_loss(self, pred: Tensor, target: Tensor) -> Tensor:
        return generalized_box_iou_loss(pred, target, reduction='none', eps=IOU_EPS)
