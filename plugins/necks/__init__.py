"""Necks: consume a backbone's feature maps (``consumes()``), expose ``out_channels``/``strides``."""
from .fpn import FPN
from .yolov3_neck import YOLOV3Neck

__all__ = ['FPN', 'YOLOV3Neck']
