"""RoI extractors: ``forward(feats, rois (K, 5)) -> (K, C, S, S)``.

``RoIPool`` and ``RoIAlign`` pool one feature map; ``SingleRoIExtractor`` builds one of them per
level and maps each RoI to a level (FPN eq. 1).
"""
from .roi_align import RoIAlign
from .roi_pool import RoIPool
from .single_level_roi_extractor import SingleRoIExtractor

__all__ = ['RoIAlign', 'RoIPool', 'SingleRoIExtractor']
