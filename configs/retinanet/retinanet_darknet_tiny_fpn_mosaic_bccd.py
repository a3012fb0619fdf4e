# RetinaNet at CPU scale (configs/retinanet/retinanet_darknet_tiny_fpn_bccd.py: model, data,
# schedule) for long schedules, e.g.
#     zoo train configs/retinanet/retinanet_darknet_tiny_fpn_mosaic_bccd.py --time-budget 60 --fit-schedule
# What differs from that recipe:
# - trained on mosaics cropped back to the test scale (configs/_base_/datasets/bccd_416_mosaic.py:
#   Mosaic into 832 x 832, RandomAffine back to 416 x 416; configs/yolo/yolov3_mosaic_bccd.py's
#   pipeline);
# - anchors fitted to BCCD at 416 px: octave scales 2.5 x (2^0, 2^(1/3), 2^(2/3)) instead of the
#   paper's 4 x, i.e. 20-32 px at stride 8 up to 160-254 px on P6 (BCCD's boxes at this scale:
#   platelets 20-35 px, red cells 54-78, white cells 75-156; the paper's smallest, 32 px, gives a
#   20-px platelet an IoU of 0.39, below the 0.4 negative threshold, and P6-P7 matched nothing);
# - the mosaic turned off for the last 10 epochs (PipelineSwitchHook back to the plain
#   resize-and-flip pipeline; Ultralytics' close_mosaic=10, YOLOX's last 15 epochs), counted from
#   the end of the schedule as --fit-schedule refits it;
# - the GIoU loss on decoded boxes (Rezatofighi et al., CVPR 2019; mmdet's retinanet GIoU
#   recipe: weight 2) instead of smooth L1 on the deltas;
# - mixed precision (as --amp): bfloat16 autocast on the CPU, float16 with loss scaling on CUDA.
# With --time-budget 60 --fit-schedule on one core of this CPU, on BCCD val: AP 60.5 / AP50 91.6
# (seed 0), 59.1 / 91.1 (seed 1); YOLOv8n in the same minutes 60.4 / 90.0 and 59.2 / 88.3
# (docs/yolo.md, "Against Ultralytics YOLOv8n").
_base_ = ['./retinanet_darknet_tiny_fpn_bccd.py', '../_base_/datasets/bccd_416_mosaic.py']
model = dict(bbox_head=dict(
    anchor_generator=dict(scales=[2.5, 2.5 * 2 ** (1 / 3), 2.5 * 2 ** (2 / 3)]),
    loss_bbox=dict(_delete_=True, type='GIoULoss', loss_weight=2.0)))
train_dataloader = dict(dataset=dict(pipeline={{_base_.mosaic_train_pipeline}}))
custom_hooks = [dict(type='PipelineSwitchHook', num_last_epochs=10,
                     switch_pipeline={{_base_.train_pipeline}})]
amp = True
