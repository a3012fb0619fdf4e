# YOLOv1 on BCCD, trained from scratch on a CPU (Redmon et al., CVPR 2016). The head is the
# paper's: a 7 x 7 grid, 2 boxes per cell, the S x S x (B * 5 + C) output of two fully connected
# layers, eq. 3 with lambda_coord 5 and lambda_noobj 0.5, square roots of the sizes, the box
# with the highest IoU responsible. What differs, and why:
# - the convolutional part is YOLOv3-tiny's backbone at half width (Darknet depth='tiny'), not
#   the paper's 24 layers pretrained on ImageNet (none can be had here), and the first fully
#   connected layer has 512 units (4096 in the paper);
# - images keep their ratio, long side 448 (448 x 336, padded to 448 x 352): the grid covers the
#   padded input;
# - AdamW and a short schedule instead of the paper's SGD for 135 epochs;
# - vertical flips too: a smear has no up and down.
# BCCD's red cells are dense (about 15 per image, cells of 64 x 50 px): one class per cell and
# 98 boxes per image are YOLOv1's known limits (paper section 2.4), visible here.
_base_ = ['../_base_/datasets/bccd.py', '../_base_/schedules/adamw_12e_cpu.py',
          '../_base_/default_runtime.py']
model = dict(
    type='SingleStageDetector',
    data_preprocessor=dict(type='DetDataPreprocessor', mean=[0.0, 0.0, 0.0],
                           std=[255.0, 255.0, 255.0], pad_size_divisor=32),
    backbone=dict(type='Darknet', depth='tiny', widen_factor=0.5, out_indices=(5,)),
    bbox_head=dict(
        type='YOLOV1Head', num_classes=3, in_channels=512, grid_size=7, num_boxes=2,
        feat_channels=128, fc_channels=512, dropout=0.5, lambda_coord=5.0, lambda_noobj=0.5,
        loss_bbox=dict(type='MSELoss', loss_weight=1.0),
        loss_cls=dict(type='MSELoss', loss_weight=1.0)),
    test_cfg=dict(nms_pre=1000, score_thr=0.05, nms=dict(iou_threshold=0.5), max_per_img=100))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(448, 448), keep_ratio=True),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='RandomFlip', prob=0.5, direction='vertical'),
    dict(type='PackDetInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(448, 448), keep_ratio=True),
    dict(type='PackDetInputs'),
]
train_dataloader = dict(batch_size=8, num_workers=1, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(num_workers=1, dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader

optim_wrapper = dict(optimizer=dict(lr=0.001))  # half the schedule's AdamW learning rate
default_hooks = dict(logger=dict(interval=10))
