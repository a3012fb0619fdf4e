# Faster R-CNN R50-FPN on COCO, 1x schedule: torchvision's fasterrcnn_resnet50_fpn settings.
# Weights of torchvision's model load after `zoo convert torchvision SRC.pth DST.pth`
# (its 91-slot class layout maps onto these 80 classes), e.g. `zoo test THIS_CONFIG DST.pth`.
_base_ = [
    '../_base_/models/faster_rcnn_r50_fpn.py', '../_base_/datasets/coco_detection.py',
    '../_base_/schedules/schedule_1x.py', '../_base_/default_runtime.py',
]
model = dict(roi_head=dict(bbox_head=dict(num_classes=80)))
