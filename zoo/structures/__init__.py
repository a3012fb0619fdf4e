"""Structures and box ops shared by every part: the public part-API that plugins may import."""
from mmengine.structures import InstanceData

from .boxes import box_area, box_iou, clip_boxes, inside_flags, rescale_boxes
from .det_data_sample import DetDataSample

__all__ = ['InstanceData', 'DetDataSample', 'box_area', 'box_iou', 'clip_boxes', 'inside_flags',
           'rescale_boxes']
