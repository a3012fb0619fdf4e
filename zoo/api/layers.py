"""Layers shared by parts: darknet's convolution block and the normalization it takes.

Sources: darknet's ``[convolutional]`` layer (``batch_normalize=1, activation=leaky``; Redmon &
Farhadi, "YOLOv3: An Incremental Improvement", 2018, table 1) and group normalization (Wu & He,
"Group Normalization", ECCV 2018).
"""
from __future__ import annotations

from torch import nn

__all__ = ['NORMS', 'ConvNormAct', 'make_norm']

NORMS = ('bn', 'gn')


def make_norm(norm: str, channels: int) -> nn.Module:
    """A normalization layer for ``channels`` channels.

    ``'bn'``: :class:`torch.nn.BatchNorm2d` (darknet's); ``'gn'``: :class:`torch.nn.GroupNorm`
    with 32 groups, or the largest divisor of ``channels`` below 32 (for batches of 1-2 images,
    where batch statistics are noise: Wu & He, "Group Normalization", ECCV 2018).

    Raises:
        ValueError: ``norm`` is neither.
    """
    if norm == 'bn':
        return nn.BatchNorm2d(channels)
    if norm == 'gn':
        groups = max(g for g in range(1, 33) if channels % g == 0)
        return nn.GroupNorm(groups, channels)
    raise ValueError(f'norm must be one of {NORMS}, got {norm!r}')


class ConvNormAct(nn.Sequential):
    """Convolution (no bias), normalization, LeakyReLU(0.1): darknet's ``[convolutional]`` with
    ``batch_normalize=1, activation=leaky``. Padding ``kernel_size // 2`` keeps the size at
    stride 1 and halves it (rounding up) at stride 2.

    Shapes: (B, in_channels, H, W) -> (B, out_channels, ceil(H / stride), ceil(W / stride)).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                 norm: str = 'bn'):
        super().__init__(
            nn.Conv2d(in_channels, out_channels, kernel_size, stride, kernel_size // 2, bias=False),
            make_norm(norm, out_channels),
            nn.LeakyReLU(0.1, inplace=True))
