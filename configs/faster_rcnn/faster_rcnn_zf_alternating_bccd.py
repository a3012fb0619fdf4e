# Faster R-CNN ZF on BCCD trained by the paper's 4-step alternating training (Ren et al. 2015,
# section 3.2; py-faster-rcnn's tools/train_faster_rcnn_alt_opt.py) instead of approximate joint
# training. Same model, data and optimizer as faster_rcnn_zf_bccd.py (GroupNorm ZF from scratch,
# 640x480, SGD momentum 0.9, weight decay 1e-4, gradient clipping at 10), so that
# configs/ablations/training_scheme.py compares the two training schemes and nothing else.
#
# The four steps (zoo.runner.alternating_loop.AlternatingTrainLoop; docs/faster_rcnn.md):
#   1. rpn: backbone (from its initial weights) + RPN, RPN losses only;
#   2. fast_rcnn: backbone again from the SAME initial weights + RoI head, on the stored
#      proposals of the step-1 RPN (work_dir/proposals_step1.pth);
#   3. rpn_finetune: backbone of step 2 frozen, RPN-only layers fine-tuned;
#   4. fast_rcnn_finetune: backbone still frozen, RoI head fine-tuned on the step-3 RPN's
#      proposals. One checkpoint per step: step1_rpn.pth ... step4_fast_rcnn_finetune.pth.
#
# Schedule. py-faster-rcnn (VOC, ImageNet-initialised): 80k / 40k / 80k / 40k iterations at lr
# 0.001, dropped 10x at 3/4 of each step, one image per RPN batch and two per Fast R-CNN batch,
# i.e. the same number of images in every step. Here every batch holds 2 images (205 training
# images: 103 iterations an epoch) and the run is scaled down to the joint recipe's wall time
# (28 min on 2 CPU cores: 927 joint iterations of about 1.75 s, two validations). Against a
# joint iteration, one of step 1 or 2 costs about 0.7-0.75 (both train the backbone), one of
# step 3 or 4 about 0.35-0.4 (the frozen backbone only runs forward), and each pass of an RPN
# over the 205 training images for the stored proposals about 75 s: 360 / 480 / 300 / 300
# iterations (3.5 / 4.7 / 2.9 / 2.9 epochs), two proposal passes and one final
# validation come to about 28 minutes. Step 2 gets the most: its convolutions are those of the
# final network. Each step drops its lr 10x at 3/4 as py-faster-rcnn's solvers do; steps 1 and
# 2 train from scratch and warm up as the joint recipe does (150 iterations from 1 %), steps 3
# and 4 briefly (50 iterations from 10 %).
_base_ = ['./faster_rcnn_zf_bccd.py']

train_cfg = dict(
    _delete_=True, type='AlternatingTrainLoop',
    steps=[
        dict(name='rpn', iters=360, lr=0.01, milestones=[270], warmup_iters=150,
             warmup_ratio=0.01),
        dict(name='fast_rcnn', iters=480, lr=0.01, milestones=[360], warmup_iters=150,
             warmup_ratio=0.01),
        dict(name='rpn_finetune', iters=300, lr=0.01, milestones=[225], warmup_iters=50,
             warmup_ratio=0.1),
        dict(name='fast_rcnn_finetune', iters=300, lr=0.01, milestones=[225], warmup_iters=50,
             warmup_ratio=0.1),
    ])
param_scheduler = []  # the loop sets each step's learning rate (lr, milestones, warm-up)
default_hooks = dict(checkpoint=dict(by_epoch=False, interval=100), logger=dict(interval=20))
log_processor = dict(by_epoch=False)
# each step trains a part of the network: DDP must allow parameters without gradients
model_wrapper_cfg = dict(type='MMDistributedDataParallel', find_unused_parameters=True)
