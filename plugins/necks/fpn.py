"""Feature Pyramid Network (Lin et al., CVPR 2017), on torchvision's FeaturePyramidNetwork.

Paper section 3 ("top-down pathway and lateral connections"): a 1x1 lateral conv per input level,
nearest-neighbour upsampling of the coarser merged map added to it, and a 3x3 output conv per
level, all with ``out_channels`` channels (256 in the paper); section 4.1 adds P6 as a
stride-2 subsampling of P5 for the RPN. That is torchvision's
:class:`~torchvision.ops.FeaturePyramidNetwork` with
:class:`~torchvision.ops.feature_pyramid_network.LastLevelMaxPool` (a ``max_pool2d`` with kernel 1,
stride 2), as used by torchvision's ``fasterrcnn_resnet50_fpn``.

RetinaNet's pyramid (Lin et al., "Focal Loss for Dense Object Detection", ICCV 2017, sec. 4,
"Feature Pyramid Network Backbone"; ``extra_convs``): P3-P5 from C3-C5, then P6 by a 3x3
stride-2 convolution on C5 (``'on_input'``; on P5 with ``'on_output'``) and P7 by ReLU and a 3x3
stride-2 convolution on P6: torchvision's
:class:`~torchvision.ops.feature_pyramid_network.LastLevelP6P7` (mmdet's ``add_extra_convs``
spelling), its convolutions at ``fpn.extra_blocks.p6`` and ``fpn.extra_blocks.p7``.

State-dict layout: the torchvision module is ``self.fpn``, so the keys are
``fpn.inner_blocks.{i}.0.{weight,bias}`` (laterals) and ``fpn.layer_blocks.{i}.0.{weight,bias}``
(3x3 outputs); torchvision's ``fasterrcnn_resnet50_fpn`` keys ``backbone.fpn.<k>`` map to
``neck.fpn.<k>`` of a detector whose neck is at ``neck`` (prefix ``backbone.`` -> ``neck.``).
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Optional, Sequence

from torch import Tensor, nn
from torchvision.ops import FeaturePyramidNetwork
from torchvision.ops.feature_pyramid_network import LastLevelMaxPool, LastLevelP6P7

from registry import NECKS, Requires

__all__ = ['FPN']

#: the values of ``FPN.extra_convs``: where P6 is computed from (RetinaNet's P6 and P7).
EXTRA_CONVS = ('on_input', 'on_output')


def _positive_ints(name: str, value, what: str) -> tuple[int, ...]:
    if (not isinstance(value, Sequence) or isinstance(value, str) or not value
            or any(not isinstance(v, int) or isinstance(v, bool) or v <= 0 for v in value)):
        raise ValueError(f'FPN: {name} must be a non-empty list of positive ints ({what}), '
                         f'got {value!r}')
    return tuple(value)


@NECKS.register_module()
class FPN(nn.Module):
    """FPN over a backbone's levels (C2-C5 -> P2-P5, plus P6 by subsampling).

    Args:
        in_channels: channels of each input level, finest first (ResNet-50: [256, 512, 1024,
            2048]); must equal the backbone's ``out_channels``.
        out_channels: channels of every output level (paper: 256).
        in_strides: strides of the input levels, finest first (ResNet: [4, 8, 16, 32]); must
            equal the backbone's ``strides``. Usually not written in a config: the detector
            passes the backbone's ``strides`` as a default argument when it builds the neck.
            The neck needs them to report its own ``strides``.
        add_extra_max_pool: append P6 = max_pool2d(P5, kernel 1, stride 2) (torchvision's
            ``LastLevelMaxPool``; paper section 4.1), at stride ``2 * in_strides[-1]``.
            Default (None): True, unless ``extra_convs`` is given.
        extra_convs: None (default), or RetinaNet's two extra levels: ``'on_input'`` P6 = 3x3
            stride-2 conv of the last input (C5, the RetinaNet paper's), ``'on_output'`` of P5
            (torchvision's ``retinanet_resnet50_fpn`` v1); then P7 = 3x3 stride-2 conv of
            ReLU(P6). Strides ``2 * in_strides[-1]`` and ``4 * in_strides[-1]``.

    Attributes:
        fpn: the :class:`torchvision.ops.FeaturePyramidNetwork` (see the module docstring for
            its state-dict keys).
        in_channels, in_strides: as given (tuples).
        out_channels: ``(out_channels,) * num_outputs``.
        strides: ``in_strides`` (+ ``(2 * in_strides[-1],)`` with the extra level, or
            ``(2 * s, 4 * s)`` with ``extra_convs``); ResNet: (4, 8, 16, 32, 64); RetinaNet on
            C3-C5: (8, 16, 32, 64, 128).

    Shapes:
        forward: ``feats``, a tuple/list of (B, in_channels[i], H_i, W_i), finest first ->
        tuple of (B, out_channels, H_i, W_i) (+ (B, out_channels, ceil(H_3 / 2), ceil(W_3 / 2));
        with ``extra_convs`` two levels, each half the last one's size, rounded up).

    Raises:
        ValueError: ``in_channels``/``in_strides`` not lists of positive ints, of different
            lengths, or strides not increasing; ``in_strides`` missing (None); ``extra_convs``
            not None or one of :data:`EXTRA_CONVS`, or given with ``add_extra_max_pool=True``;
            at forward, a number of levels or a channel count other than ``in_channels``.
    """

    def __init__(self, in_channels: Sequence[int], out_channels: int = 256,
                 in_strides: Optional[Sequence[int]] = None, add_extra_max_pool: Optional[bool] = None,
                 extra_convs: Optional[str] = None):
        super().__init__()
        self.in_channels = _positive_ints('in_channels', in_channels, 'one per input level')
        if in_strides is None:
            raise ValueError('FPN: in_strides is None; it must list the strides of the input levels '
                             '(the backbone\'s `strides`; a detector passes them as a default '
                             'argument, a standalone FPN needs them in its config)')
        self.in_strides = _positive_ints('in_strides', in_strides, 'one per input level')
        if len(self.in_strides) != len(self.in_channels):
            raise ValueError(f'FPN: in_strides {list(self.in_strides)} and in_channels '
                             f'{list(self.in_channels)} must have one entry per input level')
        if any(b <= a for a, b in zip(self.in_strides, self.in_strides[1:])):
            raise ValueError(f'FPN: in_strides must increase (finest level first), got '
                             f'{list(self.in_strides)}')
        if not isinstance(out_channels, int) or out_channels <= 0:
            raise ValueError(f'FPN: out_channels must be a positive int, got {out_channels!r}')
        if extra_convs is not None and extra_convs not in EXTRA_CONVS:
            raise ValueError(f'FPN: extra_convs must be None or one of {list(EXTRA_CONVS)} (where '
                             f"RetinaNet's P6 is computed from), got {extra_convs!r}")
        if extra_convs is not None and add_extra_max_pool:
            raise ValueError(f'FPN: extra_convs={extra_convs!r} adds P6 and P7 by convolutions; '
                             'add_extra_max_pool=True would add another P6: leave it out or set it False')
        self.extra_convs = extra_convs
        self.add_extra_max_pool = extra_convs is None if add_extra_max_pool is None \
            else bool(add_extra_max_pool)
        s_last = self.in_strides[-1]
        if extra_convs is not None:
            on_input = extra_convs == 'on_input'
            extra_block = LastLevelP6P7(self.in_channels[-1] if on_input else out_channels, out_channels)
            extra_block.use_P5 = not on_input  # torchvision decides by the channels; say it here
            extra = (2 * s_last, 4 * s_last)
        elif self.add_extra_max_pool:
            extra_block, extra = LastLevelMaxPool(), (2 * s_last,)
        else:
            extra_block, extra = None, ()
        self.fpn = FeaturePyramidNetwork(list(self.in_channels), out_channels, extra_blocks=extra_block)
        self.strides = self.in_strides + extra
        self.out_channels = (out_channels,) * len(self.strides)

    def consumes(self) -> list[Requires]:
        """What the producer (backbone) must provide: exactly these channels and strides."""
        return [Requires('in_channels', list(self.in_channels), 'channels', 'equal'),
                Requires('in_strides', list(self.in_strides), 'strides', 'equal')]

    def forward(self, feats: Sequence[Tensor]) -> tuple[Tensor, ...]:
        if len(feats) != len(self.in_channels):
            raise ValueError(f'FPN got {len(feats)} feature levels, expected {len(self.in_channels)} '
                             f'(in_channels {list(self.in_channels)})')
        got = [f.shape[1] for f in feats]
        if got != list(self.in_channels):
            raise ValueError(f'FPN got features with channels {got}, expected in_channels '
                             f'{list(self.in_channels)}')
        out = self.fpn(OrderedDict((str(i), f) for i, f in enumerate(feats)))
        return tuple(out.values())
