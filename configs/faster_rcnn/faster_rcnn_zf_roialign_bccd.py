# The main-job recipe with RoIAlign (He et al., Mask R-CNN, 2017) instead of RoI pooling:
# the one-line switch between the two.
_base_ = './faster_rcnn_zf_bccd.py'
model = dict(roi_head=dict(bbox_roi_extractor=dict(
    roi_layer=dict(type='RoIAlign', output_size=6, sampling_ratio=2, aligned=True))))
