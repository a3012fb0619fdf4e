"""Structures and box ops shared by every part (re-exported by :mod:`zoo.api`, the public part API)."""
from mmengine.structures import InstanceData

from .boxes import (IOU_EPS, batched_diou_nms, batched_nms_topk, box_area, box_diou, box_iof, box_iou,
                    clip_boxes, first_k_per_group, inside_flags, paired_iou, rescale_boxes, shape_iou,
                    size_keep_mask)
from .det_data_sample import DetDataSample

__all__ = ['InstanceData', 'DetDataSample', 'IOU_EPS', 'batched_diou_nms', 'batched_nms_topk', 'box_area',
           'box_diou', 'box_iof', 'box_iou', 'clip_boxes', 'first_k_per_group', 'inside_flags', 'paired_iou',
           'rescale_boxes', 'shape_iou', 'size_keep_mask']
