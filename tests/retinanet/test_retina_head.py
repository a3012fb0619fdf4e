"""RetinaHead (RetinaNet, Lin et al., ICCV 2017, sec. 3-4) against a hand computation and
against torchvision's RetinaNetHead.

* the losses of a tiny case worked by hand: four anchors in a row, two gt boxes, one anchor in
  the ignore band [0.4, 0.5); the focal term of eq. 5 written out with ``math``, summed over the
  anchors that are not ignored, divided by the number of positives of the whole batch (a
  second image shows it is the batch's, not each image's); Smooth L1 (beta 0.11) of the deltas;
* the prior-probability bias: ``sigmoid(b) = pi`` (0.01), and every class score of a fresh head
  is ``pi`` on blank features;
* the same weights, features, anchors and matches give torchvision's head outputs and its
  ``compute_loss`` (one image, L1 box loss, as torchvision has it); the zoo's MaxIoUAssigner
  with RetinaNet's thresholds gives torchvision's ``Matcher`` matches;
* FPN's RetinaNet levels (P6 from C5, P7 from ReLU(P6)) equal torchvision's ``LastLevelP6P7``;
* the config checks (no sampler, a sigmoid classifier) and the post-processing.
"""
from __future__ import annotations

import math
from collections import OrderedDict

import pytest
import torch
from mmengine.structures import InstanceData
from torch import nn

import registry
from registry import ConfigError
from zoo.structures import DetDataSample

BETA = 0.11  # Smooth L1 of the head's default (Detectron's RetinaNet)


def head(**kwargs):
    registry.discover()
    cfg = dict(type='RetinaHead', num_classes=2, in_channels=8, feat_channels=8, stacked_convs=1,
               anchor_generator=dict(type='AnchorGenerator', strides=[16], sizes=[[16]], ratios=[1.0]))
    cfg.update(kwargs)
    return registry.build('head', cfg, key='model.bbox_head')


def sample(boxes, labels, shape=(16, 64)):
    s = DetDataSample(metainfo=dict(img_shape=shape, ori_shape=shape, scale_factor=(1.0, 1.0)))
    s.gt_instances = InstanceData(bboxes=torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4),
                                  labels=torch.tensor(labels, dtype=torch.long))
    return s


def focal(x: float, target: int, alpha: float = 0.25, gamma: float = 2.0) -> float:
    """Eq. 5 of the paper for one logit: -alpha_t (1 - p_t)^gamma log(p_t)."""
    p = 1 / (1 + math.exp(-x))
    if target:
        return -alpha * (1 - p) ** gamma * math.log(p)
    return -(1 - alpha) * p ** gamma * math.log(1 - p)


def smooth_l1(d: float, beta: float = BETA) -> float:
    return 0.5 * d * d / beta if abs(d) < beta else abs(d) - 0.5 * beta


# Anchors of a 1 x 4 map at stride 16, one 16 x 16 anchor per cell centred on the cell's corner:
# a0 [-8, -8, 8, 8], a1 [8, -8, 24, 8], a2 [24, -8, 40, 8], a3 [40, -8, 56, 8].
GT1, GT2 = [8.0, -8.0, 24.0, 8.0], [27.0, -8.0, 56.0, 8.0]
# a1 = GT1 (IoU 1): positive, class 0. a3 against GT2: 16 / 29 = 0.552: positive, class 1.
# a2 against GT2: 13 * 16 / (256 + 464 - 208) = 0.406: ignored (between 0.4 and 0.5; not GT2's
# best anchor). a0 touches nothing: negative.
LOGITS = [[-1.0, 0.5], [2.0, -3.0], [4.0, 4.0], [-0.5, 1.5]]       # (anchor, class)
DELTAS = [[0.1, 0.0, 0.0, 0.0], [0.05, -0.2, 0.3, 0.0], [9.0, 9.0, 9.0, 9.0], [-0.3, 0.02, 0.5, 0.1]]


def maps(logits, deltas):
    """(N, C) and (N, 4) of a 1 x N map with A = 1 -> (1, C, 1, N) and (1, 4, 1, N)."""
    return (torch.tensor(logits).t().reshape(1, -1, 1, len(logits)),
            torch.tensor(deltas).t().reshape(1, 4, 1, len(deltas)))


def test_assignment_of_the_hand_case():
    h = head()
    priors = h.anchor_generator.grid_priors([(1, 4)])[0]
    assert priors.tolist() == [[-8, -8, 8, 8], [8, -8, 24, 8], [24, -8, 40, 8], [40, -8, 56, 8]]
    labels, weights, _ = h.get_targets(priors, [sample([GT1, GT2], [0, 1])])
    assert labels.tolist() == [[2, 0, 2, 1]] and weights.tolist() == [[1.0, 1.0, 0.0, 1.0]]


