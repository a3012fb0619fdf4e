"""The neck of YOLOv3: detection blocks and the top-down path with upsampling and concatenation.

Source: Redmon & Farhadi, "YOLOv3: An Incremental Improvement", 2018, section 2.3 ("Predictions
Across Scales": take the feature map from 2 layers previous, upsample it by 2, concatenate it
with a map from earlier in the network, add a few convolutional layers); layers from darknet's
``yolov3.cfg`` (``route``/``upsample``), structured as mmdet's ``YOLOV3Neck`` and
``DetectionBlock``, but ordered finest level first like every feature list of the zoo.

For levels ``0 .. L-1`` (finest first, strides ``s_0 < ... < s_{L-1}``, each twice the last)::

    out[L-1] = DetectionBlock(in[L-1])
    out[i]   = DetectionBlock(concat(upsample(Conv1x1(out[i+1])), in[i]))     i = L-2 .. 0

A DetectionBlock is five convolutions: 1x1 to ``c``, 3x3 to ``2c``, 1x1 to ``c``, 3x3 to
``2c``, 1x1 to ``c`` (each without bias, then normalization and LeakyReLU(0.1)); the 1x1 before
an upsampling maps ``out_channels[i+1]`` to ``out_channels[i]``. Upsampling is nearest-neighbour to
the size of ``in[i]`` (a factor of 2 when the input is a multiple of the coarsest stride).

YOLOv3-SPP (``spp_kernel_sizes=(5, 9, 13)``; darknet's ``yolov3-spp.cfg``): the coarsest level's
block becomes 1x1 ``c``, 3x3 ``2c``, 1x1 ``c``, :class:`~plugins.necks.spp.SPP` (``4c``), 1x1
``c``, 3x3 ``2c``, 1x1 ``c``: the pools sit between the third and fourth convolutions of the first
detection branch.
"""
from __future__ import annotations

from typing import Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from registry import NECKS, Requires
from zoo.api import NORMS, ConvNormAct

from .spp import SPP

__all__ = ['DetectionBlock', 'YOLOV3Neck']


class DetectionBlock(nn.Sequential):
    """Five convolutions 1x1/3x3/1x1/3x3/1x1 (YOLOv3's ``yolov3.cfg``; mmdet's name); with
    ``spp_kernel_sizes``, 1x1/3x3/1x1, :class:`SPP`, 1x1/3x3/1x1 (``yolov3-spp.cfg``).

    Shapes: (B, in_channels, H, W) -> (B, out_channels, H, W).
    """

    def __init__(self, in_channels: int, out_channels: int, norm: str = 'bn',
                 spp_kernel_sizes: Optional[Sequence[int]] = None):
        c = out_channels
        if spp_kernel_sizes is None:
            super().__init__(ConvNormAct(in_channels, c, 1, norm=norm),
                             ConvNormAct(c, 2 * c, 3, norm=norm), ConvNormAct(2 * c, c, 1, norm=norm),
                             ConvNormAct(c, 2 * c, 3, norm=norm), ConvNormAct(2 * c, c, 1, norm=norm))
            return
        spp = SPP(spp_kernel_sizes)
        super().__init__(ConvNormAct(in_channels, c, 1, norm=norm),
                         ConvNormAct(c, 2 * c, 3, norm=norm), ConvNormAct(2 * c, c, 1, norm=norm),
                         spp, ConvNormAct(spp.expansion * c, c, 1, norm=norm),
                         ConvNormAct(c, 2 * c, 3, norm=norm), ConvNormAct(2 * c, c, 1, norm=norm))


def _positive_ints(name: str, value) -> tuple[int, ...]:
    if (not isinstance(value, Sequence) or isinstance(value, str) or not value
            or any(not isinstance(v, int) or isinstance(v, bool) or v <= 0 for v in value)):
        raise ValueError(f'YOLOV3Neck: {name} must be a non-empty list of positive ints, one per '
                         f'level (finest first), got {value!r}')
    return tuple(value)


