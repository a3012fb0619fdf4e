"""Detectors that compose parts by name through the registry (never by importing plugins)."""
from .base import BaseDetector
from .single_stage import YOLOV3, RetinaNet, SingleStageDetector
from .two_stage import FasterRCNN, TwoStageDetector

__all__ = ['BaseDetector', 'TwoStageDetector', 'FasterRCNN', 'SingleStageDetector', 'YOLOV3', 'RetinaNet']