def test_losses_by_hand_one_image():
    h = head()
    cls, reg = maps(LOGITS, DELTAS)
    losses = h.loss_by_feat([cls], [reg], [sample([GT1, GT2], [0, 1])])
    targets = {0: (0, 0), 1: (1, 0), 3: (0, 1)}  # anchor -> one-hot row; a2 ignored
    summed = sum(focal(LOGITS[a][c], t[c]) for a, t in targets.items() for c in range(2))
    assert float(losses['loss_cls']) == pytest.approx(summed / 2, rel=1e-5)  # 2 positives
    # boxes: a1's target deltas are 0; a3's: dx = (41.5 - 48) / 16, dw = log(29 / 16)
    t3 = [(41.5 - 48.0) / 16, 0.0, math.log(29 / 16), 0.0]
    box = sum(smooth_l1(d) for d in DELTAS[1]) + sum(smooth_l1(p - t) for p, t in zip(DELTAS[3], t3))
    assert float(losses['loss_bbox']) == pytest.approx(box / 2, rel=1e-5)


def test_losses_are_normalized_by_the_positives_of_the_batch():
    """Two images, 2 + 1 positives: the summed losses are divided by 3 (mmdet, Detectron), not
    each image by its own and averaged (torchvision)."""
    h = head()
    second = [[0.3, -2.0], [-1.0, 1.0], [0.0, 0.0], [1.0, -1.0]]
    cls = torch.cat([maps(LOGITS, DELTAS)[0], maps(second, DELTAS)[0]])
    reg = torch.cat([maps(LOGITS, DELTAS)[1], torch.zeros(1, 4, 1, 4)])
    gt_b = [8.0, -8.0, 24.0, 8.0]
    losses = h.loss_by_feat([cls], [reg], [sample([GT1, GT2], [0, 1]), sample([gt_b], [1])])
    first = sum(focal(LOGITS[a][c], t[c]) for a, t in {0: (0, 0), 1: (1, 0), 3: (0, 1)}.items()
                for c in range(2))
    # image 2: a1 = gt_b, class 1; the others do not touch it: negatives (IoU 0)
    other = sum(focal(second[a][c], (a == 1 and c == 1)) for a in range(4) for c in range(2))
    assert float(losses['loss_cls']) == pytest.approx((first + other) / 3, rel=1e-5)
    t3 = [(41.5 - 48.0) / 16, 0.0, math.log(29 / 16), 0.0]
    box = sum(smooth_l1(d) for d in DELTAS[1]) + sum(smooth_l1(p - t) for p, t in zip(DELTAS[3], t3))
    assert float(losses['loss_bbox']) == pytest.approx(box / 3, rel=1e-5)  # image 2's deltas hit 0


def test_no_positive_divides_by_one():
    h = head()
    cls, reg = maps(LOGITS, DELTAS)
    losses = h.loss_by_feat([cls], [reg], [sample([], [])])
    assert float(losses['loss_cls']) == pytest.approx(sum(focal(x, 0) for row in LOGITS for x in row),
                                                      rel=1e-5)
    assert float(losses['loss_bbox']) == 0.0


def test_decoded_box_loss_compares_boxes():
    h = head(loss_bbox=dict(type='GIoULoss'))
    cls, reg = maps(LOGITS, [[0.0] * 4] * 4)
    losses = h.loss_by_feat([cls], [reg], [sample([GT1, GT2], [0, 1])])
    # a1 decodes to GT1 (GIoU loss 0); a3 stays [40, -8, 56, 8] against GT2 (inside it): 1 - 16/29
    assert float(losses['loss_bbox']) == pytest.approx((1 - 16 / 29) / 2, rel=1e-5)


@pytest.mark.parametrize('pi', [0.01, 0.2])
def test_prior_probability_bias(pi):
    h = head(prior_prob=pi, num_classes=3, stacked_convs=4)
    assert h.retina_cls.bias.shape == (3,)
    assert torch.allclose(torch.sigmoid(h.retina_cls.bias), torch.full((3,), pi), atol=1e-7)
    assert h.retina_cls.bias[0].item() == pytest.approx(-math.log((1 - pi) / pi))
    assert (h.retina_reg.bias == 0).all()
    assert all(0.005 < float(m.weight.detach().std()) < 0.02 for m in h.modules() if isinstance(m, nn.Conv2d))
    cls, _ = h([torch.zeros(2, 8, 3, 5)])  # blank features: the towers give 0, the score is pi
    assert torch.allclose(cls[0].sigmoid(), torch.full_like(cls[0], pi), atol=1e-6)


