"""Assigners: label each prior positive (for which gt box), negative or ignored.

* :class:`MaxIoUAssigner`: IoU thresholds plus the paper's best-anchor rule.
* :class:`AssignResult`: what an assigner returns.
"""
from .assign_result import AssignResult
from .max_iou_assigner import MaxIoUAssigner

__all__ = ['AssignResult', 'MaxIoUAssigner']
