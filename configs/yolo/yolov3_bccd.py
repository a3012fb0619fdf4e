# YOLOv3 on BCCD, trained from scratch on a CPU (Redmon & Farhadi 2018; mmdet's yolov3_d53
# recipes for the layout). What differs from the paper's Darknet-53 at 416 px, and why:
# - the backbone is YOLOv3-tiny's (Darknet depth='tiny') at half width and the neck at a quarter
#   of YOLOv3's channels: a few hundred MFLOPs per image, so an epoch of BCCD's 205 training
#   images takes about 10 seconds on one CPU core in bfloat16 (20 in float32); no ImageNet
#   weights can be had here;
# - images are resized to 416 x 312 (long side 416, ratio kept) and padded to a multiple of 32;
# - the anchors are 9 k-means clusters (distance 1 - IoU, YOLOv2's "Dimension Clusters") of the
#   BCCD training boxes at that scale, fitted with
#       zoo anchors configs/yolo/yolov3_bccd.py --k 9 --seed 0
#   (mean IoU 0.876 with the boxes, best possible recall at IoU 0.5 0.998; YOLOv3's COCO
#   anchors 10x13 .. 373x326 have a mean IoU of 0.652 with them);
# - AdamW and a short schedule instead of darknet's SGD with 500k iterations;
# - vertical flips too: a smear has no up and down.
_base_ = ['../_base_/datasets/bccd_416.py', '../_base_/schedules/adamw_12e_cpu.py',
          '../_base_/default_runtime.py']
model = dict(
    type='YOLOV3',
    # channels-last memory format (the same model and numbers up to rounding): on a CPU about 1.5x
    # faster inference and 1.05x faster training steps (docs/performance.md)
    channels_last=True,
    # darknet feeds images scaled to [0, 1]
    data_preprocessor=dict(type='DetDataPreprocessor', mean=[0.0, 0.0, 0.0],
                           std=[255.0, 255.0, 255.0], pad_size_divisor=32),
    backbone=dict(type='Darknet', depth='tiny', widen_factor=0.5, out_indices=(3, 4, 5)),
    neck=dict(type='YOLOV3Neck', out_channels=[32, 64, 128]),
    bbox_head=dict(
        type='YOLOV3Head', num_classes=3, in_channels=[32, 64, 128],
        anchor_generator=dict(
            type='YOLOAnchorGenerator', strides=[8, 16, 32],
            base_sizes=[[(26, 25), (47, 45), (65, 53)], [(57, 62), (78, 58), (60, 77)],
                        [(70, 68), (84, 78), (141, 127)]]),
        bbox_coder=dict(type='YOLOBBoxCoder'),
        loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=True, loss_weight=1.0),
        loss_conf=dict(type='CrossEntropyLoss', use_sigmoid=True, loss_weight=1.0),
        loss_bbox=dict(type='MSELoss', loss_weight=1.0)),
    train_cfg=dict(assigner=dict(type='GridAssigner', ignore_iou_thr=0.5)),
    test_cfg=dict(nms_pre=1000, conf_thr=0.005, score_thr=0.05, nms=dict(iou_threshold=0.45),
                  max_per_img=100))
default_hooks = dict(logger=dict(interval=10))

# Mixed precision (as --amp): bfloat16 autocast on the CPU, float16 with loss scaling on CUDA; box
# coding, NMS and losses stay float32. Measured on BCCD (2 CPU cores, seed 0): AP 0.486 / AP50
# 0.867 against 0.490 / 0.867 in float32 NCHW, training steps about 1.3x and inference about 1.7x
# faster with channels-last (docs/performance.md). amp=False for float32.
amp = True
