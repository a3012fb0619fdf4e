"""The YOLOv2 head: five anchors per cell on one 13 x 13 map (at 416 px), softmax classes and the
IoU-valued objectness target.

Source: Redmon & Farhadi, "YOLO9000: Better, Faster, Stronger", CVPR 2017, section "Better":
"Convolutional With Anchor Boxes" (a 1x1 convolution predicting, per anchor, 4 box coordinates,
an objectness and C class probabilities), "Dimension Clusters" (k = 5 anchors from k-means with
the distance 1 - IoU), "Direct location prediction" (figure 3)::

    b_xy = sigmoid(t_xy) + c_xy      b_wh = p_wh * exp(t_wh)      Pr(object) * IoU(b, object) = sigmoid(t_o)

and "Training for detection" (a 3x3 convolution of 1024 on the passthrough concatenation, then
the 1x1 prediction); darknet's ``region_layer.c`` with ``yolo-voc.cfg`` (``softmax=1``,
``rescore=1``, ``thresh=.6``).

This is :class:`~plugins.heads.yolov3_head.YOLOV3Head` with one level and YOLOv2's settings as
defaults; the layers, the assignment (:class:`GridAssigner`: the gt box's best-shaped anchor in
the cell of its centre is positive, a prediction overlapping a gt by more than 0.6 is ignored),
the losses and inference are that class's. What darknet's region layer does and this head does
not: the ``object_scale`` 5 on positives' objectness (set ``loss_conf``'s weight for all
predictions instead), and, for the first 12800 images, a loss pulling every prediction towards
its anchor's shape and cell centre (a warm-up for a network without the paper's ImageNet weights).
"""
from __future__ import annotations

from typing import Optional, Sequence

from registry import HEADS

from .yolov3_head import YOLOV3Head

__all__ = ['YOLOV2Head']

#: darknet's ``yolo-voc.cfg`` anchors (in cells of 32 px: 1.32 x 1.73, 3.19 x 4.01, 5.06 x 8.10,
#: 9.47 x 4.84, 11.24 x 10.01), in pixels, rounded.
VOC_ANCHORS = dict(type='YOLOAnchorGenerator', strides=[32],
                   base_sizes=[[(42, 55), (102, 128), (162, 259), (303, 155), (360, 320)]])


@HEADS.register_module()
class YOLOV2Head(YOLOV3Head):
    """YOLOv2's dense head (see the module docstring); the arguments are :class:`YOLOV3Head`'s,
    with YOLOv2's defaults.

    Args:
        num_classes: C.
        in_channels: ``[channels]`` of the one input level (``YOLOV2Neck``: ``[1280]``).
        anchor_generator: default ``YOLOAnchorGenerator`` at stride 32 with darknet's five VOC
            anchors (fit your own with ``zoo anchors CONFIG --k 5``).
        feat_channels: the 3x3 convolution's channels (YOLOv2: ``[1024]``).
        loss_cls: default softmax ``CrossEntropyLoss`` over the C classes at positives (darknet's
            ``softmax=1``; its delta ``onehot - p`` is that loss's gradient).
        rescore: default True: the objectness target at a positive is the IoU of its decoded box
            with its gt box.
        train_cfg: default ``dict(assigner=dict(type='GridAssigner', ignore_iou_thr=0.6))``
            (darknet's ``thresh=.6``).
        norm, bbox_coder, loss_conf, loss_bbox, box_weight_by_area, test_cfg: as YOLOV3Head.

    Shapes: ``forward(feats)``: ``[(B, in_channels[0], H, W)]`` -> ``[(B, 5 (5 + C), H, W)]``.

    Raises:
        As :class:`YOLOV3Head`.
    """

    def __init__(self, num_classes: int, in_channels: Sequence[int] = (1280,),
                 anchor_generator: Optional[dict] = None,
                 feat_channels: Optional[Sequence[int]] = (1024,), norm: str = 'bn',
                 bbox_coder: Optional[dict] = None, loss_cls: Optional[dict] = None,
                 loss_conf: Optional[dict] = None, loss_bbox: Optional[dict] = None,
                 box_weight_by_area: bool = True, rescore: bool = True,
                 train_cfg: Optional[dict] = None, test_cfg: Optional[dict] = None):
        train_cfg = dict(train_cfg or {})
        train_cfg.setdefault('assigner', dict(type='GridAssigner', ignore_iou_thr=0.6))
        super().__init__(
            num_classes, in_channels, anchor_generator or VOC_ANCHORS, feat_channels, norm,
            bbox_coder, loss_cls or dict(type='CrossEntropyLoss', use_sigmoid=False), loss_conf,
            loss_bbox, box_weight_by_area, rescore, train_cfg, test_cfg)
