"""Backbones: image (B, 3, H, W) -> tuple of feature maps, with ``out_channels`` and ``strides``.

``ZFNet`` and ``VGG`` (depth 16) are the Faster R-CNN paper's; ``ResNet`` (50/101) is the
backbone of the modern ResNet-FPN form; ``Darknet`` (19, 53 and tiny) is YOLOv2's and YOLOv3's;
``TorchvisionBackbone`` and ``TimmBackbone`` wrap any torchvision classification model or timm
model (timm is the optional extra ``timm``), their channels and strides measured. Pretrained
weights are read from local state-dict files by
:func:`~plugins.backbones.pretrained.load_pretrained`.
"""
from .darknet import Darknet
from .lrn import CaffeLRN
from .pretrained import load_pretrained, read_state_dict
from .resnet import ResNet
from .timm_backbone import TimmBackbone
from .torchvision_backbone import TorchvisionBackbone
from .vgg import VGG
from .zfnet import ZFNet

__all__ = ['CaffeLRN', 'Darknet', 'ResNet', 'TimmBackbone', 'TorchvisionBackbone', 'VGG', 'ZFNet',
           'load_pretrained', 'read_state_dict']
