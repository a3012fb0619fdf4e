# The backbones of Faster R-CNN on BCCD: ZF (the paper's fast model), VGG16 (the paper's
# accurate one) and ResNet-50 with FPN (the modern form, torchvision's fasterrcnn_resnet50_fpn),
# each in its BCCD recipe (its own anchors, RoI extractor and optimizer), trained from scratch on
# the shared short schedule. VGG16 and R50-FPN cost 5-10x ZF per iteration on a CPU: expect an
# hour or more per run on 2 cores; on a GPU, minutes.
#   zoo ablate configs/ablations/backbone.py
_base_ = './_base_/bccd_short.py'
base = '../faster_rcnn/faster_rcnn_zf_bccd.py'
variants = dict(
    ZF=dict(),
    VGG16=dict(base='../faster_rcnn/faster_rcnn_vgg16_bccd.py'),
    R50_FPN=dict(base='../faster_rcnn/faster_rcnn_r50_fpn_bccd.py'),
)
