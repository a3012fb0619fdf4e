"""Necks: consume a backbone's feature maps (``consumes()``), expose ``out_channels``/``strides``."""
from .fpn import FPN
from .yolov2_neck import Reorg, YOLOV2Neck
from .yolov3_neck import YOLOV3Neck

__all__ = ['FPN', 'Reorg', 'YOLOV2Neck', 'YOLOV3Neck']
