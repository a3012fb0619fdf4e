"""Losses against values computed by hand (math.log/exp from the papers' definitions), mmdet's
reduction semantics, and numerical gradient checks."""
from __future__ import annotations

import math

import pytest
import torch

import plugins  # noqa: F401
from plugins.losses import (CIoULoss, CrossEntropyLoss, DIoULoss, FocalLoss, GIoULoss, IoULoss,
                            L1Loss, MSELoss, SmoothL1Loss)
from registry import LOSSES, build

EPS32 = torch.finfo(torch.float32).eps


def approx(value, rel=1e-6):
    return pytest.approx(value, rel=rel, abs=1e-7)


def log1pexp(x: float) -> float:
    return math.log(1 + math.exp(x))


# classification ---------------------------------------------------------------------------------

def test_softmax_cross_entropy_by_hand():
    logits = torch.tensor([[1.0, 2.0, 3.0], [1.0, 0.0, -1.0]])
    labels = torch.tensor([2, 0])
    l0 = math.log(math.exp(1) + math.exp(2) + math.exp(3)) - 3
    l1 = math.log(math.exp(1) + math.exp(0) + math.exp(-1)) - 1
    assert float(CrossEntropyLoss()(logits, labels)) == approx((l0 + l1) / 2)
    assert float(CrossEntropyLoss(reduction='sum', loss_weight=2.0)(logits, labels)) == approx(2 * (l0 + l1))
    none = CrossEntropyLoss(reduction='none')(logits, labels)
    assert none.tolist() == [approx(l0), approx(l1)]
    # per-sample weights and avg_factor: sum / avg_factor (mmdet)
    weighted = CrossEntropyLoss()(logits, labels, weight=torch.tensor([1.0, 0.5]), avg_factor=4)
    assert float(weighted) == approx((l0 + 0.5 * l1) / (4 + EPS32))
    # class weights scale each sample's loss by its class; 'mean' still averages over N (mmdet)
    cw = CrossEntropyLoss(class_weight=[1.0, 1.0, 2.0])(logits, labels)
    assert float(cw) == approx((2 * l0 + l1) / 2)


def test_sigmoid_cross_entropy_with_background_row():
    pred = torch.tensor([[0.5, -1.0], [2.0, 0.3]])
    labels = torch.tensor([1, 2])  # 2 == C: background, all-zero target row
    # BCE with logits: target 1 -> log(1 + e^-x), target 0 -> log(1 + e^x)
    expected = [[log1pexp(0.5), log1pexp(1.0)], [log1pexp(2.0), log1pexp(0.3)]]
    loss = CrossEntropyLoss(use_sigmoid=True, reduction='none')(pred, labels)
    assert loss.tolist() == [[approx(v) for v in row] for row in expected]
    assert float(CrossEntropyLoss(use_sigmoid=True)(pred, labels)) == approx(sum(map(sum, expected)) / 4)
    # per-sample weight (N,) broadcasts over the classes
    w = CrossEntropyLoss(use_sigmoid=True, reduction='sum')(pred, labels, weight=torch.tensor([0.0, 1.0]))
    assert float(w) == approx(sum(expected[1]))


def test_sigmoid_rpn_objectness_with_one_class():
    pred = torch.tensor([[1.0], [-2.0], [0.0]])
    labels = torch.tensor([0, 1, 0])  # 0 object, 1 (= C) background
    expected = log1pexp(-1.0) + log1pexp(-2.0) + math.log(2)
    assert float(CrossEntropyLoss(use_sigmoid=True, reduction='sum')(pred, labels)) == approx(expected)
    # float targets of pred's shape are used as they are
    targets = torch.tensor([[1.0], [0.0], [1.0]])
    assert float(CrossEntropyLoss(use_sigmoid=True, reduction='sum')(pred, targets)) == approx(expected)


def test_focal_loss_by_hand():
    pred = torch.tensor([[0.5, -1.0]])
    labels = torch.tensor([0])  # targets [1, 0]
    p1 = 1 / (1 + math.exp(-0.5))
    p2 = 1 / (1 + math.exp(1.0))
    t1 = -0.25 * (1 - p1) ** 2 * math.log(p1)       # positive: alpha (1 - p)^gamma (-log p)
    t2 = -(1 - 0.25) * p2 ** 2 * math.log(1 - p2)   # negative: (1 - alpha) p^gamma (-log(1 - p))
    assert float(FocalLoss()(pred, labels)) == approx((t1 + t2) / 2)
    # the paper normalizes by the number of positives: avg_factor
    assert float(FocalLoss()(pred, labels, avg_factor=1)) == approx((t1 + t2) / (1 + EPS32))
    # background label (2 == C) gives the all-negative row
    bg = FocalLoss(reduction='none')(pred, torch.tensor([2]))
    neg1 = -(1 - 0.25) * p1 ** 2 * math.log(1 - p1)
    assert bg.tolist() == [[approx(neg1), approx(t2)]]


# regression on deltas ---------------------------------------------------------------------------

