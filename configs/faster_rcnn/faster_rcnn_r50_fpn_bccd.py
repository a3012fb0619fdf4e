# Faster R-CNN ResNet-50-FPN on BCCD, torchvision's settings otherwise.
# With torchvision's ImageNet file (no download here), as torchvision trains it:
#   --cfg-options model.backbone.pretrained=checkpoints/resnet50-0676ba61.pth \
#                 model.backbone.norm=frozen_bn model.backbone.frozen_stages=1
# Without it the network trains from scratch: batch-norm statistics are learnt (norm='bn').
_base_ = [
    '../_base_/models/faster_rcnn_r50_fpn.py', '../_base_/datasets/bccd.py',
    '../_base_/schedules/schedule_1x.py', '../_base_/default_runtime.py',
]
model = dict(backbone=dict(norm='bn', norm_eval=False, frozen_stages=-1),
             roi_head=dict(bbox_head=dict(num_classes=3)))
optim_wrapper = dict(optimizer=dict(lr=0.0025))  # batch 2 (0.02 is for batch 16)
