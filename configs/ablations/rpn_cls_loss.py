# The RPN's objectness loss: cross-entropy over 256 sampled anchors (the paper, sec. 3.1.2)
# against sigmoid focal loss (RetinaNet, Lin et al., ICCV 2017, gamma 2, alpha 0.25), in the ZF
# Faster R-CNN of the main job (the faster_rcnn_zf_focal_bccd recipe explains its weight 8).
#   zoo ablate configs/ablations/rpn_cls_loss.py
_base_ = './_base_/bccd_short.py'
base = '../faster_rcnn/faster_rcnn_zf_bccd.py'
variants = dict(
    CrossEntropy=dict(),
    Focal=dict(base='../faster_rcnn/faster_rcnn_zf_focal_bccd.py'),
)
