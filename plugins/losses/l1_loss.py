"""L1 loss on regression deltas, ``|pred - target|`` element-wise (mmdet's ``L1Loss``; used with
GIoU in DETR-style heads and as the beta -> 0 limit of Smooth L1)."""
from __future__ import annotations

from typing import ClassVar

import torch.nn.functional as F
from torch import Tensor

from registry import LOSSES
from zoo.api import WeightedLoss

__all__ = ['L1Loss']


@LOSSES.register_module()
class L1Loss(WeightedLoss):
    """L1 loss.

    Args:
        reduction: 'mean' | 'sum' | 'none'.
        loss_weight: factor on the reduced loss.

    Attributes:
        loss_kind = 'regression'; takes_decoded_boxes = False.

    Shapes (forward):
        ``pred``, ``target`` of one shape (usually (N, 4) deltas); ``weight`` the same shape or
        (N,). Result: scalar in the units of ``pred``.

    Raises:
        ValueError: ``pred`` and ``target`` of different shapes; plus those of
            :class:`~zoo.api.WeightedLoss`.
    """

    loss_kind: ClassVar[str] = 'regression'
    takes_decoded_boxes: ClassVar[bool] = False

    def elementwise(self, pred: Tensor, target: Tensor) -> Tensor:
        if pred.shape != target.shape:
            raise ValueError(f'L1Loss: pred {tuple(pred.shape)} and target {tuple(target.shape)} '
                             'must have the same shape')
        return F.l1_loss(pred, target.to(pred.dtype), reduction='none')
