"""Evaluation: COCO box AP (pycocotools) and Pascal VOC AP as mmengine metrics.

Importing this package registers ``CocoMetric`` and ``VOCMetric`` in the ``metric`` catalogue.
Both read, per image, ``pred_instances`` (boxes in original-image pixels) and the metainfo
``instances`` (ground truth in original-image pixels) of the data samples the model returns.
"""
from .coco_json import gt_to_coco_dict, results_to_coco_json, xyxy_to_xywh
from .coco_metric import STAT_NAMES, CocoMetric
from .samples import unpack_sample
from .voc_ap import average_precision, box_iou, match_detections, precision_recall
from .voc_metric import VOCMetric

__all__ = ['gt_to_coco_dict', 'results_to_coco_json', 'xyxy_to_xywh', 'STAT_NAMES', 'CocoMetric',
           'unpack_sample', 'average_precision', 'box_iou', 'match_detections',
           'precision_recall', 'VOCMetric']