def test_default_is_the_papers_head():
    registry.discover()
    h = registry.build('head', dict(type='RetinaHead', num_classes=80), key='model.bbox_head')
    assert len(h.cls_convs) == len(h.reg_convs) == 4 and h.num_base_priors == 9
    assert h.retina_cls.out_channels == 9 * 80 and h.retina_reg.out_channels == 9 * 4
    assert type(h.loss_cls).__name__ == 'FocalLoss' and (h.loss_cls.gamma, h.loss_cls.alpha) == (2.0, 0.25)
    assert type(h.loss_bbox).__name__ == 'SmoothL1Loss' and h.loss_bbox.beta == BETA
    assert (h.assigner.pos_iou_thr, h.assigner.neg_iou_thr) == (0.5, 0.4)
    assert list(h.anchor_generator.strides) == [8, 16, 32, 64, 128]
    sizes = [math.sqrt((b[2] - b[0]) * (b[3] - b[1])) for b in h.anchor_generator.base_anchors[0][3:6]]
    assert sizes == pytest.approx([32, 32 * 2 ** (1 / 3), 32 * 2 ** (2 / 3)], abs=1.5)  # ratio 1


@pytest.mark.parametrize('kwargs, word', [
    (dict(train_cfg=dict(sampler=dict(type='RandomSampler', num=256, pos_fraction=0.5))),
     'every anchor'),
    (dict(loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=False)), 'use_sigmoid'),
    (dict(loss_cls=dict(type='FocalLoss', reduction='sum')), "reduction = 'sum'"),
])
def test_config_errors(kwargs, word):
    with pytest.raises(ConfigError, match=word):
        head(**kwargs)


@pytest.mark.parametrize('kwargs', [dict(prior_prob=0.0), dict(prior_prob=1.0), dict(stacked_convs=-1),
                                    dict(norm='ln'), dict(num_classes=0)])
def test_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        head(**kwargs)


# torchvision --------------------------------------------------------------------------------

def tv_parity_setup():
    from torchvision.models.detection.retinanet import RetinaNetHead
    torch.manual_seed(0)
    A, C, ch = 3, 3, 8
    h = head(num_classes=C, in_channels=ch, feat_channels=ch, stacked_convs=4,
             anchor_generator=dict(type='AnchorGenerator', strides=[8, 16], sizes=[[16], [32]],
                                   ratios=[0.5, 1.0, 2.0]),
             loss_bbox=dict(type='L1Loss'))
    tv = RetinaNetHead(ch, A, C)
    for p in tv.parameters():
        nn.init.normal_(p, std=0.1)
    tv_state = tv.state_dict()
    state = {}
    for i in range(4):
        for ours, theirs in (('cls_convs', 'classification_head.conv'),
                             ('reg_convs', 'regression_head.conv')):
            for k in ('weight', 'bias'):
                state[f'{ours}.{i}.0.{k}'] = tv_state[f'{theirs}.{i}.0.{k}']
    for k in ('weight', 'bias'):
        state[f'retina_cls.{k}'] = tv_state[f'classification_head.cls_logits.{k}']
        state[f'retina_reg.{k}'] = tv_state[f'regression_head.bbox_reg.{k}']
    h.load_state_dict(state)
    feats = [torch.randn(1, ch, 8, 8), torch.randn(1, ch, 4, 4)]  # a 64 x 64 image
    return h, tv, feats


def test_outputs_and_loss_equal_torchvisions_on_the_same_anchors_and_matches():
    from torchvision.models.detection import _utils as det_utils
    from torchvision.ops import box_iou
    h, tv, feats = tv_parity_setup()
    gt = torch.tensor([[5.0, 6.0, 30.0, 20.0], [30.0, 28.0, 60.0, 62.0], [2.0, 40.0, 14.0, 50.0]])
    labels = torch.tensor([2, 0, 1])
    cls, reg = h(feats)
    logits, deltas, priors, _ = h._flatten(cls, reg)
    out = tv(feats)
    assert torch.allclose(logits, out['cls_logits'], atol=1e-6)
    assert torch.allclose(deltas, out['bbox_regression'], atol=1e-6)
    # the zoo's assignment and torchvision's Matcher(0.5, 0.4, allow_low_quality_matches=True)
    res = h.assigner.assign(priors, gt, labels)
    matched = torch.where(res.gt_inds > 0, res.gt_inds - 1,
                          torch.where(res.gt_inds == 0, det_utils.Matcher.BELOW_LOW_THRESHOLD,
                                      det_utils.Matcher.BETWEEN_THRESHOLDS))
    tv_matched = det_utils.Matcher(0.5, 0.4, allow_low_quality_matches=True)(box_iou(gt, priors))
    assert torch.equal(matched, tv_matched)
    assert (matched >= 0).sum() >= 3 and (matched == -2).any()  # positives and ignored anchors
    ours = h.loss_by_feat(cls, reg, [sample(gt.tolist(), labels.tolist(), shape=(64, 64))])
    theirs = tv.compute_loss([dict(boxes=gt, labels=labels)], out, [priors], [tv_matched])
    assert float(ours['loss_cls']) == pytest.approx(float(theirs['classification']), rel=1e-5)
    assert float(ours['loss_bbox']) == pytest.approx(float(theirs['bbox_regression']), rel=1e-5)


