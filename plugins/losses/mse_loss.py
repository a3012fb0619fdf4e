"""Squared-error loss, ``(pred - target) ** 2`` element-wise (YOLOv1, Redmon et al. 2016,
section 2.2, sums squared errors of coordinates and confidences)."""
from __future__ import annotations

from typing import ClassVar

import torch.nn.functional as F
from torch import Tensor

from registry import LOSSES
from zoo.api import WeightedLoss

__all__ = ['MSELoss']


@LOSSES.register_module()
class MSELoss(WeightedLoss):
    """Mean (or summed) squared error.

    Args:
        reduction: 'mean' | 'sum' | 'none' (YOLOv1 uses 'sum' with per-term ``loss_weight``
            lambda_coord = 5 and lambda_noobj = 0.5 as ``weight``).
        loss_weight: factor on the reduced loss.

    Attributes:
        loss_kind = 'regression'; takes_decoded_boxes = False (it compares whatever encoding the
        head regresses, e.g. YOLO's offsets).

    Shapes (forward):
        ``pred``, ``target`` of one shape; ``weight`` the same shape or (N,). Result: scalar in
        squared units of ``pred``.

    Raises:
        ValueError: ``pred`` and ``target`` of different shapes; plus those of
            :class:`~zoo.api.WeightedLoss`.
    """

    loss_kind: ClassVar[str] = 'regression'
    takes_decoded_boxes: ClassVar[bool] = False

    def elementwise(self, pred: Tensor, target: Tensor) -> Tensor:
        if pred.shape != target.shape:
            raise ValueError(f'MSELoss: pred {tuple(pred.shape)} and target {tuple(target.shape)} '
                             'must have the same shape')
        return F.mse_loss(pred, target.to(pred.dtype), reduction='none')
