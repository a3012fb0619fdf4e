"""The RPN's training targets and losses in the paper's setting, against numbers worked out by hand.

Faster R-CNN (Ren et al. 2015) section 3.1.2: an anchor is positive with IoU >= 0.7 with a box,
or when it is the best anchor of a box; negative with IoU < 0.3 with every box; others are
ignored. Section 3.3: anchors crossing the image border are ignored in training
(``allowed_border=0``). The losses average over the sampled anchors (N_cls); Smooth L1 on the
deltas with sigma 3 (beta 1/9).

The scene: a 64 x 64 image, one feature level of stride 16 (4 x 4 cells), one 32 x 32 anchor per
cell, anchor (y, x) = [16x - 16, 16y - 16, 16x + 16, 16y + 16], index 4y + x. The anchors of row
0 and column 0 cross the border (7 of them). Two ground-truth boxes:

* g0 = [0, 0, 32, 32] is anchor (1, 1) exactly (IoU 1: positive);
* g1 = [40, 40, 64, 64] (24 x 24): its best anchor (3, 3) = [32, 32, 64, 64] has IoU
  576 / 1024 = 0.5625 < 0.7, positive only as the best anchor of g1.

IoU of the 9 inside anchors (max over g0, g1), worked out by hand:

=======  ==================  =====================================  =========
index    anchor              IoU                                    label
=======  ==================  =====================================  =========
5 (1,1)  [0, 0, 32, 32]      g0: 1                                  pos g0
6 (1,2)  [16, 0, 48, 32]     g0: 512 / 1536 = 0.333                 ignored
7 (1,3)  [32, 0, 64, 32]     0                                      neg
9 (2,1)  [0, 16, 32, 48]     g0: 0.333                              ignored
10 (2,2) [16, 16, 48, 48]    g0: 256 / 1792 = 0.143                 neg
11 (2,3) [32, 16, 64, 48]    g1: 192 / 1408 = 0.136                 neg
13 (3,1) [0, 32, 32, 64]     0                                      neg
14 (3,2) [16, 32, 48, 64]    g1: 0.136                              neg
15 (3,3) [32, 32, 64, 64]    g1: 0.5625 (best anchor of g1)         pos g1
=======  ==================  =====================================  =========

The sampler keeps every positive and negative (``num`` larger than the anchors), so the
losses are fixed numbers. The head's outputs are given (distinct logits and deltas per anchor),
so that an anchor taken for another, or a label flipped, changes the value.
"""
import math

import pytest
import torch
from mmengine.structures import InstanceData

import registry
from zoo.structures import DetDataSample

G0, G1 = [0., 0., 32., 32.], [40., 40., 64., 64.]
POS = {5: G0, 15: G1}                # anchor index -> matched box
NEG = [7, 10, 11, 13, 14]
BETA = 1.0 / 9.0
# every anchor kept: the losses below do not depend on a random draw
KEEP_ALL = dict(type='RandomSampler', num=1000, pos_fraction=0.5)


def _head(allowed_border=0, use_sigmoid=True):
    registry.discover()
    cfg = dict(type='RPNHead', in_channels=4, feat_channels=4,
               anchor_generator=dict(type='AnchorGenerator', strides=[16], sizes=[[32]],
                                     ratios=[1.0]),
               loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=use_sigmoid),
               loss_bbox=dict(type='SmoothL1Loss', beta=BETA),
               train_cfg=dict(assigner=dict(type='MaxIoUAssigner', pos_iou_thr=0.7,
                                            neg_iou_thr=0.3, min_pos_iou=0.0,
                                            match_low_quality=True),
                              sampler=KEEP_ALL, allowed_border=allowed_border))
    return registry.build('head', cfg)


def _sample():
    s = DetDataSample(metainfo=dict(img_shape=(64, 64), batch_input_shape=(64, 64)))
    s.gt_instances = InstanceData(bboxes=torch.tensor([G0, G1]), labels=torch.tensor([2, 0]))
    return s


def _anchor(i):
    y, x = divmod(i, 4)
    return [16. * x - 16, 16. * y - 16, 16. * x + 16, 16. * y + 16]


def _deltas(anchor, box):
    """(dx, dy, dw, dh), stds 1: the paper's eq. (2), written out."""
    pw, ph = anchor[2] - anchor[0], anchor[3] - anchor[1]
    gw, gh = box[2] - box[0], box[3] - box[1]
    px, py = anchor[0] + pw / 2, anchor[1] + ph / 2
    gx, gy = box[0] + gw / 2, box[1] + gh / 2
    return [(gx - px) / pw, (gy - py) / ph, math.log(gw / pw), math.log(gh / ph)]


def _smooth_l1(d):
    d = abs(d)
    return 0.5 * d * d / BETA if d < BETA else d - 0.5 * BETA


def _softplus(x):
    return math.log1p(math.exp(x))


# the head's outputs: one objectness logit per anchor (cell (y, x) -> index 4y + x) and four
# deltas; all distinct
LOGITS = torch.linspace(-2.0, 2.5, 16)
DELTAS = torch.linspace(-0.6, 0.7, 64).view(16, 4)


