# Faster R-CNN with ZF, as in the paper (Ren et al. 2015) and py-faster-rcnn's
# models/pascal_voc/ZF/faster_rcnn_end2end: 9 anchors (base 16, scales 8/16/32, ratios 0.5/1/2),
# RPN 3x3 conv of 256 with the two-way softmax objectness, RoI pooling 6x6, fc6/fc7 4096 with
# dropout, approximate joint training.
model = dict(
    type='FasterRCNN',
    # py-faster-rcnn subtracts the pixel mean only (PIXEL_MEANS, in RGB order here)
    data_preprocessor=dict(type='DetDataPreprocessor', mean=[122.7717, 115.9465, 102.9801],
                           std=[1.0, 1.0, 1.0], pad_size_divisor=16),
    backbone=dict(type='ZFNet'),
    rpn_head=dict(
        type='RPNHead', in_channels=256, feat_channels=256,
        anchor_generator=dict(type='LegacyAnchorGenerator', strides=[16], base_sizes=[16],
                              ratios=[0.5, 1.0, 2.0], scales=[8, 16, 32]),
        bbox_coder=dict(type='DeltaXYWHBBoxCoder', target_means=[0.0] * 4, target_stds=[1.0] * 4),
        loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0),
        loss_bbox=dict(type='SmoothL1Loss', beta=1.0 / 9.0, loss_weight=1.0)),  # sigma 3
    roi_head=dict(
        type='StandardRoIHead',
        bbox_roi_extractor=dict(type='SingleRoIExtractor',
                                roi_layer=dict(type='RoIPool', output_size=6),
                                out_channels=256, featmap_strides=[16]),
        bbox_head=dict(
            type='Shared2FCBBoxHead', in_channels=256, roi_feat_size=6, fc_out_channels=4096,
            dropout=0.5, num_classes=20,
            bbox_coder=dict(type='DeltaXYWHBBoxCoder', target_means=[0.0] * 4,
                            target_stds=[0.1, 0.1, 0.2, 0.2]),
            loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0),
            loss_bbox=dict(type='SmoothL1Loss', beta=1.0, loss_weight=1.0))),
    train_cfg=dict(
        rpn=dict(
            assigner=dict(type='MaxIoUAssigner', pos_iou_thr=0.7, neg_iou_thr=0.3,
                          min_pos_iou=0.0, match_low_quality=True),
            sampler=dict(type='RandomSampler', num=256, pos_fraction=0.5),
            allowed_border=0),  # the paper ignores cross-boundary anchors in training
        rpn_proposal=dict(nms_pre=12000, max_per_img=2000, nms=dict(iou_threshold=0.7),
                          min_bbox_size=16),
        rcnn=dict(
            assigner=dict(type='MaxIoUAssigner', pos_iou_thr=0.5, neg_iou_thr=(0.1, 0.5),
                          min_pos_iou=0.5, match_low_quality=False),
            sampler=dict(type='RandomSampler', num=128, pos_fraction=0.25,
                         add_gt_as_proposals=True))),
    test_cfg=dict(
        rpn=dict(nms_pre=6000, max_per_img=300, nms=dict(iou_threshold=0.7), min_bbox_size=16),
        rcnn=dict(score_thr=0.05, nms=dict(iou_threshold=0.3), max_per_img=100)))
