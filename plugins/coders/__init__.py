"""Box coders: priors + targets -> regression deltas, and back.

* :class:`DeltaXYWHBBoxCoder`: the R-CNN / Faster R-CNN (tx, ty, tw, th) deltas.
"""
from .delta_xywh_bbox_coder import DeltaXYWHBBoxCoder

__all__ = ['DeltaXYWHBBoxCoder']
