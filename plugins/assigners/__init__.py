"""Assigners: label each prior positive (for which gt box), negative or ignored.

* :class:`MaxIoUAssigner`: IoU thresholds plus the paper's best-anchor rule.
* :class:`ATSSAssigner`: ATSS, a threshold per gt box from its nearest anchors' IoUs.
* :class:`GridAssigner`: YOLOv3's one best anchor per gt box at its centre's cell, batched.

What they return, :class:`~zoo.api.AssignResult` and :class:`~zoo.api.GridAssignResult`, is in
:mod:`zoo.api`.
"""
from .atss_assigner import ATSSAssigner
from .grid_assigner import GridAssigner
from .max_iou_assigner import MaxIoUAssigner

__all__ = ['ATSSAssigner', 'GridAssigner', 'MaxIoUAssigner']
