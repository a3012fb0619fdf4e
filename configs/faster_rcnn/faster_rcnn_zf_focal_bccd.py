# Faster R-CNN ZF on BCCD with the focal loss (Lin et al., ICCV 2017, eq. 5; gamma 2, alpha 0.25)
# as the RPN's objectness: a sigmoid, so the RPN predicts one logit per anchor instead of the
# paper's two-way softmax. The RPN still samples 256 anchors per image and divides the summed
# loss by them; RetinaNet divides by the number of positive anchors instead (focal loss paper,
# section 4). Weight 8 restores that normalisation: 256 / 33, 33 being the mean number of
# positive anchors per BCCD training image at this recipe's scale (640 x 480).
_base_ = './faster_rcnn_zf_bccd.py'
model = dict(rpn_head=dict(
    loss_cls=dict(_delete_=True, type='FocalLoss', use_sigmoid=True, gamma=2.0, alpha=0.25,
                  loss_weight=8.0)))
