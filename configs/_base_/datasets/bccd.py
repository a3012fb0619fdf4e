# BCCD (blood-cell microscope images, Pascal VOC layout, 3 classes; data/BCCD, MIT licence).
# Images are 640x480; py-faster-rcnn's scale (short side 600, long side at most 1000).
data_root = '{{ fileDirname }}/../../../data/BCCD'
classes = ('RBC', 'WBC', 'Platelets')

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(1000, 600), keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(1000, 600), keep_ratio=True),
    dict(type='PackDetInputs'),
]
train_dataloader = dict(
    batch_size=2, num_workers=2, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(type='VOCDataset', data_root=data_root, classes=classes, split='train',
                 filter_empty_gt=True, pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1, num_workers=2, persistent_workers=True, drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(type='VOCDataset', data_root=data_root, classes=classes, split='val',
                 test_mode=True, pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = [dict(type='CocoMetric', classes=classes), dict(type='VOCMetric', classes=classes)]
test_evaluator = val_evaluator
