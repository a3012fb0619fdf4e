# RetinaNet ResNet-50-FPN on BCCD (the paper's model, configs/_base_/models/retinanet_r50_fpn.py),
# BCCD at py-faster-rcnn's scale (short side 600: 800 x 600), mmdet's 1x schedule.
# With torchvision's ImageNet file (no download here), as the paper trains it:
#   --cfg-options model.backbone.pretrained=checkpoints/resnet50-0676ba61.pth \
#                 model.backbone.norm=frozen_bn model.backbone.frozen_stages=1
# Without it the network trains from scratch: batch-norm statistics are learnt (norm='bn').
# On a CPU this is slow: 194 GFLOPs an image forward at 800 x 608 (four 256-channel 3x3
# convolutions per tower on a 100 x 76 P3 map), a training step of 2 images about 70 s on 2 shared
# cores; retinanet_darknet_tiny_fpn_bccd.py is the CPU-scale recipe (2.0 GFLOPs, 8 images in 10 s).

_base_ = [
    '../_base_/models/retinanet_r50_fpn.py', '../_base_/datasets/bccd.py',
    '../_base_/schedules/schedule_1x.py', '../_base_/default_runtime.py',
]
model = dict(backbone=dict(norm='bn', norm_eval=False, frozen_stages=-1),
             bbox_head=dict(num_classes=3))
# mmdet's RetinaNet: 0.01 for 16 images a batch; batch 2 here. Clipping as mmdet 2.x did for
# from-scratch stability (the first iterations' focal gradients through an untrained tower).
optim_wrapper = dict(optimizer=dict(lr=0.00125), clip_grad=dict(max_norm=35, norm_type=2))
