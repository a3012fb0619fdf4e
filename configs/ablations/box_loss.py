# The box-regression loss of the RoI head: Smooth L1 on encoded deltas (Fast R-CNN, sec. 2.3;
# the paper's) against GIoU (Rezatofighi et al., CVPR 2019) and CIoU (Zheng et al., AAAI 2020)
# on decoded boxes, in the ZF Faster R-CNN of the main job. The IoU losses take weight 2 as in
# the faster_rcnn_zf_giou/ciou_bccd recipes (see there why not mmdet's 10 and 12).
#   zoo ablate configs/ablations/box_loss.py
_base_ = './_base_/bccd_short.py'
base = '../faster_rcnn/faster_rcnn_zf_bccd.py'
variants = dict(
    SmoothL1=dict(),
    GIoU=dict(base='../faster_rcnn/faster_rcnn_zf_giou_bccd.py'),
    CIoU=dict(base='../faster_rcnn/faster_rcnn_zf_ciou_bccd.py'),
)
