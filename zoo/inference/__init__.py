"""Running a trained detector from Python: ``Detector(config, checkpoint)(images)`` returns
:class:`Detections` in original-image pixels (docs/inference.md).

``Detector`` and ``Detections`` are also reachable as ``zoo.Detector`` and
``zoo.Detections``.
"""
from .detections import Detections
from .detector import Detector

__all__ = ['Detector', 'Detections']
