# Faster R-CNN ZF on BCCD with the CIoU loss (Zheng et al., "Distance-IoU Loss", AAAI 2020) for
# the RoI head's boxes, on decoded boxes. Weight 2, not mmdet's 12
# (faster_rcnn_r50_fpn_ciou_1x_coco), for the reason given in faster_rcnn_zf_giou_bccd.py (the
# one-batch overfit test halves the loss in 4 steps at 2; at 12 not within 30: 3.09 -> 1.62).
_base_ = './faster_rcnn_zf_bccd.py'
model = dict(roi_head=dict(bbox_head=dict(
    loss_bbox=dict(_delete_=True, type='CIoULoss', loss_weight=2.0))))
