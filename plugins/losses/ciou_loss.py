"""Complete IoU loss (Zheng et al., "Distance-IoU Loss", AAAI 2020, section 3.2, eqs. 8-11), on
:func:`torchvision.ops.complete_box_iou_loss`.

``L = 1 - IoU + rho**2 / c**2 + alpha * v`` with the aspect-ratio term
``v = 4 / pi**2 * (atan(w_gt / h_gt) - atan(w / h))**2`` and ``alpha = v / ((1 - IoU) + v)``.
As in the paper's reference implementation (and torchvision, detectron2), ``alpha`` is computed
without gradient: it is a trade-off weight, not a term to optimize. The gradient is therefore
that of ``1 - IoU + rho**2 / c**2 + alpha_0 * v`` with ``alpha_0`` held at its current value,
not the derivative of the loss value itself (a plain ``gradcheck`` does not apply).
Boxes need positive heights (``w / h``).
"""
from __future__ import annotations

from torch import Tensor
from torchvision.ops import complete_box_iou_loss

from registry import LOSSES
from zoo.api import IOU_EPS, BoxIoULossBase

__all__ = ['CIoULoss']


@LOSSES.register_module()
class CIoULoss(BoxIoULossBase):
    """CIoU loss of matched box pairs, eps 1e-7.

    Args:
        reduction: 'mean' | 'sum' | 'none'.
        loss_weight: factor on the reduced loss.

    Attributes:
        loss_kind = 'regression'; takes_decoded_boxes = True.

    Shapes and errors: see :class:`~zoo.api.BoxIoULossBase`.
    """

    def box_loss(self, pred: Tensor, target: Tensor) -> Tensor:
        return complete_box_iou_loss(pred, target, reduction='none', eps=IOU_EPS)
