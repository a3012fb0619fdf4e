# The loss study of the IoU family on YOLOv3: the box loss of configs/yolo/yolov3_bccd.py
# (YOLOv3's own: squared error on the encoded targets (sigmoid(t_x), sigmoid(t_y), t_w, t_h))
# against IoU (1 - IoU), GIoU (Rezatofighi et al., CVPR 2019), DIoU and CIoU (Zheng et al.,
# "Distance-IoU Loss", AAAI 2020) on the decoded boxes. Everything else is the recipe's: its
# model, its k-means anchors, its data at 416 x 312 and its own schedule (12 epochs, AdamW; not
# the short schedule of _base_/bccd_short.py, which is too short for a from-scratch YOLO), seeds
# 0 and 1. Every box loss keeps weight 1 and darknet's 2 - w h weighting of each positive; like
# the MSE, each is summed over the positives and divided by the number of images. The DIoU
# paper reports, for YOLOv3 on PASCAL VOC (Tables 1-3), IoU < GIoU < DIoU < CIoU; see
# docs/yolo.md, "The loss study". 5 to 8 minutes a run on one CPU core, 10 runs:
#   zoo ablate configs/ablations/yolov3_box_loss.py
base = '../yolo/yolov3_bccd.py'
seeds = [0, 1]
_key = 'model.bbox_head.loss_bbox'
variants = dict(
    MSE=dict(),
    IoU={_key: dict(_delete_=True, type='IoULoss', loss_weight=1.0)},
    GIoU={_key: dict(_delete_=True, type='GIoULoss', loss_weight=1.0)},
    DIoU={_key: dict(_delete_=True, type='DIoULoss', loss_weight=1.0)},
    CIoU={_key: dict(_delete_=True, type='CIoULoss', loss_weight=1.0)},
)
