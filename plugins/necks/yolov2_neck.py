"""The neck of YOLOv2: the passthrough layer, which stacks the finer map's neighbouring cells into
channels (reorg) and concatenates them with the coarse map.

Source: Redmon & Farhadi, "YOLO9000: Better, Faster, Stronger", CVPR 2017, section "Better",
"Fine-Grained Features": "The passthrough layer concatenates the higher resolution features with
the low resolution features by stacking adjacent features into different channels instead of
spatial locations, similar to the identity mappings in ResNet. This turns the 26 x 26 x 512
feature map into a 13 x 13 x 2048 feature map"; section "Training for detection": three 3 x 3
convolutions of 1024 after the backbone, the passthrough from the final 3 x 3 x 512 layer. The
layers follow darknet's ``yolo-voc.cfg`` / ``yolov2.cfg`` (which first reduce the 512 channels to
64 with a 1x1 convolution, so the passthrough adds 256 channels, not 2048)::

    coarse = Conv3x3(Conv3x3(in[1]))                  # (B, 1024, 13, 13)
    fine   = Reorg(Conv1x1(in[0]))                    # (B, 64, 26, 26) -> (B, 256, 13, 13)
    out    = concat(fine, coarse)                     # (B, 1280, 13, 13); darknet's route -1 -4

The third 3x3 convolution of the paper, the one on the concatenation, is the YOLOv2 head's
(``YOLOV3Head``'s ``convs_bridge``).

Reorg (space-to-depth, stride ``s``): (B, C, H, W) -> (B, C s^2, H / s, W / s), output channel
``c * s^2 + dy * s + dx`` holding input ``(c, s y + dy, s x + dx)``: the order of
:func:`torch.nn.functional.pixel_unshuffle` (what mmdet's and Ultralytics' space-to-depth layers
give), not darknet's ``reorg_cpu``, which lays the same values out in another channel order. A
fixed permutation of the channels feeding a convolution changes nothing for a network trained
from scratch; it matters only to load darknet's weights, which the zoo does not.
"""
from __future__ import annotations

from typing import Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from registry import NECKS, Requires
from zoo.api import NORMS, ConvNormAct

__all__ = ['Reorg', 'YOLOV2Neck']


class Reorg(nn.Module):
    """YOLOv2's reorg layer (space-to-depth); channel order as the module docstring says.

    Args:
        stride: s, a positive int (YOLOv2: 2).

    Shapes: (B, C, H, W) -> (B, C * s^2, H / s, W / s).

    Raises:
        ValueError: ``stride`` not a positive int; at forward, H or W not a multiple of ``stride``
            (an input padded to a multiple of 32, ``pad_size_divisor=32``, makes the stride-16 map
            even).
    """

    def __init__(self, stride: int = 2):
        super().__init__()
        if not isinstance(stride, int) or isinstance(stride, bool) or stride <= 0:
            raise ValueError(f'Reorg: stride must be a positive int, got {stride!r}')
        self.stride = stride

    def forward(self, x: Tensor) -> Tensor:
        s = self.stride
        if x.dim() != 4 or x.shape[-2] % s or x.shape[-1] % s:
            raise ValueError(f'Reorg (stride {s}) needs a (B, C, H, W) map with H and W multiples of '
                             f'{s}, got {tuple(x.shape)}; pad the input to a multiple of the '
                             "coarsest stride (data_preprocessor's pad_size_divisor)")
        return F.pixel_unshuffle(x, s)


