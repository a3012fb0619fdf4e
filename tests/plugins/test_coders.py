"""DeltaXYWHBBoxCoder against hand-computed deltas and torchvision's BoxCoder."""
import math

import pytest
import torch
from torchvision.models.detection._utils import BoxCoder

from plugins.coders import DeltaXYWHBBoxCoder
from registry import BBOX_CODERS, build


def random_boxes(n, generator, size=500.0, min_side=4.0):
    xy = torch.rand(n, 2, generator=generator) * size
    wh = torch.rand(n, 2, generator=generator) * size / 2 + min_side
    return torch.cat((xy, xy + wh), dim=1)


def test_encode_by_hand():
    coder = DeltaXYWHBBoxCoder(target_stds=(0.1, 0.1, 0.2, 0.2))
    prior = torch.tensor([[0., 0., 10., 20.]])  # w 10, h 20, centre (5, 10)
    gt = torch.tensor([[5., 5., 25., 45.]])     # w 20, h 40, centre (15, 25)
    raw = [(15 - 5) / 10, (25 - 10) / 20, math.log(2), math.log(2)]
    expected = torch.tensor([[raw[0] / 0.1, raw[1] / 0.1, raw[2] / 0.2, raw[3] / 0.2]])
    assert torch.allclose(coder.encode(prior, gt), expected, atol=1e-6)
    assert torch.allclose(coder.decode(prior, expected), gt, atol=1e-5)
    means = DeltaXYWHBBoxCoder(target_means=(1, 0, 0, 0), target_stds=(1, 1, 1, 1))
    assert torch.allclose(means.encode(prior, gt), torch.tensor([[0., 0.75, *raw[2:]]]))


@pytest.mark.parametrize('stds, weights', [((0.1, 0.1, 0.2, 0.2), (10., 10., 5., 5.)),
                                           ((1., 1., 1., 1.), (1., 1., 1., 1.)),
                                           ((0.5, 0.25, 1 / 3, 2.), (2., 4., 3., 0.5))])
def test_matches_torchvision_box_coder(stds, weights):
    g = torch.Generator().manual_seed(0)
    priors, gts = random_boxes(2000, g), random_boxes(2000, g)
    ours, tv = DeltaXYWHBBoxCoder(target_stds=stds), BoxCoder(weights)
    # torchvision: encode_single(reference_boxes=targets, proposals=priors)
    assert torch.allclose(ours.encode(priors, gts), tv.encode_single(gts, priors),
                          rtol=1e-5, atol=1e-5)
    # decode with k = 3 boxes per prior; deltas inside the clamp of both (|dw| < 4.13)
    deltas = (torch.rand(2000, 12, generator=g) * 4 - 2)
    expected = tv.decode_single(deltas, priors)
    assert torch.allclose(ours.decode(priors, deltas), expected, atol=1e-4)


def test_round_trip():
    g = torch.Generator().manual_seed(1)
    priors, gts = random_boxes(1000, g), random_boxes(1000, g)
    coder = DeltaXYWHBBoxCoder(target_means=(0.1, -0.2, 0.0, 0.3), target_stds=(0.1, 0.1, 0.2, 0.2))
    assert torch.allclose(coder.decode(priors, coder.encode(priors, gts)), gts, atol=1e-3)
    d = coder.encode(priors.double(), gts.double())
    assert torch.allclose(coder.decode(priors.double(), d), gts.double(), atol=1e-9)


def test_wh_clamp_both_sides():
    coder = DeltaXYWHBBoxCoder()  # wh_ratio_clip 16/1000: sides change by at most 62.5x
    prior = torch.tensor([[0., 0., 16., 32.]])
    big = coder.decode(prior, torch.tensor([[0., 0., 50., -50.]]))
    w, h = big[0, 2] - big[0, 0], big[0, 3] - big[0, 1]
    assert torch.isclose(w, torch.tensor(16 * 1000 / 16.)) and torch.isclose(h, torch.tensor(32 * 16 / 1000.))
    # torchvision clamps only from above: the wide side agrees, the narrow one does not
    tv = BoxCoder((1., 1., 1., 1.)).decode_single(torch.tensor([[0., 0., 50., -50.]]), prior)
    assert torch.isclose(tv[0, 2] - tv[0, 0], w) and (tv[0, 3] - tv[0, 1]) < h


def test_clip_and_batched_shapes():
    coder = DeltaXYWHBBoxCoder()
    priors = torch.tensor([[-10., -10., 30., 30.], [50., 60., 120., 90.]])
    zeros = torch.zeros(2, 8)  # k = 2, deltas 0: the priors themselves
    assert torch.equal(coder.decode(priors, zeros), priors.repeat(1, 2))
    clipped = coder.decode(priors, zeros, max_shape=(80, 100))  # h 80, w 100
    assert clipped[:, :4].tolist() == [[0, 0, 30, 30], [50, 60, 100, 80]]
    assert DeltaXYWHBBoxCoder(clip_border=False).decode(priors, zeros, (80, 100)).equal(
        priors.repeat(1, 2))
    # batch of 3 images sharing priors (N, 4); one shape per image
    g = torch.Generator().manual_seed(2)
    deltas = torch.randn(3, 2, 8, generator=g)
    shapes = [(80, 100), (20, 20), (1000, 1000)]
    batched = coder.decode(priors, deltas, max_shape=shapes)
    assert batched.shape == (3, 2, 8)
    for i in range(3):
        assert torch.allclose(batched[i], coder.decode(priors, deltas[i], max_shape=shapes[i]))
    # priors (B, N, 4)
    bp = priors.expand(3, 2, 4) + torch.arange(3.)[:, None, None]
    batched = coder.decode(bp, deltas)
    for i in range(3):
        assert torch.allclose(batched[i], coder.decode(bp[i], deltas[i]))
    assert coder.decode(torch.zeros(0, 4), torch.zeros(0, 4)).shape == (0, 4)


def test_errors_and_registry():
    coder = build('bbox_coder', dict(type='DeltaXYWHBBoxCoder', target_stds=[.1, .1, .2, .2]))
    assert isinstance(coder, DeltaXYWHBBoxCoder) and BBOX_CODERS.get('DeltaXYWHBBoxCoder')
    with pytest.raises(ValueError, match='target_stds must be four positive'):
        DeltaXYWHBBoxCoder(target_stds=(1, 1, 0, 1))
    with pytest.raises(ValueError, match='target_means'):
        DeltaXYWHBBoxCoder(target_means=(0, 0, 0))
    with pytest.raises(ValueError, match='wh_ratio_clip'):
        DeltaXYWHBBoxCoder(wh_ratio_clip=2)
    with pytest.raises(ValueError, match='deltas must be'):
        coder.decode(torch.zeros(5, 4), torch.zeros(5, 6))
    with pytest.raises(ValueError, match='priors of shape'):
        coder.decode(torch.zeros(4, 4), torch.zeros(5, 4))
    with pytest.raises(ValueError, match='do not broadcast'):
        coder.encode(torch.zeros(4, 4), torch.zeros(5, 4))
    with pytest.raises(ValueError, match='max_shape'):
        coder.decode(torch.ones(5, 4), torch.zeros(5, 4), max_shape=[(1, 2), (3, 4)])
