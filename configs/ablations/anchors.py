# The RPN's anchors on BCCD: the paper's 3 scales x 3 ratios (128, 256, 512 px; sec. 3.1.1),
# the main job's 4 x 3 (32-256 px, fitted by eye to BCCD's 30-250 px cells), and 9 anchors
# fitted to BCCD's training boxes by k-means with the distance 1 - IoU (YOLOv2, "Dimension
# Clusters"), all at ZF's stride 16. The k-means anchors are those printed by
#   zoo anchors configs/faster_rcnn/faster_rcnn_zf_bccd.py --k 9 \
#       --cfg-options "train_dataloader.dataset.pipeline=[dict(type='LoadImageFromFile'),dict(type='Resize',scale=(480,360),keep_ratio=True),dict(type='PackDetInputs')]"  # noqa: E501
# (480x360, the short schedule's scale: mean IoU with the boxes 0.876 against 0.693 for the
# main job's 12 anchors; best possible recall at IoU 0.5 is 0.998 for both). A free list of
# (w, h) pairs is what YOLOAnchorGenerator holds; the RPN takes any anchor scheme with one level
# at stride 16.
#   zoo ablate configs/ablations/anchors.py
_base_ = './_base_/bccd_short.py'
base = '../faster_rcnn/faster_rcnn_zf_bccd.py'
_key = 'model.rpn_head.anchor_generator'
variants = dict(
    paper_3x3={_key: dict(_delete_=True, type='LegacyAnchorGenerator', strides=[16],
                          base_sizes=[16], scales=[8, 16, 32], ratios=[0.5, 1.0, 2.0])},
    bccd_4x3=dict(),
    kmeans_9={_key: dict(_delete_=True, type='YOLOAnchorGenerator', strides=[16], base_sizes=[[
        (30, 28), (54, 51), (75, 61), (65, 72), (90, 67), (69, 89), (81, 78), (96, 90),
        (162, 147)]])},
)
