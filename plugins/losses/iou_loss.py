"""IoU loss on decoded boxes, and the base of the IoU-family losses (IoU, GIoU, DIoU, CIoU).

``IoULoss``: ``1 - IoU(pred_i, target_i)`` for matched pairs (element-wise, not pairwise), the
linear IoU loss (UnitBox, Yu et al. 2016, uses ``-ln IoU``; the ``1 - IoU`` form is the one GIoU,
Rezatofighi et al. CVPR 2019, section 3, generalizes). ``IoU = inter / (union + eps)``, eps 1e-7
(torchvision's box losses use the same), boxes ``x1, y1, x2, y2`` with no "+1". Its gradient is
zero for disjoint boxes; GIoU/DIoU/CIoU add penalties that are not.
"""
from __future__ import annotations

from torch import Tensor

from registry import LOSSES
from zoo.api import BoxIoULossBase, paired_iou

__all__ = ['IoULoss']


@LOSSES.register_module()
class IoULoss(BoxIoULossBase):
    """``1 - IoU`` of matched box pairs (see the module docstring).

    Args:
        reduction: 'mean' | 'sum' | 'none'.
        loss_weight: factor on the reduced loss.

    Attributes:
        loss_kind = 'regression'; takes_decoded_boxes = True.

    Shapes and errors: see :class:`BoxIoULossBase`. Values in [0, 1].
    """

    def box_loss(self, pred: Tensor, target: Tensor) -> Tensor:
        return 1 - paired_iou(pred, target)
