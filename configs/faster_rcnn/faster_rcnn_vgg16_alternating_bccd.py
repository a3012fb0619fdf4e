# Faster R-CNN VGG16 on BCCD trained by the paper's 4-step alternating training (Ren et al.
# 2015, section 3.2; py-faster-rcnn's tools/train_faster_rcnn_alt_opt.py with
# models/pascal_voc/VGG16/faster_rcnn_alt_opt): the model, data and optimizer of
# faster_rcnn_vgg16_bccd.py (conv1-conv2 frozen in every step; pass ImageNet weights as there:
#   --cfg-options model.backbone.pretrained=checkpoints/vgg16-397923af.pth).
# See faster_rcnn_zf_alternating_bccd.py and docs/faster_rcnn.md for the four steps.
#
# Schedule: py-faster-rcnn trains 80k / 40k / 80k / 40k iterations at lr 0.001, one image per
# RPN batch and two per Fast R-CNN batch: the same number of images in every step, the lr
# dropped 10x at 3/4 of each, 240k iterations in all against 70k for its approximate joint
# training (3.4x). Here every batch holds 2 images, so every step gets the same iterations:
# those of the joint recipe's 1x schedule (12 epochs of BCCD's 205 images, about 1230), at its
# lr 0.0025 (batch 2), dropped at 3/4, with its 500-iteration warm-up in the two steps that
# train the convolutions. On a CPU this takes many hours; it is meant for a GPU.
_base_ = ['./faster_rcnn_vgg16_bccd.py']

train_cfg = dict(
    _delete_=True, type='AlternatingTrainLoop',
    steps=[
        dict(name='rpn', iters=1200, lr=0.0025, milestones=[900], warmup_iters=500,
             warmup_ratio=0.001),
        dict(name='fast_rcnn', iters=1200, lr=0.0025, milestones=[900], warmup_iters=500,
             warmup_ratio=0.001),
        dict(name='rpn_finetune', iters=1200, lr=0.0025, milestones=[900], warmup_iters=100,
             warmup_ratio=0.1),
        dict(name='fast_rcnn_finetune', iters=1200, lr=0.0025, milestones=[900],
             warmup_iters=100, warmup_ratio=0.1),
    ])
param_scheduler = []  # the loop sets each step's learning rate (lr, milestones, warm-up)
default_hooks = dict(checkpoint=dict(by_epoch=False, interval=400), logger=dict(interval=20))
log_processor = dict(by_epoch=False)
# each step trains a part of the network: DDP must allow parameters without gradients
model_wrapper_cfg = dict(type='MMDistributedDataParallel', find_unused_parameters=True)
