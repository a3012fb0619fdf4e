"""What the IoU-family and focal losses are for, checked against the papers' own statements and
hand-computed values (complementing tests/plugins/test_losses.py):

* GIoU (Rezatofighi et al., CVPR 2019, section 1 and 3): ``1 - IoU`` is flat for disjoint boxes
  (its gradient is zero, whatever the distance), ``1 - GIoU`` keeps growing with the distance,
  tends to 2 far away, and its gradient pulls the prediction towards the target;
* DIoU (Zheng et al., AAAI 2020, eq. 6): equals the IoU loss for concentric boxes and adds the
  normalised centre distance otherwise, also for disjoint boxes;
* CIoU (eqs. 8-11): equals DIoU when the aspect ratios agree (v = 0);
* focal loss (Lin et al., ICCV 2017, section 3.2): gamma = 0 without alpha is the cross-entropy,
  and with gamma = 2 "an example classified with p_t = 0.9 would have 100x lower loss compared
  with CE and with p_t ~ 0.968 it would have 1000x lower loss";
* numerical gradient checks of the losses that test_losses.py does not gradcheck.
"""
import math

import pytest
import torch

import plugins  # noqa: F401
from plugins.losses import (CIoULoss, CrossEntropyLoss, DIoULoss, FocalLoss, GIoULoss, IoULoss,
                            L1Loss, MSELoss)


def grad_of(loss_fn, pred, target):
    pred = pred.clone().double().requires_grad_()
    loss_fn(pred, target.double()).backward()
    return pred.grad


TARGET = torch.tensor([[0.0, 0.0, 2.0, 2.0]])


@pytest.mark.parametrize('gap', [1.0, 3.0, 10.0])
def test_iou_loss_is_flat_for_disjoint_boxes_and_giou_is_not(gap):
    pred = torch.tensor([[2.0 + gap, 0.0, 4.0 + gap, 2.0]])  # same size, `gap` px to the right
    assert float(IoULoss()(pred, TARGET)) == 1.0
    assert torch.equal(grad_of(IoULoss(), pred, TARGET), torch.zeros(1, 4, dtype=torch.float64))
    # GIoU by hand: C = [0, 4 + gap] x [0, 2], |A u B| = 8
    c = (4.0 + gap) * 2.0
    assert float(GIoULoss()(pred, TARGET)) == pytest.approx(1 + (c - 8) / c, rel=1e-6)
    g = grad_of(GIoULoss(), pred, TARGET)
    assert g.abs().sum() > 0
    # by hand, disjoint boxes: 1 - GIoU = 2 - u / c, with u = 4 + 2 (x2 - x1) and c = 2 x2:
    # d/dx1 = 2 / c (pull the left side towards the target), d/dx2 = -2 (c - u) / c^2
    assert float(g[0, 0]) == pytest.approx(2 / c, rel=1e-6)
    assert float(g[0, 2]) == pytest.approx(-2 * (c - 8) / c ** 2, rel=1e-6)
    # a step against the gradient moves the box towards the target and lowers the loss
    moved = pred.double() - 0.1 * g
    assert float(GIoULoss()(moved, TARGET.double())) < float(GIoULoss()(pred, TARGET))


def test_giou_grows_with_distance_towards_two():
    losses = [float(GIoULoss()(torch.tensor([[2.0 + d, 0.0, 4.0 + d, 2.0]]), TARGET))
              for d in (0.0, 1.0, 5.0, 50.0, 5000.0)]
    assert all(a < b for a, b in zip(losses, losses[1:]))
    assert losses[0] == pytest.approx(1.0)  # touching: IoU 0, no empty space in C
    assert 1.99 < losses[-1] < 2.0
    iou = [float(IoULoss()(torch.tensor([[2.0 + d, 0.0, 4.0 + d, 2.0]]), TARGET))
           for d in (0.0, 1.0, 5.0, 50.0, 5000.0)]
    assert iou == [1.0] * 5


def test_diou_adds_the_normalised_centre_distance():
    # concentric: rho = 0, DIoU loss == IoU loss (inner 1x1 box in 2x2: IoU 1/4)
    inner = torch.tensor([[0.5, 0.5, 1.5, 1.5]])
    assert float(DIoULoss()(inner, TARGET)) == pytest.approx(float(IoULoss()(inner, TARGET)))
    assert float(DIoULoss()(inner, TARGET)) == pytest.approx(0.75)
    # disjoint: [3, 0, 5, 2] vs [0, 0, 2, 2]: rho^2 = 3^2, c^2 = 5^2 + 2^2 = 29
    pred = torch.tensor([[3.0, 0.0, 5.0, 2.0]])
    assert float(DIoULoss()(pred, TARGET)) == pytest.approx(1 + 9 / 29, rel=1e-6)
    g = grad_of(DIoULoss(), pred, TARGET)
    # moving the box left (both x coordinates down) lowers the loss: the x-gradient is positive
    assert float(g[0, 0] + g[0, 2]) > 0


