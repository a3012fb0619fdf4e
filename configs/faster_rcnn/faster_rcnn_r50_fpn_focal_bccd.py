# Faster R-CNN ResNet-50-FPN on BCCD with the focal loss (gamma 2, alpha 0.25) as the RPN's
# objectness (already a sigmoid there); the RPN still samples 256 anchors per image. Weight 5:
# 256 / 49, 49 being the mean number of positive anchors per BCCD training image at this scale
# (1000 x 600), so that the loss is normalised by the positives as in RetinaNet (see
# faster_rcnn_zf_focal_bccd.py).
_base_ = './faster_rcnn_r50_fpn_bccd.py'
model = dict(rpn_head=dict(
    loss_cls=dict(_delete_=True, type='FocalLoss', use_sigmoid=True, gamma=2.0, alpha=0.25,
                  loss_weight=5.0)))
