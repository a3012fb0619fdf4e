"""ResNet (He et al., 2016) C2-C5 features, on torchvision's ResNet, with torchvision's names.

Built from :class:`torchvision.models.resnet.ResNet` (``Bottleneck`` for 50/101/152,
``BasicBlock`` for 18/34) without ``avgpool``/``fc``. The submodules keep torchvision's
attribute names directly on this module, so the state-dict keys are torchvision's::

    conv1.weight
    bn1.{weight,bias,running_mean,running_var}
    layer{1..4}.{block}.conv{1,2,3}.weight
    layer{1..4}.{block}.bn{1,2,3}.{weight,bias,running_mean,running_var}
    layer{1..4}.0.downsample.0.weight, layer{1..4}.0.downsample.1.{weight,bias,...}

and map with plain prefix changes:

* torchvision's ImageNet file (``resnet50-0676ba61.pth``): the same keys, plus ``fc.*`` (ignored).
* torchvision's ``fasterrcnn_resnet50_fpn`` state dict: ``backbone.body.<k>`` is ``<k>`` here (in
  a detector whose backbone is at ``backbone``: ``backbone.body.`` -> ``backbone.``).
  ``num_batches_tracked`` entries there are dropped by FrozenBatchNorm2d.

Defaults follow torchvision's ``fasterrcnn_resnet50_fpn`` (``resnet_fpn_backbone``):
FrozenBatchNorm2d everywhere (statistics and affine fixed: detection batches are too small for
BN statistics) and ``trainable_backbone_layers=3``, i.e. the stem and layer1 frozen
(``frozen_stages=1``).
"""
from __future__ import annotations

from typing import Optional, Sequence

from torch import Tensor, nn
from torchvision.models.resnet import BasicBlock, Bottleneck, ResNet as TVResNet
from torchvision.ops import FrozenBatchNorm2d

from registry import BACKBONES

from .frozen_bn_fold import conv_frozen_bn, forward_block
from .pretrained import load_pretrained

__all__ = ['ResNet']

_ARCH = {18: (BasicBlock, (2, 2, 2, 2)), 34: (BasicBlock, (3, 4, 6, 3)),
         50: (Bottleneck, (3, 4, 6, 3)), 101: (Bottleneck, (3, 4, 23, 3)),
         152: (Bottleneck, (3, 8, 36, 3))}
_NORMS = {'frozen_bn': FrozenBatchNorm2d, 'bn': nn.BatchNorm2d}
_STRIDES = (4, 8, 16, 32)


