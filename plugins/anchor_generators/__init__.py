"""Anchor schemes (prior generators): per-level anchors tiled over feature maps.

* :class:`AnchorGenerator`: torchvision's / mmdet's per-level anchors (FPN and friends).
* :class:`LegacyAnchorGenerator`: the paper's 9 anchors, py-faster-rcnn's numbers.
* :class:`YOLOAnchorGenerator`: YOLOv3's (w, h) anchors per level, centred in each cell.
"""
from .anchor_generator import AnchorGenerator
from .legacy_anchor_generator import LegacyAnchorGenerator
from .yolo_anchor_generator import YOLOV3_COCO_ANCHORS, YOLOAnchorGenerator

__all__ = ['AnchorGenerator', 'LegacyAnchorGenerator', 'YOLOAnchorGenerator',
           'YOLOV3_COCO_ANCHORS']
