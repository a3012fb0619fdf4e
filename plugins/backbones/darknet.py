"""Darknet backbones of YOLOv2 and YOLOv3: Darknet-19, Darknet-53 and the layout of YOLOv3-tiny.

* Darknet-53: Redmon & Farhadi, "YOLOv3: An Incremental Improvement", 2018, section 2.4 and
  table 1: a 3x3 convolution of 32, then five stages, each a stride-2 3x3 convolution that doubles
  the channels (64, 128, 256, 512, 1024) followed by 1, 2, 8, 8, 4 residual blocks
  (1x1 convolution to half the channels, 3x3 back, added to the input). Every convolution is
  followed by batch norm and LeakyReLU(0.1) and has no bias (darknet's ``yolov3.cfg``; mmdet's
  ``Darknet``, whose ``out_indices`` numbering this module keeps).
* Darknet-19 (``depth=19``): Redmon & Farhadi, "YOLO9000: Better, Faster, Stronger", CVPR 2017,
  section "Faster" and table 6: 3x3 convolutions that double the channels after every 2x2 max pool
  of stride 2, with 1x1 convolutions halving them in between: 32 | 64 | 128, 64, 128 | 256, 128,
  256 | 512, 256, 512, 256, 512 | 1024, 512, 1024, 512, 1024 (``|`` a max pool). Batch norm and
  LeakyReLU(0.1) after every convolution, no bias (darknet's ``darknet19.cfg``; the section
  "Better", "Batch Normalization"). The classifier's last 1x1 convolution and average pooling
  are left out: detection replaces them (YOLOv2 "Training for detection").
* ``depth='tiny'``: the backbone of darknet's ``yolov3-tiny.cfg``: 3x3 convolutions of 16, 32, 64,
  128, 256, 512 channels, each after a 2x2 max pool of stride 2 (none before the first), then a
  2x2 max pool of stride 1 (padded at right and bottom) and a 3x3 convolution of 1024. No residual
  blocks: a few hundred MFLOPs at 320 px, small enough to train on a CPU.

All are numbered by stage: stage 0 is the stem (stride 1), stage ``i`` in 1..5 has stride
``2 ** i``; ``out_indices=(3, 4, 5)`` (the default) gives the strides 8, 16, 32 that YOLOv3's
three detection scales use; YOLOv2 takes ``(4, 5)`` (strides 16 and 32: the 26 x 26 map of its
passthrough layer and the 13 x 13 map at 416 px).
"""
from __future__ import annotations

from typing import Sequence, Union

from torch import Tensor, nn

from registry import BACKBONES
from zoo.api import NORMS, ConvNormAct

__all__ = ['Darknet', 'DarknetResBlock']

