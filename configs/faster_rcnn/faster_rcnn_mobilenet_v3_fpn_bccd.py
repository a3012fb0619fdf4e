# Faster R-CNN MobileNetV3-Large-FPN on BCCD, trained from scratch on a CPU: a backbone from
# another framework (torchvision's classification model, through TorchvisionBackbone; its
# channels and strides are measured when it is built, and the FPN takes them as its inputs).
# Modelled on torchvision's fasterrcnn_mobilenet_v3_large_320_fpn, its low-resolution mobile
# form (MobileNetV3-Large, FPN of 256 channels with a max-pooled extra level, anchor ratios
# 0.5/1/2, short side 320 and long side at most 640, 150 proposals at test, RoIAlign 7x7, two
# FC layers of 1024), and on the R50-FPN recipe. What differs, and why:
# - feature nodes features.6 / features.12 / features.16 (strides 8, 16, 32; 40, 112, 960
#   channels); torchvision takes features.13 and features.16, both at stride 32, which the
#   zoo's FPN refuses (its levels must get finer) and which cannot place a 25-px platelet;
# - one anchor size per level, 32 / 64 / 128 / 256 px at strides 8 / 16 / 32 / 64 (BCCD's
#   cells are 25-170 px at this scale; torchvision puts all five sizes 32-512 on each level);
# - no ImageNet weights can be had here, so every BatchNorm of MobileNetV3 is a GroupNorm
#   (training from scratch with 2 images a batch; He et al., "Rethinking ImageNet
#   Pre-training", 2019) and nothing is frozen; with torchvision's ImageNet file:
#     --cfg-options model.backbone.pretrained=checkpoints/mobilenet_v3_large-8738ca79.pth \
#                   model.backbone.norm=frozen_bn model.backbone.frozen_stages=1
# - 128 RoIs sampled per image (torchvision: 512; py-faster-rcnn's 128 costs a quarter of the
#   box head's time), vertical flips too, and a short, steep schedule (3 epochs).
_base_ = [
    '../_base_/models/faster_rcnn_r50_fpn.py', '../_base_/datasets/bccd.py',
    '../_base_/default_runtime.py',
]
model = dict(
    channels_last=False,
    backbone=dict(_delete_=True, type='TorchvisionBackbone', model_name='mobilenet_v3_large',
                  out_nodes=['features.6', 'features.12', 'features.16'], norm='gn'),
    neck=dict(_delete_=True, type='FPN', out_channels=256),  # in_channels: the backbone's, measured
    rpn_head=dict(anchor_generator=dict(strides=[8, 16, 32, 64],
                                        sizes=[[32], [64], [128], [256]])),
    roi_head=dict(bbox_roi_extractor=dict(featmap_strides=[8, 16, 32]),
                  bbox_head=dict(num_classes=3)),
    train_cfg=dict(rpn_proposal=dict(nms_pre=2000, max_per_img=1000),
                   rcnn=dict(sampler=dict(num=128))),
    test_cfg=dict(rpn=dict(nms_pre=150, max_per_img=150)))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(640, 320), keep_ratio=True),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='RandomFlip', prob=0.5, direction='vertical'),
    dict(type='PackDetInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(640, 320), keep_ratio=True),
    dict(type='PackDetInputs'),
]
train_dataloader = dict(num_workers=1, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(num_workers=1, dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader

max_epochs = 3  # 309 iterations of 2 images
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=max_epochs)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
optim_wrapper = dict(type='OptimWrapper',
                     optimizer=dict(type='SGD', lr=0.02, momentum=0.9, weight_decay=0.0001),
                     clip_grad=dict(max_norm=10.0))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=100),
    dict(type='MultiStepLR', begin=0, end=max_epochs, by_epoch=True, milestones=[2], gamma=0.1),
]
default_hooks = dict(logger=dict(interval=20))
