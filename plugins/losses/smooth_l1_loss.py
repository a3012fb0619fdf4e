"""Smooth L1 loss on regression deltas (Fast R-CNN, Girshick 2015, section 2.3, eq. 3).

``smooth_l1(x) = 0.5 x**2 / beta if |x| < beta else |x| - 0.5 beta``, x = pred - target, element
by element (:func:`torch.nn.functional.smooth_l1_loss`). Fast R-CNN's form is beta = 1. Caffe's
``SmoothL1Loss`` layer of py-faster-rcnn has a ``sigma`` instead:
``0.5 (sigma x)**2 if |x| < 1 / sigma**2 else |x| - 0.5 / sigma**2``, i.e. ``beta = 1 / sigma**2``;
Faster R-CNN's RPN uses sigma = 3, i.e. **beta = 1/9**, and its Fast R-CNN head sigma = 1 (beta 1).
"""
from __future__ import annotations

from typing import ClassVar

import torch.nn.functional as F
from torch import Tensor

from registry import LOSSES
from zoo.api import WeightedLoss

__all__ = ['SmoothL1Loss']


@LOSSES.register_module()
class SmoothL1Loss(WeightedLoss):
    """Smooth L1 (Huber / beta) loss on box deltas.

    Args:
        beta: the transition point >= 0 (0 gives L1). RPN of py-faster-rcnn: 1/9; RoI head: 1.
        reduction: 'mean' | 'sum' | 'none'.
        loss_weight: factor on the reduced loss.

    Attributes:
        beta; loss_kind = 'regression'; takes_decoded_boxes = False (deltas, e.g. of
        ``DeltaXYWHBBoxCoder``).

    Shapes (forward):
        ``pred``, ``target`` of one shape, usually (N, 4) deltas; ``weight`` the same shape or
        (N,). Element-wise loss of that shape; result a scalar in delta units.

    Raises:
        ValueError: ``beta`` < 0; ``pred`` and ``target`` of different shapes; plus those of
            :class:`~zoo.api.WeightedLoss`.
    """

    loss_kind: ClassVar[str] = 'regression'
    takes_decoded_boxes: ClassVar[bool] = False

    def __init__(self, beta: float = 1.0, reduction: str = 'mean', loss_weight: float = 1.0):
        super().__init__(reduction=reduction, loss_weight=loss_weight)
        if isinstance(beta, bool) or not isinstance(beta, (int, float)) or beta < 0:
            raise ValueError(f'SmoothL1Loss: beta must be a number >= 0 (py-faster-rcnn sigma = '
                             f'1/sqrt(beta)), got {beta!r}')
        self.beta = float(beta)

    def elementwise(self, pred: Tensor, target: Tensor) -> Tensor:
        if pred.shape != target.shape:
            raise ValueError(f'SmoothL1Loss: pred {tuple(pred.shape)} and target {tuple(target.shape)} '
                             'must have the same shape')
        return F.smooth_l1_loss(pred, target.to(pred.dtype), beta=self.beta, reduction='none')

    def extra_repr(self) -> str:
        return f'beta={self.beta}, ' + super().extra_repr()
