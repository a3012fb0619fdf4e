# Faster R-CNN ResNet-50-FPN on BCCD with the GIoU loss for the RoI head's boxes (on decoded
# boxes). Weight 2 rather than mmdet's 10 for a backbone trained from scratch, see
# faster_rcnn_zf_giou_bccd.py; with torchvision's ImageNet file (see faster_rcnn_r50_fpn_bccd.py)
# mmdet's --cfg-options model.roi_head.bbox_head.loss_bbox.loss_weight=10.0 is the usual choice.
_base_ = './faster_rcnn_r50_fpn_bccd.py'
model = dict(roi_head=dict(bbox_head=dict(
    loss_bbox=dict(_delete_=True, type='GIoULoss', loss_weight=2.0))))
