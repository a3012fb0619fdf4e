# How Faster R-CNN's RPN and Fast R-CNN head learn to share their convolutions (Ren et al. 2015,
# sec. 3.2): approximate joint training (one network, the RPN and Fast R-CNN losses summed; the
# README's main job) against the paper's 4-step alternating training (RPN; Fast R-CNN on the
# stored step-1 proposals, from the same initial weights; RPN-only layers fine-tuned on the
# frozen step-2 convolutions; Fast R-CNN-only layers fine-tuned on the step-3 proposals). Same
# ZF model, data and optimizer, each in its full BCCD recipe and sized to the same wall time
# (about 28 minutes a run on 2 CPU cores): the table gives AP and training time of each.
# docs/faster_rcnn.md discusses the result.
#   zoo ablate configs/ablations/training_scheme.py
base = '../faster_rcnn/faster_rcnn_zf_bccd.py'
seeds = [0]
# float32, as the documented comparison was made (the ZF recipe itself trains in bfloat16 now)
common = {'amp': False}
variants = dict(
    joint=dict(),
    alternating=dict(base='../faster_rcnn/faster_rcnn_zf_alternating_bccd.py'),
)