class DarknetResBlock(nn.Module):
    """Darknet-53's residual block: 1x1 to ``channels // 2``, 3x3 back to ``channels``, plus the
    input (YOLOv3 table 1). Shapes: (B, channels, H, W) -> the same."""

    def __init__(self, channels: int, norm: str = 'bn'):
        super().__init__()
        self.conv1 = ConvNormAct(channels, channels // 2, 1, norm=norm)
        self.conv2 = ConvNormAct(channels // 2, channels, 3, norm=norm)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.conv2(self.conv1(x))


def _width(channels: int, widen_factor: float) -> int:
    """Channels times ``widen_factor``, rounded to a multiple of 8 (at least 8)."""
    return max(8, int(round(channels * widen_factor / 8)) * 8)


@BACKBONES.register_module()
class Darknet(nn.Module):
    """Darknet-19 (``depth=19``), Darknet-53 (``depth=53``) or YOLOv3-tiny's backbone
    (``depth='tiny'``); see the module docstring for the layers.

    Args:
        depth: ``19``, ``53`` or ``'tiny'``.
        widen_factor: multiplies every layer's channels (rounded to multiples of 8); 1.0 is the
            paper's network. E.g. ``depth='tiny', widen_factor=0.5`` outputs 64, 128, 512 channels.
        out_indices: increasing stage indices in 0..5 to return (stage ``i`` has stride
            ``2 ** i``); default ``(3, 4, 5)``: strides 8, 16, 32.
        norm: ``'bn'`` (darknet's) or ``'gn'`` (for batches of a few images).
        frozen_stages: ``-1`` nothing frozen, ``i`` in 0..5: stages 0..i get
            ``requires_grad=False`` and stay in eval mode.
        norm_eval: keep every BN layer in eval mode (running statistics used, not updated)
            during training, as for fine-tuning from pretrained weights.

    Attributes:
        stages (nn.ModuleList): stage 0 .. 5.
        out_channels (tuple[int, ...]): per returned stage. Darknet-19 and Darknet-53: from (32,
            64, 128, 256, 512, 1024); tiny: from (16, 32, 64, 128, 256, 1024); both times ``widen_factor``.
        strides (tuple[int, ...]): per returned stage, ``2 ** i``.

    Shapes:
        forward: ``x`` (B, 3, H, W) -> tuple of (B, out_channels[k], ceil(H / strides[k]),
        ceil(W / strides[k])) (exact when H and W are multiples of 32, as the data
        preprocessor's ``pad_size_divisor=32`` makes them).

    Raises:
        ValueError: ``depth`` not 19, 53 or ``'tiny'``; ``widen_factor`` not a positive number;
            ``out_indices`` empty, unordered or outside 0..5; ``frozen_stages`` outside -1..5;
            unknown ``norm``; at forward, ``x`` not (B, 3, H, W).
    """

    #: Darknet-53's residual blocks per stage 1..5 (YOLOv3 table 1).
    BLOCKS_53 = (1, 2, 8, 8, 4)
    #: Darknet-19's 3x3/1x1 pairs after the first 3x3 convolution of stage 1..5 (YOLOv2 table 6).
    PAIRS_19 = (0, 1, 1, 2, 2)

    def __init__(self, depth: Union[int, str] = 53, widen_factor: float = 1.0,
                 out_indices: Sequence[int] = (3, 4, 5), norm: str = 'bn',
                 frozen_stages: int = -1, norm_eval: bool = False):
        super().__init__()
        if depth not in (19, 53, 'tiny') or isinstance(depth, bool):
            raise ValueError(f"Darknet: depth must be 19, 53 or 'tiny', got {depth!r}")
        if isinstance(widen_factor, bool) or not isinstance(widen_factor, (int, float)) \
                or widen_factor <= 0:
            raise ValueError(f'Darknet: widen_factor must be a positive number, got {widen_factor!r}')
        out_indices = tuple(out_indices)
        if (not out_indices or any(not isinstance(i, int) or isinstance(i, bool) or not 0 <= i <= 5
                                   for i in out_indices)
                or list(out_indices) != sorted(set(out_indices))):
            raise ValueError(f'Darknet: out_indices must be increasing stage indices in 0..5 '
                             f'(stage i has stride 2**i), got {out_indices!r}')
        if not isinstance(frozen_stages, int) or not -1 <= frozen_stages <= 5:
            raise ValueError(f'Darknet: frozen_stages must be an int in -1..5, got {frozen_stages!r}')
        if norm not in NORMS:
            raise ValueError(f'Darknet: norm must be one of {NORMS}, got {norm!r}')
        self.depth, self.widen_factor, self.norm = depth, float(widen_factor), norm
        self.out_indices, self.frozen_stages, self.norm_eval = out_indices, frozen_stages, norm_eval
        self.stages = nn.ModuleList()
        if depth == 53:
            widths = [_width(c, widen_factor) for c in (32, 64, 128, 256, 512, 1024)]
            self.stages.append(ConvNormAct(3, widths[0], 3, norm=norm))
            for i, blocks in enumerate(self.BLOCKS_53, start=1):
                layers = [ConvNormAct(widths[i - 1], widths[i], 3, stride=2, norm=norm)]
                layers += [DarknetResBlock(widths[i], norm) for _ in range(blocks)]
                self.stages.append(nn.Sequential(*layers))
        elif depth == 19:
            widths = [_width(c, widen_factor) for c in (32, 64, 128, 256, 512, 1024)]
            self.stages.append(ConvNormAct(3, widths[0], 3, norm=norm))
            for i, pairs in enumerate(self.PAIRS_19, start=1):
                layers = [nn.MaxPool2d(2, 2), ConvNormAct(widths[i - 1], widths[i], 3, norm=norm)]
                for _ in range(pairs):
                    layers += [ConvNormAct(widths[i], widths[i] // 2, 1, norm=norm),
                               ConvNormAct(widths[i] // 2, widths[i], 3, norm=norm)]
                self.stages.append(nn.Sequential(*layers))
        else:
            widths = [_width(c, widen_factor) for c in (16, 32, 64, 128, 256, 512, 1024)]
            self.stages.append(ConvNormAct(3, widths[0], 3, norm=norm))
            for i in range(1, 5):
                self.stages.append(nn.Sequential(nn.MaxPool2d(2, 2),
                                                 ConvNormAct(widths[i - 1], widths[i], 3, norm=norm)))
            self.stages.append(nn.Sequential(
                nn.MaxPool2d(2, 2), ConvNormAct(widths[4], widths[5], 3, norm=norm),
                nn.ZeroPad2d((0, 1, 0, 1)), nn.MaxPool2d(2, 1),  # darknet's size=2 stride=1 pool
                ConvNormAct(widths[5], widths[6], 3, norm=norm)))
            widths = widths[:5] + widths[6:]
        self.out_channels = tuple(widths[i] for i in out_indices)
        self.strides = tuple(2 ** i for i in out_indices)
        for stage in self.stages[:frozen_stages + 1]:
            stage.requires_grad_(False)
        self.train()

    def train(self, mode: bool = True) -> 'Darknet':
        """Set train/eval mode; frozen stages (and, with ``norm_eval``, every BN) stay in eval."""
        super().train(mode)
        if mode:
            for stage in self.stages[:self.frozen_stages + 1]:
                stage.eval()
            if self.norm_eval:
                for m in self.modules():
                    if isinstance(m, nn.modules.batchnorm._BatchNorm):
                        m.eval()
        return self

    def forward(self, x: Tensor) -> tuple[Tensor, ...]:
        if x.dim() != 4 or x.shape[1] != 3:
            raise ValueError(f'Darknet expects images of shape (B, 3, H, W), got {tuple(x.shape)}')
        outs = []
        for i, stage in enumerate(self.stages[:max(self.out_indices) + 1]):
            x = stage(x)
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)
