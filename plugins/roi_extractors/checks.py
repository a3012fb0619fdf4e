"""Argument and input checks shared by the RoI layers (shapes only: no device synchronization)."""
from __future__ import annotations

from torch import Tensor

__all__ = ['check_output_size', 'check_feat_rois']


def check_output_size(owner: str, output_size) -> int:
    """``output_size`` as a positive int S (outputs are S x S).

    Raises:
        ValueError: not a positive int.
    """
    if isinstance(output_size, bool) or not isinstance(output_size, int) or output_size <= 0:
        raise ValueError(f'{owner}: output_size must be a positive int S (S x S bins), '
                         f'got {output_size!r}')
    return output_size


def check_feat_rois(owner: str, feat: Tensor, rois: Tensor) -> None:
    """Check ``feat`` (B, C, H, W) and ``rois`` (K, 5) floating point.

    Raises:
        ValueError: naming the offending shape or dtype.
    """
    if feat.dim() != 4:
        raise ValueError(f'{owner}: feat must be (B, C, H, W), got shape {tuple(feat.shape)}')
    if rois.dim() != 2 or rois.shape[1] != 5:
        raise ValueError(f'{owner}: rois must be (K, 5) [batch_index, x1, y1, x2, y2], got shape '
                         f'{tuple(rois.shape)}')
    if not rois.is_floating_point():
        raise ValueError(f'{owner}: rois must be floating point, got {rois.dtype}')
