# YOLOv3-SPP on BCCD: configs/yolo/yolov3_bccd.py (its backbone, anchors, pipeline and schedule)
# with the spatial-pyramid-pooling block of darknet's yolov3-spp.cfg in the neck: max pools of
# 5, 9 and 13 (stride 1, 'same' padding) concatenated with their input, between the third and
# fourth convolutions of the coarsest (stride-32) detection block. At 416 x 312 that map is
# 13 x 10 cells, so the 13-pool sees (almost) the whole image.
_base_ = ['./yolov3_bccd.py']
model = dict(neck=dict(spp_kernel_sizes=[5, 9, 13]))
