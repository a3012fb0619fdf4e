# RetinaNet on BCCD at CPU scale: the dense focal head (RetinaHead, focal loss over every anchor,
# no sampling, prior-probability bias) on the backbone of configs/yolo/yolov3_bccd.py, trained
# from scratch with that recipe's data and schedule, so that the two one-stage heads compare on
# the same features. What differs from the paper's RetinaNet (configs/retinanet/
# retinanet_r50_fpn_bccd.py), and why:
# - YOLOv3-tiny's Darknet at half width instead of ResNet-50 (C3-C5: 64, 128, 512 channels): a
#   backbone of a few hundred MFLOPs an image (the whole model: 2.0 GFLOPs forward at 416 x 320);
#   no ImageNet weights can be had here;
# - FPN of 64 channels, P6 from P5 ('on_output', torchvision's v1 form: cheaper than from C5),
#   towers of two convolutions of 64 (paper: four of 256) with group norm (torchvision's
#   retinanet_resnet50_fpn_v2 puts GN in the head; batch statistics of a from-scratch head are
#   noise early on);
# - 416 x 312 input (yolov3_bccd's), so P6/P7's anchors (256-645 px) match nothing on BCCD and
#   only add negatives, which the focal loss is there to absorb; the paper's anchors are kept;
# - AdamW, batch 8, 12 epochs (yolov3_bccd's schedule) instead of SGD over 90k iterations.
_base_ = ['../_base_/models/retinanet_r50_fpn.py', '../_base_/datasets/bccd_416.py',
          '../_base_/schedules/adamw_12e_cpu.py', '../_base_/default_runtime.py']
model = dict(
    channels_last=False,
    data_preprocessor=dict(mean=[0.0, 0.0, 0.0], std=[255.0, 255.0, 255.0]),
    backbone=dict(_delete_=True, type='Darknet', depth='tiny', widen_factor=0.5,
                  out_indices=(3, 4, 5)),
    neck=dict(_delete_=True, type='FPN', out_channels=64, extra_convs='on_output'),
    bbox_head=dict(num_classes=3, in_channels=64, feat_channels=64, stacked_convs=2, norm='gn'))
default_hooks = dict(logger=dict(interval=10))