def test_ciou_equals_diou_for_equal_aspect_ratios():
    pred = torch.tensor([[1.0, 1.0, 5.0, 5.0]])  # square, as the target: v = 0
    assert float(CIoULoss()(pred, TARGET)) == pytest.approx(float(DIoULoss()(pred, TARGET)), rel=1e-6)
    # and differs (by alpha * v) when they disagree
    wide = torch.tensor([[1.0, 1.0, 5.0, 2.0]])
    assert float(CIoULoss()(wide, TARGET)) > float(DIoULoss()(wide, TARGET))


def test_focal_loss_reduces_to_cross_entropy_and_down_weights_easy_examples():
    logits = torch.tensor([[2.0, -1.0, 0.3]])
    labels = torch.tensor([0])
    ce = CrossEntropyLoss(use_sigmoid=True, reduction='none')(logits, labels)
    fl0 = FocalLoss(gamma=0.0, alpha=-1, reduction='none')(logits, labels)
    assert torch.allclose(fl0, ce, rtol=1e-6, atol=1e-7)
    # the paper's numbers: p_t = 0.9 -> 100x lower than CE, p_t = 0.968 -> ~1000x lower
    for p_t, factor in ((0.9, 100.0), (0.968, 1 / (0.032 ** 2))):
        x = torch.tensor([[math.log(p_t / (1 - p_t))]])  # logit with sigmoid(x) = p_t
        ce = CrossEntropyLoss(use_sigmoid=True, reduction='sum')(x, torch.tensor([0]))
        fl = FocalLoss(gamma=2.0, alpha=-1, reduction='sum')(x, torch.tensor([0]))
        assert float(ce / fl) == pytest.approx(factor, rel=1e-4)
    assert 1 / 0.032 ** 2 == pytest.approx(977, rel=1e-3)  # "~1000x"
    # alpha weights positives by alpha and negatives by 1 - alpha
    pos = FocalLoss(alpha=0.25, reduction='sum')(torch.tensor([[0.0]]), torch.tensor([0]))
    neg = FocalLoss(alpha=0.25, reduction='sum')(torch.tensor([[0.0]]), torch.tensor([1]))
    assert float(pos) == pytest.approx(0.25 * 0.25 * math.log(2))
    assert float(neg) == pytest.approx(0.75 * 0.25 * math.log(2))


def test_gradients_numerically_for_the_other_losses():
    torch.manual_seed(0)
    logits = torch.randn(5, 3, dtype=torch.float64, requires_grad=True)
    labels = torch.tensor([0, 2, 3, 1, 0])  # 3 == C: background row for the sigmoid losses
    soft_labels = torch.tensor([0, 2, 1, 1, 0])
    weight = torch.rand(5, dtype=torch.float64)
    checks = [
        lambda x: FocalLoss()(x, labels, weight=weight, avg_factor=2.0),
        lambda x: FocalLoss(gamma=1.5, alpha=0.4)(x, labels),
        lambda x: CrossEntropyLoss(use_sigmoid=True)(x, labels, weight=weight),
        lambda x: CrossEntropyLoss()(x, soft_labels, weight=weight, avg_factor=3.0),
        lambda x: MSELoss()(x, torch.ones_like(x), weight=weight),
        lambda x: L1Loss()(x, torch.full_like(x, 5.0)),  # away from the kink at 0
    ]
    for fn in checks:
        assert torch.autograd.gradcheck(fn, (logits,))
    # the box losses on disjoint and nested pairs too (test_losses.py uses random overlaps)
    boxes = torch.tensor([[3.0, 0.5, 5.0, 2.5], [0.5, 0.5, 1.5, 1.2], [-4.0, -3.0, -1.0, -0.5]],
                         dtype=torch.float64, requires_grad=True)
    target = torch.tensor([[0.0, 0.0, 2.0, 2.0]] * 3, dtype=torch.float64)
    for loss_fn in (GIoULoss(), DIoULoss()):
        assert torch.autograd.gradcheck(lambda x, f=loss_fn: f(x, target), (boxes,))
