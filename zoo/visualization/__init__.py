"""Drawing boxes on images for ``zoo infer`` and ``zoo browse``."""
from .draw import draw_detections, save_image

__all__ = ['draw_detections', 'save_image']