@NECKS.register_module()
class YOLOV3Neck(nn.Module):
    """YOLOv3's multi-scale neck (see the module docstring).

    Args:
        in_channels: channels of each input level, finest first (Darknet-53 with
            ``out_indices=(3, 4, 5)``: ``[256, 512, 1024]``); must equal the backbone's
            ``out_channels``. A detector passes them as a default.
        out_channels: channels of each output level, finest first (darknet/mmdet:
            ``[128, 256, 512]``, i.e. half the inputs).
        in_strides: strides of the input levels, each twice the one before (Darknet: 8, 16, 32);
            must equal the backbone's ``strides``. A detector passes them as a default.
        norm: ``'bn'`` or ``'gn'`` (see :func:`zoo.api.make_norm`).
        spp_kernel_sizes: None (YOLOv3), or the pool sizes of an :class:`SPP` block in the
            coarsest level's detection block (YOLOv3-SPP: ``[5, 9, 13]``; odd positive ints).

    Attributes:
        in_channels, in_strides: as given (tuples); ``out_channels``; ``strides`` = ``in_strides``;
        ``spp_kernel_sizes`` (a tuple, or None).
        detect (nn.ModuleList): the detection block of each level, finest first.
        lateral (nn.ModuleList): the 1x1 convolution before each upsampling; ``lateral[i]`` maps
            ``out_channels[i + 1]`` to ``out_channels[i]`` (L - 1 of them).

    Shapes:
        forward: per level (B, in_channels[i], H_i, W_i), finest first -> tuple of
        (B, out_channels[i], H_i, W_i).

    Raises:
        ValueError: ``in_channels``/``out_channels``/``in_strides`` not lists of positive ints of
            one length; ``in_strides`` missing, or not each twice the one before; unknown
            ``norm``; ``spp_kernel_sizes`` not odd positive ints; at forward, a number of levels
            or channel count other than ``in_channels``.
    """

    def __init__(self, in_channels: Sequence[int], out_channels: Sequence[int] = (128, 256, 512),
                 in_strides: Optional[Sequence[int]] = None, norm: str = 'bn',
                 spp_kernel_sizes: Optional[Sequence[int]] = None):
        super().__init__()
        self.in_channels = _positive_ints('in_channels', in_channels)
        self.out_channels = _positive_ints('out_channels', out_channels)
        if in_strides is None:
            raise ValueError("YOLOV3Neck: in_strides is None; it must list the strides of the input "
                             "levels (the backbone's `strides`; a detector passes them as a default "
                             "argument, a standalone neck needs them in its config)")
        self.in_strides = _positive_ints('in_strides', in_strides)
        if not len(self.in_channels) == len(self.out_channels) == len(self.in_strides):
            raise ValueError(f'YOLOV3Neck: in_channels {list(self.in_channels)}, out_channels '
                             f'{list(self.out_channels)} and in_strides {list(self.in_strides)} '
                             'must have one entry per level')
        if any(b != 2 * a for a, b in zip(self.in_strides, self.in_strides[1:])):
            raise ValueError(f'YOLOV3Neck: each input stride must be twice the one before (the '
                             f'top-down path upsamples by 2), got in_strides {list(self.in_strides)}')
        if norm not in NORMS:
            raise ValueError(f'YOLOV3Neck: norm must be one of {NORMS}, got {norm!r}')
        self.strides = self.in_strides
        n = len(self.in_channels)
        ins, outs = self.in_channels, self.out_channels
        if spp_kernel_sizes is not None:
            try:
                spp_kernel_sizes = SPP(spp_kernel_sizes).kernel_sizes
            except ValueError as e:
                raise ValueError(f'YOLOV3Neck: spp_kernel_sizes: {e}') from e
        self.spp_kernel_sizes = spp_kernel_sizes
        self.detect = nn.ModuleList(
            DetectionBlock(ins[i] + (outs[i] if i < n - 1 else 0), outs[i], norm,
                           spp_kernel_sizes if i == n - 1 else None) for i in range(n))
        self.lateral = nn.ModuleList(ConvNormAct(outs[i + 1], outs[i], 1, norm=norm)
                                     for i in range(n - 1))

    def consumes(self) -> list[Requires]:
        """What the producer (backbone) must provide: exactly these channels and strides."""
        return [Requires('in_channels', list(self.in_channels), 'channels', 'equal'),
                Requires('in_strides', list(self.in_strides), 'strides', 'equal')]

    def forward(self, feats: Sequence[Tensor]) -> tuple[Tensor, ...]:
        if len(feats) != len(self.in_channels) or \
                [f.shape[1] for f in feats] != list(self.in_channels):
            raise ValueError(f'YOLOV3Neck got features with channels {[f.shape[1] for f in feats]}, '
                             f'expected in_channels {list(self.in_channels)}')
        n = len(feats)
        outs: list[Optional[Tensor]] = [None] * n
        outs[-1] = self.detect[-1](feats[-1])
        for i in range(n - 2, -1, -1):
            up = F.interpolate(self.lateral[i](outs[i + 1]), size=feats[i].shape[-2:], mode='nearest')
            outs[i] = self.detect[i](torch.cat((up, feats[i]), 1))
        return tuple(outs)
