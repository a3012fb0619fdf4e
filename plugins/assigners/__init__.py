"""Assigners: label each prior positive (for which gt box), negative or ignored.

* :class:`MaxIoUAssigner`: IoU thresholds plus the paper's best-anchor rule.
* :class:`GridAssigner`: YOLOv3's one best anchor per gt box at its centre's cell, batched.
* :class:`AssignResult`: what an assigner returns (:class:`GridAssignResult`: batched).
"""
from .assign_result import AssignResult
from .grid_assigner import GridAssigner, GridAssignResult, shape_iou
from .max_iou_assigner import MaxIoUAssigner

__all__ = ['AssignResult', 'GridAssigner', 'GridAssignResult', 'MaxIoUAssigner', 'shape_iou']
