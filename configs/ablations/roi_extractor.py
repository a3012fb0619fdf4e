# RoIPool (Fast R-CNN, sec. 2.1; the paper's Faster R-CNN) against RoIAlign (Mask R-CNN,
# sec. 3: bilinear sampling, no quantisation of the RoI or its bins) in the ZF Faster R-CNN of
# the main job, 6x6 output either way (ZF's fc6 takes 256x6x6). Run on this machine for
# docs/ablations.md:
#   zoo ablate configs/ablations/roi_extractor.py
_base_ = './_base_/bccd_short.py'
base = '../faster_rcnn/faster_rcnn_zf_bccd.py'
axes = dict(roi_layer=dict(
    key='model.roi_head.bbox_roi_extractor.roi_layer',
    values=dict(RoIPool=dict(type='RoIPool', output_size=6),
                RoIAlign=dict(type='RoIAlign', output_size=6, sampling_ratio=2, aligned=True))))
