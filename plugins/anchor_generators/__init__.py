"""Anchor schemes (prior generators): per-level anchors tiled over feature maps.

* :class:`AnchorGenerator`: torchvision's / mmdet's per-level anchors (FPN and friends).
* :class:`LegacyAnchorGenerator`: the paper's 9 anchors, py-faster-rcnn's numbers.
"""
from .anchor_generator import AnchorGenerator
from .base_anchor_generator import BaseAnchorGenerator
from .legacy_anchor_generator import LegacyAnchorGenerator

__all__ = ['AnchorGenerator', 'BaseAnchorGenerator', 'LegacyAnchorGenerator']
