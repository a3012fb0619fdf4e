# YOLOv3 on BCCD with the later training tricks of the YOLO line (configs/yolo/yolov3_bccd.py's
# model, anchors and schedule, plus):
# - Mosaic (YOLOv4, Bochkovskiy et al. 2020, section 3.3): four training images in one 832 x 832
#   canvas (each fitted into 416 x 416, i.e. 416 x 312 for BCCD's 640 x 480) around a random
#   centre, cropped back to 416 x 416 by RandomAffine (scale 0.5..1.5 about the centre, moved by
#   up to 10 %: YOLOv5's and mmdet's crop after the mosaic), so objects keep their test scale on
#   average (configs/yolo/yolov3_mosaic_bccd.py is this pipeline alone; see docs/yolo.md, "Mosaic");
# - multi-scale training (YOLOv2, Redmon & Farhadi 2017, section 2 "Multi-Scale Training"): every
#   10 batches a new square input size in {320, 352, ..., 608} for the whole batch, in the data
#   preprocessor (BatchSyncRandomResize; the same on every process in distributed training);
# - the IoU-valued objectness target (YOLOv2's, `rescore=True`);
# - the CIoU box loss on decoded boxes (Zheng et al., AAAI 2020) instead of squared error.
# Testing is as in yolov3_bccd.py (416 x 312, one scale), and so are the anchors (fitted at the
# test scale: `zoo anchors` scales boxes by the training pipeline's first Resize, and this one
# has none, so fit anchors on yolov3_bccd.py).
_base_ = ['./yolov3_mosaic_bccd.py']  # yolov3_bccd.py trained on mosaics cropped back
model = dict(
    data_preprocessor=dict(batch_augments=[
        dict(type='BatchSyncRandomResize', random_size_range=(320, 608), interval=10,
             size_divisor=32)]),
    bbox_head=dict(rescore=True, loss_bbox=dict(type='CIoULoss', loss_weight=1.0)))