def test_smooth_l1_both_regimes_with_rpn_beta():
    sigma = 3.0  # py-faster-rcnn's RPN: beta = 1 / sigma^2

    def caffe_smooth_l1(x):
        return 0.5 * (sigma * x) ** 2 if abs(x) < 1 / sigma ** 2 else abs(x) - 0.5 / sigma ** 2

    diffs = [0.05, 0.5, -0.2, 0.0]  # |x| < 1/9 (quadratic) and > 1/9 (linear)
    pred = torch.tensor([diffs])
    target = torch.zeros(1, 4)
    loss = SmoothL1Loss(beta=1 / 9, reduction='none')(pred, target)
    expected = [caffe_smooth_l1(x) for x in diffs]
    assert expected[:2] == [approx(0.5 * 9 * 0.05 ** 2), approx(0.5 - 1 / 18)]
    assert loss.flatten().tolist() == [approx(v) for v in expected]
    assert float(SmoothL1Loss(beta=1 / 9)(pred, target)) == approx(sum(expected) / 4)


def test_avg_factor_and_per_sample_weights():
    pred = torch.tensor([[1.0, -2.0, 0.5, 0.0], [3.0, 3.0, 3.0, 3.0]])
    target = torch.zeros(2, 4)
    weight = torch.tensor([1.0, 0.0])  # (N,) broadcast over the 4 coordinates
    assert float(L1Loss()(pred, target, weight=weight, avg_factor=2)) == approx(3.5 / (2 + EPS32))
    assert float(L1Loss()(pred, target, weight=weight)) == approx(3.5 / 8)
    assert float(MSELoss(reduction='sum')(pred, target, weight=weight)) == approx(1 + 4 + 0.25)
    assert float(L1Loss()(pred, target, reduction_override='sum')) == approx(15.5)
    zero = L1Loss()(pred, target, weight=torch.zeros(2), avg_factor=0)  # no positives: 0, not NaN
    assert float(zero) == 0.0
    with pytest.raises(ValueError, match='avg_factor'):
        L1Loss(reduction='sum')(pred, target, avg_factor=2)
    with pytest.raises(ValueError, match='weight'):
        L1Loss()(pred, target, weight=torch.ones(3))


def test_empty_inputs_give_zero_with_a_graph():
    pred = torch.zeros(0, 4, requires_grad=True)
    for loss_fn in (SmoothL1Loss(), GIoULoss(), CrossEntropyLoss(use_sigmoid=True)):
        value = loss_fn(pred, torch.zeros(0, dtype=torch.long) if loss_fn.loss_kind == 'classification'
                        else torch.zeros(0, 4))
        assert value.shape == () and float(value.detach()) == 0.0 and value.requires_grad


# regression on boxes ----------------------------------------------------------------------------

def test_iou_and_giou_for_disjoint_boxes():
    a = torch.tensor([[0.0, 0.0, 1.0, 1.0]])
    b = torch.tensor([[2.0, 2.0, 3.0, 3.0]])
    assert float(IoULoss()(a, b)) == 1.0
    # GIoU paper: GIoU = IoU - |C \ (A u B)| / |C|; C = [0, 3]^2, |C| = 9, |A u B| = 2
    assert float(GIoULoss()(a, b)) == approx(1 - (0 - (9 - 2) / 9))  # 16/9 > 1
    # overlapping: |A n B| = 1, |A u B| = 7, |C| = 9
    a, b = torch.tensor([[0.0, 0, 2, 2]]), torch.tensor([[1.0, 1, 3, 3]])
    assert float(IoULoss()(a, b)) == approx(1 - 1 / 7)
    assert float(GIoULoss()(a, b)) == approx(1 - (1 / 7 - (9 - 7) / 9))


def ciou_by_hand(p, g, alpha=None):
    """DIoU / CIoU of one pair from the DIoU paper's definitions (eqs. 6, 8-11); returns
    (diou_loss, ciou_loss, alpha)."""
    iw = max(0.0, min(p[2], g[2]) - max(p[0], g[0]))
    ih = max(0.0, min(p[3], g[3]) - max(p[1], g[1]))
    inter = iw * ih
    wp, hp, wg, hg = p[2] - p[0], p[3] - p[1], g[2] - g[0], g[3] - g[1]
    iou = inter / (wp * hp + wg * hg - inter)
    rho2 = ((p[0] + p[2]) / 2 - (g[0] + g[2]) / 2) ** 2 + ((p[1] + p[3]) / 2 - (g[1] + g[3]) / 2) ** 2
    c2 = (max(p[2], g[2]) - min(p[0], g[0])) ** 2 + (max(p[3], g[3]) - min(p[1], g[1])) ** 2
    diou = 1 - iou + rho2 / c2
    v = 4 / math.pi ** 2 * (math.atan(wg / hg) - math.atan(wp / hp)) ** 2
    if alpha is None:
        alpha = v / ((1 - iou) + v)
    return diou, diou + alpha * v, alpha


