"""Anchors fitted to a dataset: k-means with the distance 1 - IoU (YOLOv2's dimension clusters),
the box sizes a config trains on, and configs that carry the fitted anchors (``zoo anchors``)."""
from .boxes import box_sizes_from_config, find_resize
from .config import anchor_config_text, config_anchor_shapes, find_anchor_generators
from .kmeans import AnchorFit, anchor_stats, kmeans_anchors, split_by_area, wh_iou

__all__ = ['AnchorFit', 'anchor_config_text', 'anchor_stats', 'box_sizes_from_config',
           'config_anchor_shapes',
           'find_anchor_generators', 'find_resize', 'kmeans_anchors', 'split_by_area', 'wh_iou']
