"""Backbones: image (B, 3, H, W) -> tuple of feature maps, with ``out_channels`` and ``strides``.

``ZFNet`` and ``VGG`` (depth 16) are the Faster R-CNN paper's; ``ResNet`` (50/101) is the
backbone of the modern ResNet-FPN form; ``Darknet`` (53 and tiny) is YOLOv3's. Pretrained
weights are read from local state-dict files by
:func:`~plugins.backbones.pretrained.load_pretrained`.
"""
from .darknet import Darknet
from .lrn import CaffeLRN
from .pretrained import load_pretrained, read_state_dict
from .resnet import ResNet
from .vgg import VGG
from .zfnet import ZFNet

__all__ = ['CaffeLRN', 'Darknet', 'ResNet', 'VGG', 'ZFNet', 'load_pretrained', 'read_state_dict']
