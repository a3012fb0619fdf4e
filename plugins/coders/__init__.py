"""Box coders: priors + targets -> regression deltas, and back.

* :class:`DeltaXYWHBBoxCoder`: the R-CNN / Faster R-CNN (tx, ty, tw, th) deltas.
* :class:`YOLOBBoxCoder`: YOLOv3's cell offsets and log size ratios to cell-centred anchors.
"""
from .delta_xywh_bbox_coder import DeltaXYWHBBoxCoder
from .yolo_bbox_coder import YOLOBBoxCoder

__all__ = ['DeltaXYWHBBoxCoder', 'YOLOBBoxCoder']