def test_predict_keeps_the_best_and_suppresses_per_class():
    h, _, feats = tv_parity_setup()
    s = sample([[5.0, 6.0, 30.0, 20.0]], [0], shape=(64, 64))
    s.set_metainfo(dict(scale_factor=(2.0, 2.0)))
    h.test_cfg.update(score_thr=0.0, max_per_img=20)
    pred = h.predict(feats, [s])[0]
    assert 0 < len(pred.scores) <= 20 and (pred.scores[:-1] >= pred.scores[1:]).all()
    assert pred.bboxes.min() >= 0 and pred.bboxes.max() <= 32  # clipped to 64, rescaled by 1/2
    unrescaled = h.predict(feats, [s], rescale=False)[0]
    assert torch.allclose(unrescaled.bboxes / 2, pred.bboxes)
    # the best score is the best sigmoid over every anchor and class
    logits = h._flatten(*h(feats))[0]
    assert float(pred.scores[0]) == pytest.approx(float(logits.sigmoid().max()), rel=1e-6)
    h.test_cfg.update(nms=dict(type='diou_nms', iou_threshold=0.5))
    diou = h.predict(feats, [s])[0]
    assert len(diou.scores) >= 1
    h.test_cfg.update(nms=dict(type='soft', iou_threshold=0.5))
    with pytest.raises(ConfigError, match='test_cfg.nms.type'):
        h.predict(feats, [s])


# FPN's RetinaNet levels --------------------------------------------------------------------

@pytest.mark.parametrize('extra, tv_in', [('on_input', 64), ('on_output', 16)])
def test_fpn_p6_p7_equal_torchvisions(extra, tv_in):
    from torchvision.ops import FeaturePyramidNetwork
    from torchvision.ops.feature_pyramid_network import LastLevelP6P7
    torch.manual_seed(0)
    neck = registry.build('neck', dict(type='FPN', in_channels=[16, 32, 64], out_channels=16,
                                       extra_convs=extra), key='model.neck',
                          default_args=dict(in_strides=[8, 16, 32]))
    tv = FeaturePyramidNetwork([16, 32, 64], 16, extra_blocks=LastLevelP6P7(tv_in, 16))
    tv.load_state_dict(neck.fpn.state_dict())
    feats = [torch.randn(1, c, 64 // s, 64 // s) for c, s in ((16, 8), (32, 16), (64, 32))]
    outs = neck(feats)
    expected = list(tv(OrderedDict((str(i), f) for i, f in enumerate(feats))).values())
    assert len(outs) == 5 and all(torch.equal(o, e) for o, e in zip(outs, expected))
    assert neck.strides == (8, 16, 32, 64, 128) and neck.out_channels == (16,) * 5
    assert [tuple(o.shape[-2:]) for o in outs] == [(8, 8), (4, 4), (2, 2), (1, 1), (1, 1)]


def test_fpn_p6_on_input_reads_c5_even_when_its_channels_equal_the_outputs():
    neck = registry.build('neck', dict(type='FPN', in_channels=[16, 16], out_channels=16,
                                       extra_convs='on_input'), key='model.neck',
                          default_args=dict(in_strides=[8, 16]))
    assert neck.fpn.extra_blocks.use_P5 is False and not neck.add_extra_max_pool


@pytest.mark.parametrize('kwargs, word', [
    (dict(extra_convs='on_lateral'), 'extra_convs'),
    (dict(extra_convs='on_input', add_extra_max_pool=True), 'add_extra_max_pool'),
])
def test_fpn_extra_convs_errors(kwargs, word):
    registry.discover()
    with pytest.raises(ValueError, match=word):
        registry.build('neck', dict(type='FPN', in_channels=[16, 32], **kwargs), key='model.neck',
                       default_args=dict(in_strides=[8, 16]))
