# RetinaNet ResNet-50-FPN (Lin et al., "Focal Loss for Dense Object Detection", ICCV 2017, sec. 4):
# ResNet C3-C5, FPN P3-P5 of 256 channels plus P6 (3x3 stride-2 conv on C5) and P7 (ReLU, 3x3
# stride-2 conv on P6); 9 anchors per location (sizes 32..512 on P3..P7, octave scales 2^0,
# 2^(1/3), 2^(2/3), ratios 1:2, 1:1, 2:1); two towers of four 3x3 convolutions of 256; sigmoid
# focal loss (gamma 2, alpha 0.25) over every anchor, normalized by the positive anchors; IoU >= 0.5
# positive, < 0.4 negative; smooth L1 on deltas (beta 0.11, Detectron's); the classifier's bias at
# prior probability 0.01; at test the 1000 best per level above 0.05, NMS 0.5, 100 per image.
# mmdet's retinanet_r50_fpn and torchvision's retinanet_resnet50_fpn are the references (both
# regress with L1: `model.bbox_head.loss_bbox=dict(_delete_=True, type='L1Loss')`).
model = dict(
    type='RetinaNet',
    channels_last=True,
    data_preprocessor=dict(type='DetDataPreprocessor', mean=[123.675, 116.28, 103.53],
                           std=[58.395, 57.12, 57.375], pad_size_divisor=32),
    backbone=dict(type='ResNet', depth=50, frozen_stages=1, norm='frozen_bn', out_indices=(1, 2, 3)),
    neck=dict(type='FPN', in_channels=[512, 1024, 2048], out_channels=256, extra_convs='on_input'),
    bbox_head=dict(
        type='RetinaHead', num_classes=80, in_channels=256, feat_channels=256, stacked_convs=4,
        anchor_generator=dict(type='AnchorGenerator', strides=[8, 16, 32, 64, 128],
                              scales=[4.0, 4 * 2 ** (1 / 3), 4 * 2 ** (2 / 3)],
                              ratios=[0.5, 1.0, 2.0]),
        bbox_coder=dict(type='DeltaXYWHBBoxCoder', target_means=[0.0] * 4, target_stds=[1.0] * 4),
        loss_cls=dict(type='FocalLoss', use_sigmoid=True, gamma=2.0, alpha=0.25, loss_weight=1.0),
        loss_bbox=dict(type='SmoothL1Loss', beta=0.11, loss_weight=1.0),
        prior_prob=0.01),
    train_cfg=dict(assigner=dict(type='MaxIoUAssigner', pos_iou_thr=0.5, neg_iou_thr=0.4,
                                 min_pos_iou=0.0, match_low_quality=True, ignore_iof_thr=-1)),
    test_cfg=dict(nms_pre=1000, score_thr=0.05, nms=dict(iou_threshold=0.5),
                  max_per_img=100, min_bbox_size=0))
