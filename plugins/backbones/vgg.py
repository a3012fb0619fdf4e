"""VGG (Simonyan & Zisserman, 2015) conv layers up to the last conv+ReLU, on torchvision's VGG.

Faster R-CNN's VGG16 model (Ren et al., 2015, section 4; py-faster-rcnn
``models/pascal_voc/VGG16/faster_rcnn_end2end/train.prototxt``) shares conv1_1 .. conv5_3 (after
relu5_3) with the detection heads; pool5 is replaced by RoI pooling, so the feature stride is 16.
conv1_x and conv2_x are not trained (``lr_mult: 0`` in the prototxt; the paper follows Fast
R-CNN, Girshick 2015, section 4.5, "which layers to fine-tune"), hence ``frozen_stages=2``.

The layers are torchvision's :func:`torchvision.models.vgg.make_layers` for the configuration of
``depth`` (11: 'A', 13: 'B', 16: 'D', 19: 'E'; no batch norm) without the final max-pool, kept in
``self.features`` with torchvision's indices, so torchvision's ImageNet files load directly:
``features.{i}.weight`` / ``features.{i}.bias`` for the conv layers (VGG16: i in 0, 2, 5, 7, 10,
12, 14, 17, 19, 21, 24, 26, 28); ``classifier.*`` (fc6, fc7, fc8) is ignored and logged.

Max-pooling is torchvision's (floor mode) where Caffe's is ceil mode. For 2x2/2 pools the two
agree whenever H and W are multiples of 16, which the zoo guarantees (images are padded to a
multiple of the largest stride), so the feature sizes are py-faster-rcnn's.
"""
from __future__ import annotations

from typing import Optional

from torch import Tensor, nn
from torchvision.models.vgg import cfgs, make_layers

from registry import BACKBONES

from .pretrained import load_pretrained

__all__ = ['VGG']

_DEPTH_CFG = {11: 'A', 13: 'B', 16: 'D', 19: 'E'}


@BACKBONES.register_module()
class VGG(nn.Module):
    """VGG conv1_1 .. conv5_x (after the last ReLU, before pool5), stride 16.

    Args:
        depth: 11, 13, 16 or 19 (torchvision's configurations A, B, D, E).
        pretrained: local state-dict file with torchvision's VGG keys (``features.N.weight``,
            ``features.N.bias``; e.g. ``vgg16-397923af.pth``), or None for random init
            (torchvision's: Kaiming normal, fan_out, biases 0).
        frozen_stages: freeze the conv layers of blocks 1..``frozen_stages`` (block i is conv{i}_x)
            with ``requires_grad=False``; ``2`` (default) freezes conv1_x and conv2_x as in
            py-faster-rcnn; ``-1`` or ``0`` freezes nothing; at most 5.

    Attributes:
        features: torchvision's ``features`` Sequential without its last max-pool
            (VGG16: ``features[:30]``, conv5_3 + ReLU at index 28-29).
        out_channels: ``(512,)``; strides: ``(16,)``.

    Shapes:
        forward: ``x`` (B, 3, H, W) -> ``(conv5,)`` with conv5 (B, 512, H // 16, W // 16)
        (floor at each of the 4 pools).

    Raises:
        ValueError: unknown ``depth``; ``frozen_stages`` outside [-1, 5]; ``x`` not
            (B, 3, H, W); a pretrained file that does not fit.
        FileNotFoundError: ``pretrained`` names no file.
    """

    out_channels: tuple[int, ...] = (512,)
    strides: tuple[int, ...] = (16,)

    def __init__(self, depth: int = 16, pretrained: Optional[str] = None, frozen_stages: int = 2):
        super().__init__()
        if depth not in _DEPTH_CFG:
            raise ValueError(f'VGG: depth must be one of {sorted(_DEPTH_CFG)}, got {depth!r}')
        if not isinstance(frozen_stages, int) or not -1 <= frozen_stages <= 5:
            raise ValueError(f'VGG: frozen_stages must be an int in [-1, 5] (conv1_x..convN_x '
                             f'frozen), got {frozen_stages!r}')
        self.depth = depth
        self.frozen_stages = frozen_stages
        cfg = cfgs[_DEPTH_CFG[depth]]
        self.features = make_layers(cfg, batch_norm=False)[:-1]  # drop pool5
        for m in self.features.modules():  # torchvision's VGG.__init__ (init_weights=True)
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode='fan_out', nonlinearity='relu')
                nn.init.constant_(m.bias, 0)
        # block index (1-based) of each conv, by walking the cfg as make_layers does
        self._block_of: dict[int, int] = {}
        index, block = 0, 1
        for v in cfg[:-1]:
            if v == 'M':
                index, block = index + 1, block + 1
            else:
                self._block_of[index] = block
                index += 2  # conv, ReLU
        if pretrained is not None:
            load_pretrained(self, pretrained)
        for i, b in self._block_of.items():
            if b <= frozen_stages:
                self.features[i].requires_grad_(False)

    def forward(self, x: Tensor) -> tuple[Tensor]:
        if x.dim() != 4 or x.shape[1] != 3:
            raise ValueError(f'VGG expects images of shape (B, 3, H, W), got {tuple(x.shape)}')
        return (self.features(x),)