def _outputs():
    cls = LOGITS.view(1, 1, 4, 4)
    reg = DELTAS.t().reshape(1, 4, 4, 4)  # channel 4a + k, a = 0: channel k holds delta k
    return [cls], [reg]


def test_the_hand_computed_deltas():
    # anchor (3, 3): centre (48, 48), 32 x 32; g1: centre (52, 52), 24 x 24
    assert _anchor(15) == [32., 32., 64., 64.] and _anchor(5) == G0
    assert _deltas(_anchor(15), G1) == pytest.approx([0.125, 0.125, math.log(0.75), math.log(0.75)])


def test_assigned_labels_with_border_anchors_ignored():
    head = _head(allowed_border=0)
    priors = head._priors([torch.zeros(1, 1, 4, 4)])
    assert priors.tolist() == [_anchor(i) for i in range(16)]
    inside = [i for i in range(16) if min(_anchor(i)) >= 0 and max(_anchor(i)) <= 64]
    assert inside == [5, 6, 7, 9, 10, 11, 13, 14, 15]
    result = head.assigner.assign(priors[inside], torch.tensor([G0, G1]),
                                  torch.zeros(2, dtype=torch.long))
    # gt_inds: -1 ignored, 0 negative, i + 1 positive for box i
    assert dict(zip(inside, result.gt_inds.tolist(), strict=True)) == {
        5: 1, 6: -1, 7: 0, 9: -1, 10: 0, 11: 0, 13: 0, 14: 0, 15: 2}
    assert result.max_overlaps.tolist() == pytest.approx(
        [1.0, 1 / 3, 0.0, 1 / 3, 256 / 1792, 192 / 1408, 0.0, 192 / 1408, 0.5625])


def _expected_losses(pos, neg, objectness_loss):
    n = len(pos) + len(neg)
    cls = (sum(objectness_loss(i, True) for i in pos)
           + sum(objectness_loss(i, False) for i in neg)) / n
    box = sum(_smooth_l1(float(p) - t)
              for i, gt in pos.items()
              for p, t in zip(DELTAS[i], _deltas(_anchor(i), gt), strict=True)) / n
    return cls, box


def test_sigmoid_losses_by_hand_border_anchors_ignored():
    """The 2 positives and 5 negatives of the table: objectness is binary cross-entropy
    (object: softplus(-l), background: softplus(l)), boxes Smooth L1, both over 7."""
    head = _head(allowed_border=0)
    losses = head.loss_by_feat(*_outputs(), [_sample()])

    def bce(i, is_object):
        logit = float(LOGITS[i])
        return _softplus(-logit) if is_object else _softplus(logit)

    cls, box = _expected_losses(POS, NEG, bce)
    assert losses['loss_rpn_cls'].item() == pytest.approx(cls, rel=1e-5)
    assert losses['loss_rpn_bbox'].item() == pytest.approx(box, rel=1e-5)


def test_sigmoid_losses_by_hand_all_anchors():
    """``allowed_border=-1`` (torchvision): the 7 border anchors join. Their IoU: (0, 1) =
    [0, -16, 32, 16] and (1, 0) = [-16, 0, 16, 32] overlap g0 by 512 / 1536 = 0.333 (ignored);
    the other 5 are below 0.3 (negative: (0, 0) has 256 / 1792 with g0, the rest 0)."""
    head = _head(allowed_border=-1)
    losses = head.loss_by_feat(*_outputs(), [_sample()])

    def bce(i, is_object):
        logit = float(LOGITS[i])
        return _softplus(-logit) if is_object else _softplus(logit)

    cls, box = _expected_losses(POS, NEG + [0, 2, 3, 8, 12], bce)
    assert losses['loss_rpn_cls'].item() == pytest.approx(cls, rel=1e-5)
    assert losses['loss_rpn_bbox'].item() == pytest.approx(box, rel=1e-5)


def test_two_way_softmax_layout_by_hand():
    """The paper's two-way softmax (py-faster-rcnn's layout): for A anchors, channels [0, A)
    are background, [A, 2A) object; -log p(object) for positives, -log p(background) for
    negatives; the proposal score is p(object)."""
    head = _head(allowed_border=0, use_sigmoid=False)
    assert head.rpn_cls.out_channels == 2
    bg = torch.linspace(1.0, -1.5, 16)           # channel 0: background
    cls = torch.stack([bg, LOGITS]).view(1, 2, 4, 4)
    reg = DELTAS.t().reshape(1, 4, 4, 4)
    losses = head.loss_by_feat([cls], [reg], [_sample()])

    def softmax_ce(i, is_object):
        o, b = float(LOGITS[i]), float(bg[i])
        lse = math.log(math.exp(o) + math.exp(b))
        return lse - (o if is_object else b)

    expected_cls, expected_box = _expected_losses(POS, NEG, softmax_ce)
    assert losses['loss_rpn_cls'].item() == pytest.approx(expected_cls, rel=1e-5)
    assert losses['loss_rpn_bbox'].item() == pytest.approx(expected_box, rel=1e-5)
    logits, _, _ = head._flatten([cls], [reg])
    p_object = head._objectness(logits)[0]
    assert p_object.tolist() == pytest.approx(torch.sigmoid(LOGITS - bg).tolist(), rel=1e-5)