@BACKBONES.register_module()
class ResNet(nn.Module):
    """ResNet stem + layer1..layer4, returning the outputs of the stages in ``out_indices``.

    Args:
        depth: 50 or 101 (the detection depths; 18, 34 and 152 are available as well).
        pretrained: local state-dict file with torchvision's keys (e.g. ``resnet50-0676ba61.pth``),
            or None for torchvision's random init. ``fc.*`` is ignored and logged.
        norm: ``'frozen_bn'`` (:class:`torchvision.ops.FrozenBatchNorm2d`, default) or ``'bn'``
            (:class:`torch.nn.BatchNorm2d`).
        norm_eval: with ``norm='bn'``, keep every BN layer in eval mode (running statistics used
            and not updated) even in ``train()``, as mmdet's ResNet does by default.
        frozen_stages: ``-1`` nothing frozen; ``0`` the stem (conv1, bn1); ``i`` in 1..4 the stem
            and layer1..layer{i}. Frozen parameters get ``requires_grad=False`` and frozen
            modules stay in eval mode. Default 1 (= torchvision's ``trainable_backbone_layers=3``).
        out_indices: stages to return, increasing, from 0 (layer1, C2) to 3 (layer4, C5).
        fold_frozen_bn: with ``norm='frozen_bn'``, compute each convolution and the frozen BN
            after it as one convolution with scaled weights and a bias
            (:mod:`plugins.backbones.frozen_bn_fold`): the same numbers up to rounding, the
            same state dict, about a third less time on the CPU. Default True.

    Attributes:
        conv1, bn1, relu, maxpool, layer1, layer2, layer3, layer4: torchvision's modules.
        out_channels: per returned stage; (256, 512, 1024, 2048) for 50/101/152 with all four
            stages, (64, 128, 256, 512) for 18/34.
        strides: per returned stage, from (4, 8, 16, 32).

    Shapes:
        forward: ``x`` (B, 3, H, W) -> tuple of (B, out_channels[i], H / strides[i],
        W / strides[i]) (sizes rounded up at each stride-2 layer, as torchvision's).

    Raises:
        ValueError: unknown ``depth`` or ``norm``; ``frozen_stages`` outside [-1, 4];
            ``out_indices`` empty, unordered, or outside 0..3; ``x`` not (B, 3, H, W); a
            pretrained file that does not fit.
        FileNotFoundError: ``pretrained`` names no file.
    """

    def __init__(self, depth: int = 50, pretrained: Optional[str] = None, norm: str = 'frozen_bn',
                 norm_eval: bool = True, frozen_stages: int = 1,
                 out_indices: Sequence[int] = (0, 1, 2, 3), fold_frozen_bn: bool = True):
        super().__init__()
        if depth not in _ARCH:
            raise ValueError(f'ResNet: depth must be one of {sorted(_ARCH)}, got {depth!r}')
        if norm not in _NORMS:
            raise ValueError(f'ResNet: norm must be one of {sorted(_NORMS)}, got {norm!r}')
        if not isinstance(frozen_stages, int) or not -1 <= frozen_stages <= 4:
            raise ValueError(f'ResNet: frozen_stages must be an int in [-1, 4] (-1 none, 0 stem, '
                             f'i stem and layer1..layer i), got {frozen_stages!r}')
        out_indices = tuple(out_indices)
        if (not out_indices or any(not isinstance(i, int) or not 0 <= i <= 3 for i in out_indices)
                or list(out_indices) != sorted(set(out_indices))):
            raise ValueError(f'ResNet: out_indices must be increasing stage indices in 0..3 '
                             f'(0 = layer1/C2 .. 3 = layer4/C5), got {out_indices!r}')
        block, layers = _ARCH[depth]
        net = TVResNet(block, list(layers), norm_layer=_NORMS[norm])
        self.conv1, self.bn1, self.relu, self.maxpool = net.conv1, net.bn1, net.relu, net.maxpool
        self.layer1, self.layer2, self.layer3, self.layer4 = net.layer1, net.layer2, net.layer3, net.layer4
        del net  # avgpool and fc are not part of the backbone

        self.depth = depth
        self.norm = norm
        self.norm_eval = norm_eval
        self.frozen_stages = frozen_stages
        self.out_indices = out_indices
        self.fold_frozen_bn = bool(fold_frozen_bn) and norm == 'frozen_bn'
        widths = [64 * block.expansion * 2 ** i for i in range(4)]
        self.out_channels = tuple(widths[i] for i in out_indices)
        self.strides = tuple(_STRIDES[i] for i in out_indices)

        if pretrained is not None:
            load_pretrained(self, pretrained)
        for module in self._frozen_modules():
            module.requires_grad_(False)
        self.train()

    def _frozen_modules(self) -> list[nn.Module]:
        if self.frozen_stages < 0:
            return []
        return [self.conv1, self.bn1] + [getattr(self, f'layer{i}')
                                         for i in range(1, self.frozen_stages + 1)]

    def train(self, mode: bool = True) -> 'ResNet':
        """Set train/eval mode; frozen stages (and, with ``norm_eval``, every BN) stay in eval."""
        super().train(mode)
        if mode:
            for module in self._frozen_modules():
                module.eval()
            if self.norm_eval:
                for m in self.modules():
                    if isinstance(m, nn.modules.batchnorm._BatchNorm):
                        m.eval()
        return self

    def forward(self, x: Tensor) -> tuple[Tensor, ...]:
        if x.dim() != 4 or x.shape[1] != 3:
            raise ValueError(f'ResNet expects images of shape (B, 3, H, W), got {tuple(x.shape)}')
        if not self.fold_frozen_bn:
            x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        else:
            x = self.maxpool(self.relu(conv_frozen_bn(self.conv1, self.bn1, x)))
        outs = []
        for i in range(max(self.out_indices) + 1):
            layer = getattr(self, f'layer{i + 1}')
            if not self.fold_frozen_bn:
                x = layer(x)
            else:
                for block in layer:
                    x = forward_block(block, x)
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)
