# Faster R-CNN VGG16 on BCCD, the paper's settings (short side 600, conv1-conv2 frozen).
# With torchvision's ImageNet file (no download here):
#   --cfg-options model.backbone.pretrained=checkpoints/vgg16-397923af.pth
# Without it the frozen conv1-conv2 stay random; pass model.backbone.frozen_stages=-1 to train all.
_base_ = [
    '../_base_/models/faster_rcnn_vgg16.py', '../_base_/datasets/bccd.py',
    '../_base_/schedules/schedule_1x.py', '../_base_/default_runtime.py',
]
# channels-last memory format (the same model and numbers up to rounding): on a CPU 1.2x faster
# inference and 1.05x faster training steps in float32, 1.4-1.5x and 1.1-1.25x in bfloat16
# (docs/performance.md).
model = dict(channels_last=True,
             rpn_head=dict(anchor_generator=dict(scales=[2, 4, 8, 16])),
             roi_head=dict(bbox_head=dict(num_classes=3)),
             test_cfg=dict(rcnn=dict(nms=dict(iou_threshold=0.5))))
optim_wrapper = dict(optimizer=dict(lr=0.0025))  # batch 2 (0.02 is for batch 16)

# Mixed precision (as --amp): bfloat16 autocast on the CPU, float16 with loss scaling on CUDA; RoI
# pooling, box coding, NMS and losses stay float32. Trained from scratch after this recipe on BCCD
# (2 CPU cores, seed 0, the best epoch's checkpoint): AP 0.473 / AP50 0.817 in bfloat16 against
# 0.472 / 0.817 in float32, with a median training step 1.7x shorter (4.4 s against 7.3 s;
# docs/performance.md). amp=False for float32.
amp = True
