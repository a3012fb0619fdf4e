# YOLOv3 on BCCD (configs/yolo/yolov3_bccd.py: model, anchors, losses, schedule) trained on mosaics
# cropped back to the test scale (configs/_base_/datasets/bccd_416_mosaic.py): Mosaic (YOLOv4,
# Bochkovskiy et al. 2020, section 3.3) puts four images, each fitted into 416 x 416, into an
# 832 x 832 canvas; RandomAffine (mmdet's and Ultralytics' crop after the mosaic, border -208)
# scales it by 0.5..1.5 about its centre, moves it by up to 10 % and keeps the 416 x 416 middle,
# so objects are at their test scale on average (YOLOv5's and YOLOX's pipeline, without rotation
# and shear). Only the training pipeline differs from yolov3_bccd.py (the anchors too: fit them
# on yolov3_bccd.py, since `zoo anchors` scales boxes by the training pipeline's first Resize
# and this one has none); it is the recipe for long schedules, e.g. with
#     zoo train configs/yolo/yolov3_mosaic_bccd.py --time-budget 60 --fit-schedule
_base_ = ['./yolov3_bccd.py', '../_base_/datasets/bccd_416_mosaic.py']
train_dataloader = dict(dataset=dict(pipeline={{_base_.mosaic_train_pipeline}}))
