"""ZFNet (Zeiler & Fergus), conv1-conv5, exactly as in py-faster-rcnn's ZF prototxt.

Source: py-faster-rcnn, ``models/pascal_voc/ZF/faster_rcnn_end2end/train.prototxt`` (and the
``faster_rcnn_alt_opt`` stage prototxts, identical up to conv5), the "ZF" model of the Faster
R-CNN paper (Ren et al., 2015, section 4). Network: Zeiler & Fergus, "Visualizing and
Understanding Convolutional Networks", ECCV 2014, Fig. 3 (with py-faster-rcnn's padding).

======  ======================================================  =============
layer   Caffe parameters                                        output (224)
======  ======================================================  =============
conv1   96 x 7x7, stride 2, pad 3; ReLU                          112
norm1   LRN local_size 3, alpha 5e-5, beta 0.75, WITHIN_CHANNEL  112
pool1   MAX 3x3, stride 2, pad 1 (Caffe: ceil mode)              57
conv2   256 x 5x5, stride 2, pad 2; ReLU                         29
norm2   LRN as norm1                                             29
pool2   MAX 3x3, stride 2, pad 1 (ceil mode)                     15
conv3   384 x 3x3, pad 1; ReLU                                   15
conv4   384 x 3x3, pad 1; ReLU                                   15
conv5   256 x 3x3, pad 1; ReLU                                   15
======  ======================================================  =============

Sizes: Caffe's convolution gives ``floor((H + 2p - k) / s) + 1``; its pooling gives
``ceil((H + 2p - k) / s) + 1``, minus one when the last window would start in the padding
(``(out - 1) * s >= H + p``). :class:`torch.nn.MaxPool2d` with ``ceil_mode=True`` implements the
same rule, so the output sizes are Caffe's: 224 -> 15 (floor mode would give 14), and
600 x 800 -> 39 x 51. The nominal stride is 16 (two stride-2 convs, two stride-2 pools), which
is the ``feat_stride`` py-faster-rcnn's anchor and proposal layers use.

The LRN layers normalize WITHIN_CHANNEL (a 3x3 spatial window), as the prototxt says; that is
not :class:`torch.nn.LocalResponseNorm` (which normalizes across channels), see
:class:`plugins.backbones.lrn.CaffeLRN`.
"""
from __future__ import annotations

from typing import Optional

from torch import Tensor, nn

from registry import BACKBONES

from .lrn import CaffeLRN
from .pretrained import load_pretrained

__all__ = ['ZFNet']

# (name, out channels, kernel, stride, pad) of the five convolutions; input has 3 channels.
_CONVS = (('conv1', 96, 7, 2, 3), ('conv2', 256, 5, 2, 2), ('conv3', 384, 3, 1, 1),
          ('conv4', 384, 3, 1, 1), ('conv5', 256, 3, 1, 1))
_LRN = dict(local_size=3, alpha=5e-5, beta=0.75)


