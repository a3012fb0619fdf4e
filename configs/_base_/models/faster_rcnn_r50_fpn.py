# The modern Faster R-CNN: ResNet-50 (frozen BN, stem and layer1 frozen), FPN P2-P6, anchors
# 32-512 at strides 4-64, RoIAlign 7x7 over P2-P5 (FPN level mapping k0 = 4, canonical 224),
# two FC layers of 1024. Settings follow torchvision's fasterrcnn_resnet50_fpn.
model = dict(
    type='FasterRCNN',
    # NHWC convolutions (and the ResNet's frozen BN folded into them, its default): same
    # outputs, faster on CPU and GPU; see docs/performance.md
    channels_last=True,
    data_preprocessor=dict(type='DetDataPreprocessor', mean=[123.675, 116.28, 103.53],
                           std=[58.395, 57.12, 57.375], pad_size_divisor=32),
    backbone=dict(type='ResNet', depth=50, frozen_stages=1, norm='frozen_bn'),
    neck=dict(type='FPN', in_channels=[256, 512, 1024, 2048], out_channels=256),
    rpn_head=dict(
        type='RPNHead', in_channels=256, feat_channels=256,
        anchor_generator=dict(type='AnchorGenerator', strides=[4, 8, 16, 32, 64],
                              sizes=[[32], [64], [128], [256], [512]], ratios=[0.5, 1.0, 2.0]),
        bbox_coder=dict(type='DeltaXYWHBBoxCoder', target_means=[0.0] * 4, target_stds=[1.0] * 4),
        loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=True, loss_weight=1.0),
        loss_bbox=dict(type='SmoothL1Loss', beta=1.0 / 9.0, loss_weight=1.0)),
    roi_head=dict(
        type='StandardRoIHead',
        bbox_roi_extractor=dict(type='SingleRoIExtractor',
                                roi_layer=dict(type='RoIAlign', output_size=7, sampling_ratio=2,
                                               aligned=False),
                                out_channels=256, featmap_strides=[4, 8, 16, 32]),
        bbox_head=dict(
            type='Shared2FCBBoxHead', in_channels=256, roi_feat_size=7, fc_out_channels=1024,
            num_classes=80,
            bbox_coder=dict(type='DeltaXYWHBBoxCoder', target_means=[0.0] * 4,
                            target_stds=[0.1, 0.1, 0.2, 0.2]),
            loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0),
            loss_bbox=dict(type='SmoothL1Loss', beta=1.0 / 9.0, loss_weight=1.0))),
    train_cfg=dict(
        rpn=dict(
            assigner=dict(type='MaxIoUAssigner', pos_iou_thr=0.7, neg_iou_thr=0.3,
                          min_pos_iou=0.0, match_low_quality=True),
            sampler=dict(type='RandomSampler', num=256, pos_fraction=0.5),
            allowed_border=-1),  # torchvision keeps cross-boundary anchors
        rpn_proposal=dict(nms_pre=2000, max_per_img=2000, nms=dict(iou_threshold=0.7),
                          min_bbox_size=1e-3),
        rcnn=dict(
            assigner=dict(type='MaxIoUAssigner', pos_iou_thr=0.5, neg_iou_thr=0.5,
                          min_pos_iou=0.5, match_low_quality=False),
            sampler=dict(type='RandomSampler', num=512, pos_fraction=0.25,
                         add_gt_as_proposals=True))),
    test_cfg=dict(
        rpn=dict(nms_pre=1000, max_per_img=1000, nms=dict(iou_threshold=0.7), min_bbox_size=1e-3),
        rcnn=dict(score_thr=0.05, nms=dict(iou_threshold=0.5), max_per_img=100,
                  min_bbox_size=1e-2)))
