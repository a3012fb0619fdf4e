# The mosaic training pipeline of the one-stage recipes at bccd_416.py's scale, under its own
# name so that a recipe inheriting bccd_416.py (through its model recipe) can add this file as a
# second base and pick it: `train_dataloader = dict(dataset=dict(pipeline=
# {{_base_.mosaic_train_pipeline}}))`. Mosaic (YOLOv4, Bochkovskiy et al. 2020, section 3.3) puts
# four images, each fitted into 416 x 416, into an 832 x 832 canvas; RandomAffine (mmdet's and
# Ultralytics' crop after the mosaic, border -208) scales it by 0.5..1.5 about its centre, moves
# it by up to 10 % and keeps the 416 x 416 middle, so objects are at their test scale on average
# (YOLOv5's and YOLOX's pipeline, without rotation and shear).
mosaic_train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Mosaic', img_scale=(416, 416), center_ratio_range=(0.5, 1.5), prob=1.0,
         pad_val=114, min_bbox_size=1),
    dict(type='RandomAffine', scaling_ratio_range=(0.5, 1.5), max_translate_ratio=0.1,
         border=(-208, -208), pad_val=114, min_bbox_size=2, min_area_ratio=0.1),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='RandomFlip', prob=0.5, direction='vertical'),
    dict(type='SanitizeBoxes', min_size=1),
    dict(type='PackDetInputs'),
]
