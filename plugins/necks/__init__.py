"""Necks: consume a backbone's feature maps (``consumes()``), expose ``out_channels``/``strides``."""
from .fpn import FPN

__all__ = ['FPN']