@BACKBONES.register_module()
class ZFNet(nn.Module):
    """The shared convolutional layers of Faster R-CNN's ZF model (conv1-conv5, after relu5).

    Args:
        pretrained: local state-dict file, or None for random init. Keys (Caffe's layer names):
            ``conv{1..5}.weight`` (out, in, kh, kw) and ``conv{1..5}.bias``; other keys (fc6,
            fc7, ...) are ignored and logged. A ZF caffemodel converted blob-by-blob fits, but
            note that Caffe models expect BGR input in 0-255 minus the pixel mean, not the zoo's
            normalized RGB: flip ``conv1.weight`` along dim 1 and adapt the normalization.
        frozen_stages: freeze ``conv1`` .. ``conv{frozen_stages}`` (``requires_grad=False``);
            ``-1`` or ``0`` freezes nothing, at most 5. py-faster-rcnn trains every ZF layer
            (lr_mult 1 on conv1-conv5), hence the default ``-1``.
        lrn_region: ``'within_channel'`` (the prototxt) or ``'across_channels'``
            (:class:`torch.nn.LocalResponseNorm`, AlexNet's LRN), for ablations.
        norm: ``'lrn'`` (the paper: LRN after conv1 and conv2), or ``'gn'``: GroupNorm (32
            groups) after every convolution instead, with He (fan-out) initialisation. GroupNorm
            is what makes training from scratch work with few images per batch (He, Girshick and
            Dollar, "Rethinking ImageNet Pre-training", ICCV 2019, section 3), and it is much
            cheaper on a CPU than the within-channel LRN. A departure from the paper, for the
            from-scratch BCCD recipe.

    Attributes:
        out_channels: ``(256,)``; strides: ``(16,)``.

    Shapes:
        forward: ``x`` (B, 3, H, W) normalized image -> ``(conv5,)``, conv5 of shape
        (B, 256, H5, W5) with Caffe's sizes (see the module docstring), about H/16 x W/16.

    Raises:
        ValueError: ``frozen_stages`` outside [-1, 5], ``lrn_region`` unknown, ``x`` not
            (B, 3, H, W), or a pretrained file that does not fit (see ``load_pretrained``).
        FileNotFoundError: ``pretrained`` names no file.

    Weights are initialized as in Zeiler & Fergus (section 3): N(0, 0.01), biases 0.
    """

    out_channels: tuple[int, ...] = (256,)
    strides: tuple[int, ...] = (16,)

    def __init__(self, pretrained: Optional[str] = None, frozen_stages: int = -1,
                 lrn_region: str = 'within_channel', norm: str = 'lrn'):
        super().__init__()
        if norm not in ('lrn', 'gn'):
            raise ValueError(f"ZFNet: norm must be 'lrn' (the paper) or 'gn', got {norm!r}")
        self.norm = norm
        if not isinstance(frozen_stages, int) or not -1 <= frozen_stages <= len(_CONVS):
            raise ValueError(f'ZFNet: frozen_stages must be an int in [-1, {len(_CONVS)}] '
                             f'(conv1..convN frozen), got {frozen_stages!r}')
        self.frozen_stages = frozen_stages
        in_ch = 3
        for name, out_ch, k, s, p in _CONVS:
            setattr(self, name, nn.Conv2d(in_ch, out_ch, k, stride=s, padding=p))
            in_ch = out_ch
        self.relu = nn.ReLU(inplace=True)
        if norm == 'lrn':
            self.norm1 = CaffeLRN(**_LRN, norm_region=lrn_region)
            self.norm2 = CaffeLRN(**_LRN, norm_region=lrn_region)
        else:  # GroupNorm after each conv, before its ReLU; no LRN
            self.gn = nn.ModuleDict({name: nn.GroupNorm(32, out_ch) for name, out_ch, *_ in _CONVS})
        self.pool1 = nn.MaxPool2d(3, stride=2, padding=1, ceil_mode=True)
        self.pool2 = nn.MaxPool2d(3, stride=2, padding=1, ceil_mode=True)
        for name, *_ in _CONVS:
            conv = getattr(self, name)
            if norm == 'lrn':
                nn.init.normal_(conv.weight, std=0.01)
            else:
                nn.init.kaiming_normal_(conv.weight, mode='fan_out', nonlinearity='relu')
            nn.init.zeros_(conv.bias)
        if pretrained is not None:
            load_pretrained(self, pretrained)
        for name, *_ in _CONVS[:max(frozen_stages, 0)]:
            getattr(self, name).requires_grad_(False)

    def forward(self, x: Tensor) -> tuple[Tensor]:
        if x.dim() != 4 or x.shape[1] != 3:
            raise ValueError(f'ZFNet expects images of shape (B, 3, H, W), got {tuple(x.shape)}')
        if self.norm == 'gn':
            x = self.pool1(self.relu(self.gn['conv1'](self.conv1(x))))
            x = self.pool2(self.relu(self.gn['conv2'](self.conv2(x))))
            for name in ('conv3', 'conv4', 'conv5'):
                x = self.relu(self.gn[name](getattr(self, name)(x)))
            return (x,)
        x = self.pool1(self.norm1(self.relu(self.conv1(x))))
        x = self.pool2(self.norm2(self.relu(self.conv2(x))))
        x = self.relu(self.conv3(x))
        x = self.relu(self.conv4(x))
        x = self.relu(self.conv5(x))
        return (x,)
