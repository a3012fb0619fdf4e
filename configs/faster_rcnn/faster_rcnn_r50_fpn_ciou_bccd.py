# Faster R-CNN ResNet-50-FPN on BCCD with the CIoU loss for the RoI head's boxes (on decoded
# boxes). Weight 2 rather than mmdet's 12 for a backbone trained from scratch, see
# faster_rcnn_zf_giou_bccd.py.
_base_ = './faster_rcnn_r50_fpn_bccd.py'
model = dict(roi_head=dict(bbox_head=dict(
    loss_bbox=dict(_delete_=True, type='CIoULoss', loss_weight=2.0))))