def test_diou_and_ciou_by_hand():
    p, g = [0.0, 0.0, 2.0, 4.0], [1.0, 1.0, 4.0, 3.0]
    diou, ciou, _ = ciou_by_hand(p, g)
    # by hand: inter 1 x 2 = 2, union 8 + 6 - 2 = 12, IoU 1/6; centres (1, 2) and (2.5, 2):
    # rho^2 = 2.25; enclosing box [0, 4] x [0, 4]: c^2 = 32
    assert diou == approx(1 - 1 / 6 + 2.25 / 32)
    pred, target = torch.tensor([p]), torch.tensor([g])
    assert float(DIoULoss()(pred, target)) == approx(diou)
    assert float(CIoULoss()(pred, target)) == approx(ciou)
    assert ciou > diou


def test_gradients_numerically():
    torch.manual_seed(0)
    xy = torch.rand(6, 2, dtype=torch.float64) * 10
    pred = torch.cat([xy, xy + 1 + torch.rand(6, 2, dtype=torch.float64) * 5], 1).requires_grad_()
    txy = xy + torch.randn(6, 2, dtype=torch.float64) * 2
    target = torch.cat([txy, txy + 1 + torch.rand(6, 2, dtype=torch.float64) * 5], 1)
    weight = torch.rand(6, dtype=torch.float64)
    for loss_fn in (GIoULoss(), DIoULoss(), IoULoss()):
        assert torch.autograd.gradcheck(lambda x, f=loss_fn: f(x, target, weight=weight), (pred,))
    deltas = (torch.randn(6, 4, dtype=torch.float64) * 0.3).requires_grad_()
    assert torch.autograd.gradcheck(lambda x: SmoothL1Loss(beta=1 / 9)(x, torch.zeros_like(x)), (deltas,))


def test_ciou_gradient_holds_alpha_constant():
    """CIoU's alpha carries no gradient (paper's implementation, torchvision): the gradient is that
    of 1 - IoU + rho^2/c^2 + alpha0 * v with alpha0 fixed; checked by central differences."""
    p, g = [0.0, 0.0, 2.0, 4.0], [1.0, 1.0, 4.0, 3.0]
    _, _, alpha0 = ciou_by_hand(p, g)
    pred = torch.tensor([p], dtype=torch.float64, requires_grad=True)
    CIoULoss()(pred, torch.tensor([g], dtype=torch.float64)).backward()
    h = 1e-6
    numeric = []
    for i in range(4):
        up, down = list(p), list(p)
        up[i] += h
        down[i] -= h
        numeric.append((ciou_by_hand(up, g, alpha0)[1] - ciou_by_hand(down, g, alpha0)[1]) / (2 * h))
    assert pred.grad[0].tolist() == [pytest.approx(n, rel=1e-5, abs=1e-8) for n in numeric]


# contracts and errors ---------------------------------------------------------------------------

def test_loss_kinds_and_registry():
    expected = {'CrossEntropyLoss': ('classification', None), 'FocalLoss': ('classification', None),
                'SmoothL1Loss': ('regression', False), 'L1Loss': ('regression', False),
                'MSELoss': ('regression', False), 'IoULoss': ('regression', True),
                'GIoULoss': ('regression', True), 'DIoULoss': ('regression', True),
                'CIoULoss': ('regression', True)}
    for name, (kind, decoded) in expected.items():
        cls = LOSSES.get(name)
        assert cls.loss_kind == kind, name
        if kind == 'regression':
            assert cls.takes_decoded_boxes is decoded, name
    loss = build('loss', dict(type='GIoULoss', loss_weight=2.0), key='loss_bbox')
    assert loss.loss_weight == 2.0 and loss._zoo_key_path == 'loss_bbox'


@pytest.mark.parametrize('make, word', [
    (lambda: SmoothL1Loss(reduction='avg'), 'reduction'),
    (lambda: SmoothL1Loss(beta=-1), 'beta'),
    (lambda: L1Loss(loss_weight=-1.0), 'loss_weight'),
    (lambda: FocalLoss(use_sigmoid=False), 'use_sigmoid'),
    (lambda: FocalLoss(alpha=2.0), 'alpha'),
    (lambda: FocalLoss(gamma=-1.0), 'gamma'),
    (lambda: CrossEntropyLoss(class_weight='balanced'), 'class_weight'),
])
def test_bad_arguments(make, word):
    with pytest.raises(ValueError, match=word):
        make()


def test_bad_inputs():
    with pytest.raises(ValueError, match='same shape'):
        SmoothL1Loss()(torch.zeros(3, 4), torch.zeros(3, 2))
    with pytest.raises(ValueError, match=r'\(N, 4\)'):
        GIoULoss()(torch.zeros(3, 5), torch.zeros(3, 5))
    with pytest.raises(ValueError, match='labels must be an int tensor'):
        CrossEntropyLoss()(torch.zeros(3, 4), torch.zeros(3))
    with pytest.raises(ValueError, match='labels must be an int tensor'):
        FocalLoss()(torch.zeros(3, 4), torch.zeros(2, dtype=torch.long))
    with pytest.raises(ValueError, match='class_weight has 2 entries'):
        CrossEntropyLoss(class_weight=[1.0, 2.0])(torch.zeros(3, 4), torch.zeros(3, dtype=torch.long))
