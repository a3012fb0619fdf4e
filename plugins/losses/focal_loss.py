"""Sigmoid focal loss (Lin et al., "Focal Loss for Dense Object Detection", ICCV 2017, eq. 5),
on :func:`torchvision.ops.sigmoid_focal_loss`.

``FL(p_t) = -alpha_t (1 - p_t) ** gamma log(p_t)`` per class and sample, with ``p_t = p`` for a
positive target and ``1 - p`` otherwise, ``alpha_t = alpha`` for positives and ``1 - alpha`` for
negatives. The paper's defaults: gamma = 2, alpha = 0.25; the paper normalizes the sum by the
number of positive anchors (pass it as ``avg_factor``).
"""
from __future__ import annotations

from typing import ClassVar

from torch import Tensor
from torchvision.ops import sigmoid_focal_loss

from registry import LOSSES
from zoo.api import WeightedLoss, binary_targets

__all__ = ['FocalLoss']


@LOSSES.register_module()
class FocalLoss(WeightedLoss):
    """Sigmoid focal loss over C foreground classes.

    Args:
        use_sigmoid: must be True (only the sigmoid form exists; the argument is mmdet's).
        gamma: focusing exponent >= 0 (0 gives alpha-weighted BCE).
        alpha: weight of positives in [0, 1], or -1 for no alpha weighting (torchvision).
        reduction: 'mean' | 'sum' | 'none'.
        loss_weight: factor on the reduced loss.

    Attributes:
        use_sigmoid (True), gamma, alpha; loss_kind = 'classification'.

    Shapes (forward):
        ``pred`` (N, C) logits; ``target`` int (N,) labels in 0 .. C with C = background (an
        all-zero target row, as sigmoid :class:`CrossEntropyLoss`), or float (N, C) in [0, 1];
        ``weight`` (N,) or (N, C). Element-wise loss (N, C); result a scalar (nats).

    Raises:
        ValueError: ``use_sigmoid`` False, ``gamma`` < 0, ``alpha`` outside [0, 1] and not -1,
            bad shapes (see :func:`zoo.api.binary_targets`), plus those of
            :class:`~zoo.api.WeightedLoss`.
    """

    loss_kind: ClassVar[str] = 'classification'

    def __init__(self, use_sigmoid: bool = True, gamma: float = 2.0, alpha: float = 0.25,
                 reduction: str = 'mean', loss_weight: float = 1.0):
        super().__init__(reduction=reduction, loss_weight=loss_weight)
        if not use_sigmoid:
            raise ValueError('FocalLoss: use_sigmoid must be True; only the sigmoid focal loss '
                             'is implemented (RetinaNet, eq. 5)')
        if isinstance(gamma, bool) or not isinstance(gamma, (int, float)) or gamma < 0:
            raise ValueError(f'FocalLoss: gamma must be a number >= 0, got {gamma!r}')
        if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or \
                not (0 <= alpha <= 1 or alpha == -1):
            raise ValueError(f'FocalLoss: alpha must be in [0, 1], or -1 for no weighting, got {alpha!r}')
        self.use_sigmoid = True
        self.gamma = float(gamma)
        self.alpha = float(alpha)

    def elementwise(self, pred: Tensor, target: Tensor) -> Tensor:
        targets = binary_targets('FocalLoss', pred, target)
        return sigmoid_focal_loss(pred, targets, alpha=self.alpha, gamma=self.gamma, reduction='none')

    def extra_repr(self) -> str:
        return f'gamma={self.gamma}, alpha={self.alpha}, ' + super().extra_repr()
