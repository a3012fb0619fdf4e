"""Detectors that compose parts by name through the registry (never by importing plugins)."""
from .base import BaseDetector
from .two_stage import FasterRCNN, TwoStageDetector

__all__ = ['BaseDetector', 'TwoStageDetector', 'FasterRCNN']