@NECKS.register_module()
class YOLOV2Neck(nn.Module):
    """YOLOv2's passthrough neck (see the module docstring): two levels in, one out.

    Args:
        in_channels: ``[fine, coarse]`` channels (Darknet-19 with ``out_indices=(4, 5)``:
            ``[512, 1024]``); must equal the backbone's ``out_channels``. A detector passes them.
        in_strides: ``[s, 2 s]`` (Darknet-19: ``[16, 32]``); must equal the backbone's ``strides``.
        feat_channels: channels of the two 3x3 convolutions on the coarse map (YOLOv2: 1024).
        passthrough_channels: channels of the 1x1 convolution before the reorg (darknet: 64).
        norm: ``'bn'`` or ``'gn'`` (see :func:`zoo.api.make_norm`).

    Attributes:
        out_channels: ``(4 * passthrough_channels + feat_channels,)`` (YOLOv2: ``(1280,)``);
        strides: ``(2 s,)``; ``convs`` (the two 3x3), ``passthrough`` (the 1x1), ``reorg``.

    Shapes:
        forward: ``[(B, in_channels[0], 2H, 2W), (B, in_channels[1], H, W)]`` ->
        ``((B, out_channels[0], H, W),)``.

    Raises:
        ValueError: ``in_channels``/``in_strides`` not two positive ints, the second stride not
            twice the first; ``feat_channels``/``passthrough_channels`` not positive ints; unknown
            ``norm``; at forward, other levels or channels than ``in_channels``.
    """

    def __init__(self, in_channels: Sequence[int], in_strides: Optional[Sequence[int]] = None,
                 feat_channels: int = 1024, passthrough_channels: int = 64, norm: str = 'bn'):
        super().__init__()
        self.in_channels = _two_ints('in_channels', in_channels)
        if in_strides is None:
            raise ValueError("YOLOV2Neck: in_strides is None; it must list the strides of the two input "
                             "levels (the backbone's `strides`; a detector passes them as a default "
                             "argument, a standalone neck needs them in its config)")
        self.in_strides = _two_ints('in_strides', in_strides)
        if self.in_strides[1] != 2 * self.in_strides[0]:
            raise ValueError(f'YOLOV2Neck: the coarse stride must be twice the fine one (the reorg '
                             f'has stride 2), got in_strides {list(self.in_strides)}')
        for name, v in (('feat_channels', feat_channels), ('passthrough_channels', passthrough_channels)):
            if not isinstance(v, int) or isinstance(v, bool) or v <= 0:
                raise ValueError(f'YOLOV2Neck: {name} must be a positive int, got {v!r}')
        if norm not in NORMS:
            raise ValueError(f'YOLOV2Neck: norm must be one of {NORMS}, got {norm!r}')
        fine, coarse = self.in_channels
        self.convs = nn.Sequential(ConvNormAct(coarse, feat_channels, 3, norm=norm),
                                   ConvNormAct(feat_channels, feat_channels, 3, norm=norm))
        self.passthrough = ConvNormAct(fine, passthrough_channels, 1, norm=norm)
        self.reorg = Reorg(2)
        self.out_channels = (4 * passthrough_channels + feat_channels,)
        self.strides = (self.in_strides[1],)

    def consumes(self) -> list[Requires]:
        """What the producer (backbone) must provide: exactly these channels and strides."""
        return [Requires('in_channels', list(self.in_channels), 'channels', 'equal'),
                Requires('in_strides', list(self.in_strides), 'strides', 'equal')]

    def forward(self, feats: Sequence[Tensor]) -> tuple[Tensor]:
        if len(feats) != 2 or [f.shape[1] for f in feats] != list(self.in_channels):
            raise ValueError(f'YOLOV2Neck got features with channels {[f.shape[1] for f in feats]}, '
                             f'expected in_channels {list(self.in_channels)}')
        return (torch.cat((self.reorg(self.passthrough(feats[0])), self.convs(feats[1])), 1),)


def _two_ints(name: str, value) -> tuple[int, int]:
    if (not isinstance(value, Sequence) or isinstance(value, str) or len(value) != 2
            or any(not isinstance(v, int) or isinstance(v, bool) or v <= 0 for v in value)):
        raise ValueError(f'YOLOV2Neck: {name} must be two positive ints (the fine level, then the '
                         f'coarse one), got {value!r}')
    return tuple(value)
