# BCCD at the one-stage recipes' scale: 416 px on the long side (ratio kept: 416 x 312),
# horizontal and vertical flips (a smear has no up and down), batch 8: bccd.py with these
# pipelines (inherit this file instead of bccd.py).
_base_ = ['./bccd.py']
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(416, 416), keep_ratio=True),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='RandomFlip', prob=0.5, direction='vertical'),
    dict(type='PackDetInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(416, 416), keep_ratio=True),
    dict(type='PackDetInputs'),
]
train_dataloader = dict(batch_size=8, num_workers=1, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(num_workers=1, dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
