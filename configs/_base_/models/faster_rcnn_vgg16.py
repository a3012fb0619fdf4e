# Faster R-CNN with VGG16, as in the paper: conv5_3 at stride 16, conv1-conv2 frozen
# (section 3.3 / py-faster-rcnn), RPN 3x3 conv of 512, RoI pooling 7x7, fc6/fc7 4096.
_base_ = './faster_rcnn_zf.py'
model = dict(
    backbone=dict(_delete_=True, type='VGG', depth=16, frozen_stages=2),
    rpn_head=dict(in_channels=512, feat_channels=512),
    roi_head=dict(
        bbox_roi_extractor=dict(roi_layer=dict(type='RoIPool', output_size=7), out_channels=512),
        bbox_head=dict(in_channels=512, roi_feat_size=7)))
