"""The base classes of losses: element-wise weighting and reduction shared by every loss, with
mmdet's semantics (:class:`WeightedLoss`), and the input handling of the IoU family
(:class:`BoxIoULossBase`).

Every loss computes an element-wise loss, then (mmdet ``mmdet/models/losses/utils.py``,
``weight_reduce_loss``):

1. multiplies it by ``weight`` (same shape as the element-wise loss, or (N,) broadcast over the
   trailing dimensions: one weight per sample);
2. reduces it: ``'none'`` keeps it, ``'sum'`` sums, ``'mean'`` averages over all elements, or,
   given ``avg_factor``, divides the sum by ``avg_factor + eps`` (``eps`` = float32 machine
   epsilon, so ``avg_factor = 0`` with a zero sum gives 0, not NaN). ``avg_factor`` is how heads
   normalize by the number of sampled anchors/RoIs or of positives rather than by the number of
   elements. ``avg_factor`` with ``'sum'`` is refused;
3. multiplies by ``loss_weight``.

An empty input (no elements) reduces to a zero that keeps the autograd graph (``loss.sum()``),
instead of the NaN of an empty mean.
"""
from __future__ import annotations

import math
from abc import ABCMeta, abstractmethod
from typing import ClassVar, Optional, Union

import torch
from torch import Tensor, nn

from .precision import force_fp32

__all__ = ['REDUCTIONS', 'BoxIoULossBase', 'check_reduction', 'weight_reduce_loss', 'WeightedLoss']

REDUCTIONS = ('mean', 'sum', 'none')
_EPS = torch.finfo(torch.float32).eps


def check_reduction(owner: str, reduction: str) -> str:
    """``reduction`` if it is one of 'mean', 'sum', 'none'.

    Raises:
        ValueError: any other value.
    """
    if reduction not in REDUCTIONS:
        raise ValueError(f'{owner}: reduction must be one of {REDUCTIONS}, got {reduction!r}')
    return reduction


def weight_reduce_loss(loss: Tensor, weight: Optional[Tensor] = None, reduction: str = 'mean',
                       avg_factor: Optional[Union[float, Tensor]] = None,
                       owner: str = 'loss') -> Tensor:
    """Weight an element-wise loss and reduce it (see the module docstring).

    Args:
        loss: element-wise loss, (N, ...).
        weight: None, the same shape as ``loss``, or (N,) (one weight per sample).
        reduction: 'mean', 'sum' or 'none'.
        avg_factor: with 'mean', the divisor of the sum (instead of the number of elements).
        owner: the loss's name, for messages.

    Returns:
        A scalar tensor ('mean', 'sum'), or the weighted element-wise loss ('none').

    Raises:
        ValueError: ``weight`` of another shape; ``avg_factor`` given with 'sum'.
    """
    check_reduction(owner, reduction)
    if weight is not None:
        if weight.shape != loss.shape:
            if weight.dim() == 1 and loss.dim() >= 1 and weight.shape[0] == loss.shape[0]:
                weight = weight.reshape((-1,) + (1,) * (loss.dim() - 1))
            else:
                raise ValueError(f'{owner}: weight must have the shape of the element-wise loss '
                                 f'{tuple(loss.shape)} or (N,) = ({loss.shape[0] if loss.dim() else 0},),'
                                 f' got {tuple(weight.shape)}')
        loss = loss * weight
    if avg_factor is not None and reduction == 'sum':
        raise ValueError(f'{owner}: avg_factor ({avg_factor!r}) cannot be used with reduction="sum"; '
                         'use reduction="mean" to divide the sum by avg_factor')
    if reduction == 'none':
        return loss
    if loss.numel() == 0 or reduction == 'sum':
        return loss.sum()
    if avg_factor is None:
        return loss.mean()
    return loss.sum() / (avg_factor + _EPS)


class WeightedLoss(nn.Module, metaclass=ABCMeta):
    """Base of the zoo's losses: ``reduction``, ``loss_weight`` and the common ``forward``.

    Subclasses implement ``elementwise(pred, target) -> Tensor`` (checking their inputs and
    raising ValueError on bad shapes) and set the class attributes below.

    Class attributes:
        loss_kind: ``'classification'`` or ``'regression'``; heads check that a loss fits.
        takes_decoded_boxes: regression losses only: False for losses on regression deltas
            (SmoothL1, L1, MSE), True for losses on decoded ``x1, y1, x2, y2`` boxes (IoU family).

    Args:
        reduction: 'mean', 'sum' or 'none'.
        loss_weight: factor applied to the reduced loss (a finite number >= 0).

    Raises:
        ValueError: unknown ``reduction`` or a ``loss_weight`` that is not a finite number >= 0.
    """

    loss_kind: ClassVar[str] = ''
    takes_decoded_boxes: ClassVar[Optional[bool]] = None

    def __init__(self, reduction: str = 'mean', loss_weight: float = 1.0):
        super().__init__()
        name = type(self).__name__
        self.reduction = check_reduction(name, reduction)
        if (isinstance(loss_weight, bool) or not isinstance(loss_weight, (int, float))
                or not math.isfinite(loss_weight) or loss_weight < 0):
            raise ValueError(f'{name}: loss_weight must be a finite number >= 0, got {loss_weight!r}')
        self.loss_weight = float(loss_weight)

    @abstractmethod
    def elementwise(self, pred: Tensor, target: Tensor) -> Tensor:
        """The unreduced loss of each element (subclasses define it)."""

    def prepare_weight(self, weight: Optional[Tensor], loss: Tensor) -> Optional[Tensor]:
        """Hook to adapt ``weight`` to the element-wise loss (IoU losses average (N, 4) weights)."""
        return weight

    @force_fp32
    def forward(self, pred: Tensor, target: Tensor, weight: Optional[Tensor] = None,
                avg_factor: Optional[Union[float, Tensor]] = None,
                reduction_override: Optional[str] = None) -> Tensor:
        """The weighted, reduced loss times ``loss_weight``.

        Args:
            pred, target: see the subclass.
            weight: element-wise weights (the element-wise loss's shape) or (N,) per sample.
            avg_factor: with reduction 'mean', divide the sum by this instead of the count.
            reduction_override: 'mean', 'sum' or 'none' for this call only (mmdet's argument).

        Returns:
            Scalar tensor, or the element-wise loss with reduction 'none'.

        Raises:
            ValueError: bad shapes/dtypes (see the subclass), ``weight`` of another shape,
                ``avg_factor`` with 'sum', an unknown ``reduction_override``.
        """
        name = type(self).__name__
        reduction = self.reduction if reduction_override is None else \
            check_reduction(name, reduction_override)
        loss = self.elementwise(pred, target)
        loss = weight_reduce_loss(loss, self.prepare_weight(weight, loss), reduction, avg_factor, name)
        return self.loss_weight * loss

    def extra_repr(self) -> str:
        return f'reduction={self.reduction!r}, loss_weight={self.loss_weight}'


class BoxIoULossBase(WeightedLoss):
    """Common input handling of the IoU-family losses on decoded boxes.

    Shapes (forward):
        ``pred``, ``target``: float (..., 4) boxes ``x1, y1, x2, y2`` in pixels (usually (N, 4)),
        with ``x2 >= x1`` and ``y2 >= y1``; ``weight`` (N,) (or the box shape (N, 4), averaged
        over the last dim as in mmdet). Element-wise loss (N,); result a scalar (unitless).
        float16/bfloat16 boxes are computed in float32 (areas of pixel boxes overflow float16).

    Raises:
        ValueError: ``pred`` not (..., 4), or ``target`` of another shape; plus those of
            :class:`WeightedLoss`.
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
