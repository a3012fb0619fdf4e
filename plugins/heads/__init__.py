"""Heads: dense heads (RPN) and RoI heads with their box heads."""
from .rpn_head import RPNHead
from .shared2fc_bbox_head import Shared2FCBBoxHead
from .standard_roi_head import StandardRoIHead

__all__ = ['RPNHead', 'StandardRoIHead', 'Shared2FCBBoxHead']
