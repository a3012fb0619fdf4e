"""Heads: dense heads (RPN, RetinaNet, YOLOv1, YOLOv2, YOLOv3) and RoI heads with their box heads."""
from .retina_head import RetinaHead
from .rpn_head import RPNHead
from .shared2fc_bbox_head import Shared2FCBBoxHead
from .standard_roi_head import StandardRoIHead
from .yolov1_head import YOLOV1Head
from .yolov2_head import YOLOV2Head
from .yolov3_head import YOLOV3Head

__all__ = ['RetinaHead', 'RPNHead', 'StandardRoIHead', 'Shared2FCBBoxHead', 'YOLOV1Head', 'YOLOV2Head',
           'YOLOV3Head']
