"""Distance IoU loss (Zheng et al., "Distance-IoU Loss", AAAI 2020, section 3.1, eq. 6), on
:func:`torchvision.ops.distance_box_iou_loss`.

``L = 1 - IoU + rho**2(b, b_gt) / c**2``: rho the distance between the box centres, c the
diagonal of the smallest enclosing box (torchvision adds eps 1e-7 to c**2).
"""
from __future__ import annotations

from torch import Tensor
from torchvision.ops import distance_box_iou_loss

from registry import LOSSES
from zoo.api import IOU_EPS, BoxIoULossBase

__all__ = ['DIoULoss']


@LOSSES.register_module()
class DIoULoss(BoxIoULossBase):
    """DIoU loss of matched box pairs, eps 1e-7.

    Args:
        reduction: 'mean' | 'sum' | 'none'.
        loss_weight: factor on the reduced loss.

    Attributes:
        loss_kind = 'regression'; takes_decoded_boxes = True.

    Shapes and errors: see :class:`~zoo.api.BoxIoULossBase`.
    """

    def box_loss(self, pred: Tensor, target: Tensor) -> Tensor:
        return distance_box_iou_loss(pred, target, reduction='none', eps=IOU_EPS)
