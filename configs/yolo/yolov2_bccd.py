# YOLOv2 on BCCD, trained from scratch on a CPU (Redmon & Farhadi, "YOLO9000", CVPR 2017): Darknet-19
# with batch norm on every convolution, the passthrough (reorg) layer stacking the stride-16 map
# into the stride-32 one, one 13 x 13 head (at 416 px) with 5 k-means anchors, sigmoid(t) + c /
# p * exp(t) boxes, softmax classes and the IoU-valued objectness target (rescore). What differs
# from the paper, and why:
# - Darknet-19's layout at a quarter of its width (widen_factor=0.25: 8 .. 256 channels instead of
#   32 .. 1024), the neck's convolutions at 256 and the passthrough at 16 (darknet: 1024, 64):
#   Darknet-19 needs 5.58 billion operations at 224 px (paper, section "Faster"), about 3.4
#   times that at 416 px before the detection layers, and a quarter width about 1/16 of it, to
#   train on a CPU; no ImageNet weights can be had here;
# - the input is the paper's 416 (long side, ratio kept: 416 x 312, padded to a multiple of 32),
#   one scale: no multi-scale training;
# - the anchors are 5 k-means clusters (distance 1 - IoU, the paper's "Dimension Clusters") of
#   the BCCD training boxes at that scale, fitted with
#       zoo anchors configs/yolo/yolov2_bccd.py --k 5 --seed 0
#   (mean IoU 0.848 with the boxes, best possible recall at IoU 0.5 0.995; darknet's VOC anchors,
#   YOLOV2Head's default, have a mean IoU of 0.529 with them);
# - AdamW and a short schedule instead of darknet's SGD for 160 epochs;
# - vertical flips too: a smear has no up and down.
_base_ = ['../_base_/datasets/bccd_416.py',
          '../_base_/schedules/adamw_12e_cpu.py', '../_base_/default_runtime.py']
model = dict(
    type='SingleStageDetector',
    # darknet feeds images scaled to [0, 1]
    data_preprocessor=dict(type='DetDataPreprocessor', mean=[0.0, 0.0, 0.0],
                           std=[255.0, 255.0, 255.0], pad_size_divisor=32),
    backbone=dict(type='Darknet', depth=19, widen_factor=0.25, out_indices=(4, 5)),
    neck=dict(type='YOLOV2Neck', feat_channels=256, passthrough_channels=16),
    bbox_head=dict(
        type='YOLOV2Head', num_classes=3, in_channels=[320], feat_channels=[256],
        anchor_generator=dict(
            type='YOLOAnchorGenerator', strides=[32],
            base_sizes=[[(26, 25), (58, 64), (70, 56), (75, 72), (138, 125)]]),
        bbox_coder=dict(type='YOLOBBoxCoder'),
        loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0),
        loss_conf=dict(type='CrossEntropyLoss', use_sigmoid=True, loss_weight=1.0),
        loss_bbox=dict(type='MSELoss', loss_weight=1.0),
        rescore=True),
    train_cfg=dict(assigner=dict(type='GridAssigner', ignore_iou_thr=0.6)),
    test_cfg=dict(nms_pre=1000, conf_thr=0.005, score_thr=0.05, nms=dict(iou_threshold=0.45),
                  max_per_img=100))
default_hooks = dict(logger=dict(interval=10))
