"""IoU loss on decoded boxes, and the base of the IoU-family losses (IoU, GIoU, DIoU, CIoU).

``IoULoss``: ``1 - IoU(pred_i, target_i)`` for matched pairs (element-wise, not pairwise), the
linear IoU loss (UnitBox, Yu et al. 2016, uses ``-ln IoU``; the ``1 - IoU`` form is the one GIoU,
Rezatofighi et al. CVPR 2019, section 3, generalizes). ``IoU = inter / (union + eps)``, eps 1e-7
(torchvision's box losses use the same), boxes ``x1, y1, x2, y2`` with no "+1". Its gradient is
zero for disjoint boxes; GIoU/DIoU/CIoU add penalties that are not.
"""
from __future__ import annotations

from abc import abstractmethod
from typing import ClassVar, Optional

import torch
from torch import Tensor

from registry import LOSSES

from .reduction import WeightedLoss

__all__ = ['BoxIoULossBase', 'IoULoss', 'paired_iou']

EPS = 1e-7


def paired_iou(boxes1: Tensor, boxes2: Tensor, eps: float = EPS) -> Tensor:
    """IoU of each pair ``(boxes1[i], boxes2[i])``: (..., 4) x (..., 4) xyxy -> (...,).

    Differentiable; the intersection is clamped at 0 for disjoint boxes.
    """
    lt = torch.max(boxes1[..., :2], boxes2[..., :2])
    rb = torch.min(boxes1[..., 2:], boxes2[..., 2:])
    wh = (rb - lt).clamp(min=0)
    inter = wh[..., 0] * wh[..., 1]
    area1 = (boxes1[..., 2] - boxes1[..., 0]) * (boxes1[..., 3] - boxes1[..., 1])
    area2 = (boxes2[..., 2] - boxes2[..., 0]) * (boxes2[..., 3] - boxes2[..., 1])
    return inter / (area1 + area2 - inter + eps)


class BoxIoULossBase(WeightedLoss):
    """Common input handling of the IoU-family losses on decoded boxes.

    Shapes (forward):
        ``pred``, ``target``: float (..., 4) boxes ``x1, y1, x2, y2`` in pixels (usually (N, 4)),
        with ``x2 >= x1`` and ``y2 >= y1``; ``weight`` (N,) (or the box shape (N, 4), averaged
        over the last dim as in mmdet). Element-wise loss (N,); result a scalar (unitless).
        float16/bfloat16 boxes are computed in float32 (areas of pixel boxes overflow float16).

    Raises:
        ValueError: ``pred`` not (..., 4), or ``target`` of another shape; plus those of
            :class:`~plugins.losses.reduction.WeightedLoss`.
    """

    loss_kind: ClassVar[str] = 'regression'
    takes_decoded_boxes: ClassVar[bool] = True

    @abstractmethod
    def box_loss(self, pred: Tensor, target: Tensor) -> Tensor:
        """The loss of each matched pair of boxes (subclasses define it)."""

    def elementwise(self, pred: Tensor, target: Tensor) -> Tensor:
        name = type(self).__name__
        if pred.dim() < 1 or pred.shape[-1] != 4 or pred.shape != target.shape:
            raise ValueError(f'{name}: pred and target must be boxes (N, 4) x1, y1, x2, y2 of the same '
                             f'shape, got {tuple(pred.shape)} and {tuple(target.shape)}')
        if pred.dtype in (torch.float16, torch.bfloat16):
            pred = pred.float()
        return self.box_loss(pred, target.to(pred.dtype))

    def prepare_weight(self, weight: Optional[Tensor], loss: Tensor) -> Optional[Tensor]:
        if weight is not None and weight.dim() == loss.dim() + 1 and weight.shape[-1] == 4:
            return weight.mean(-1)
        return weight


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
