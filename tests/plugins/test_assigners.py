"""MaxIoUAssigner on boxes whose IoUs are worked out by hand, and against torchvision's Matcher."""
import pytest
import torch
from torchvision.models.detection._utils import Matcher
from torchvision.ops import box_iou

from plugins.anchor_generators import LegacyAnchorGenerator
from plugins.assigners import MaxIoUAssigner
from zoo.api import AssignResult
from registry import ASSIGNERS, build

T = torch.tensor
GT = T([[0., 0., 10., 10.], [100., 100., 110., 110.]])
LABELS = T([3, 7])
PRIORS = T([
    [0., 0., 10., 10.],     # 0: IoU 1 with gt 0                        -> positive, gt 0
    [0., 0., 10., 5.],      # 1: 50 / 100 = 0.5                          -> ignore
    [5., 0., 15., 10.],     # 2: 50 / 150 = 1/3                          -> ignore
    [20., 20., 30., 30.],   # 3: 0                                       -> negative
    [0., 0., 10., 8.],      # 4: 80 / 100 = 0.8                          -> positive, gt 0
    [0., 0., 20., 10.],     # 5: 100 / 200 = 0.5                         -> ignore
    [100., 100., 120., 120.],  # 6: 100 / 400 = 0.25 with gt 1, its best  -> positive (low quality)
    [105., 100., 125., 110.],  # 7: 50 / 250 = 0.2 with gt 1             -> negative
])
IOU = [1, 0.5, 1 / 3, 0, 0.8, 0.5, 0.25, 0.2]


def test_hand_built_rpn_rules():
    res = MaxIoUAssigner(pos_iou_thr=0.7, neg_iou_thr=0.3).assign(PRIORS, GT, LABELS)
    assert isinstance(res, AssignResult) and res.num_gts == 2
    assert res.gt_inds.tolist() == [1, -1, -1, 0, 1, -1, 2, 0]
    assert torch.allclose(res.max_overlaps, T(IOU))
    assert res.labels.tolist() == [3, -1, -1, -1, 3, -1, 7, -1]
    assert res.gt_inds.dtype == res.labels.dtype == torch.int64


def test_low_quality_switches():
    off = MaxIoUAssigner(0.7, 0.3, match_low_quality=False).assign(PRIORS, GT, LABELS)
    assert off.gt_inds.tolist() == [1, -1, -1, 0, 1, -1, 0, 0]  # prior 6 (0.25) is negative
    high = MaxIoUAssigner(0.7, 0.3, min_pos_iou=0.3).assign(PRIORS, GT, LABELS)
    assert high.gt_inds[6] == 0  # gt 1's best IoU 0.25 < min_pos_iou


def test_ties_gt_max_assign_all():
    gt = T([[0., 0., 10., 10.]])
    priors = T([[0., 0., 10., 20.], [0., -10., 10., 10.], [50., 50., 60., 60.]])  # 0.5, 0.5, 0
    res = MaxIoUAssigner(0.7, 0.3).assign(priors, gt, T([0]))
    assert res.gt_inds.tolist() == [1, 1, 0]
    res = MaxIoUAssigner(0.7, 0.3, gt_max_assign_all=False).assign(priors, gt, T([0]))
    assert res.gt_inds.tolist() == [1, -1, 0]  # only the first of the tied priors


def test_prior_best_for_two_gts_goes_to_higher_iou():
    gt = T([[0., 0., 10., 10.], [8., 0., 18., 10.]])
    priors = T([[3., 0., 13., 10.], [60., 60., 70., 70.]])  # IoU 70/130 = .538 and 50/150 = .333
    res = MaxIoUAssigner(0.7, 0.3).assign(priors, gt, T([0, 1]))
    assert res.gt_inds.tolist() == [1, 0]  # mmdet would give it to gt 1 (the last gt wins)


def test_low_quality_prior_goes_to_the_gt_it_is_best_for():
    # gt A has a perfect prior q; prior p overlaps A by 50/220 = .227 and B by 20/250 = .08,
    # and p is B's only overlapping prior. Paper rule: p is positive for B.
    gt = T([[0., 0., 10., 10.], [20., 0., 30., 10.]])
    priors = T([[0., 0., 10., 10.], [5., 0., 22., 10.], [60., 60., 70., 70.]])
    res = MaxIoUAssigner(0.7, 0.3).assign(priors, gt, T([0, 1]))
    assert res.gt_inds.tolist() == [1, 2, 0]
    # torchvision's Matcher makes p positive too, but for its overall best gt, A.
    tv = Matcher(0.7, 0.3, allow_low_quality_matches=True)(box_iou(gt, priors))
    assert tv.tolist() == [0, 0, -1]


def test_gt_without_any_overlap_gets_no_positive():
    gt = T([[0., 0., 10., 10.], [500., 500., 510., 510.]])
    priors = T([[0., 0., 10., 10.], [20., 20., 30., 30.], [40., 40., 50., 50.]])
    res = MaxIoUAssigner(0.7, 0.3).assign(priors, gt, T([0, 1]))
    assert res.gt_inds.tolist() == [1, 0, 0]  # not every IoU-0 prior positive for gt 1


def test_negative_range():
    gt = T([[0., 0., 10., 10.]])
    priors = T([[50., 50., 60., 60.],   # 0     -> below lo: ignore
                [0., 0., 10., 2.],      # 0.2   -> negative
                [0., 0., 10., 5.],      # 0.5   -> positive (>= pos 0.5)
                [0., 0., 10., 4.5]])    # 0.45  -> negative
    res = MaxIoUAssigner(0.5, (0.1, 0.5), match_low_quality=False).assign(priors, gt, T([4]))
    assert res.gt_inds.tolist() == [-1, 0, 1, 0]
    assert res.labels.tolist() == [-1, -1, 4, -1]


def test_ignore_regions():
    gt = T([[0., 0., 10., 10.]])
    ignore = T([[50., 50., 70., 70.]])
    priors = T([[0., 0., 10., 10.],
                [55., 55., 65., 65.],   # IoF 1 -> ignored
                [65., 50., 85., 70.],   # IoF 5 * 20 / 400 = 0.25 -> still negative
                [0., 0., 10., 9.]])     # 0.9 -> positive
    a = MaxIoUAssigner(0.7, 0.3, ignore_iof_thr=0.5)
    assert a.assign(priors, gt, T([0]), ignore).gt_inds.tolist() == [1, -1, 0, 1]
    assert MaxIoUAssigner(0.7, 0.3).assign(priors, gt, T([0]), ignore).gt_inds.tolist() == [1, 0, 0, 1]
    # an ignored prior is no low-quality match either: the gt's best prior is under the region
    gt2 = T([[52., 52., 68., 68.]])
    res = a.assign(priors[1:3], gt2, T([0]), ignore)
    assert res.gt_inds.tolist() == [-1, 1]  # prior 2 (IoU > 0) is now gt2's best
    # no gt boxes at all: negatives, except under the ignore region
    res = a.assign(priors, torch.zeros(0, 4), torch.zeros(0, dtype=torch.long), ignore)
    assert res.gt_inds.tolist() == [0, -1, 0, 0] and res.num_gts == 0


def test_empty_inputs():
    a = MaxIoUAssigner(0.7, 0.3)
    res = a.assign(PRIORS, torch.zeros(0, 4), torch.zeros(0, dtype=torch.long))
    assert res.gt_inds.tolist() == [0] * 8 and res.labels.tolist() == [-1] * 8
    assert res.max_overlaps.tolist() == [0.0] * 8
    res = a.assign(torch.zeros(0, 4), GT, LABELS)
    assert res.gt_inds.shape == res.labels.shape == res.max_overlaps.shape == (0,)
    assert res.num_gts == 2


@pytest.mark.parametrize('seed', range(5))
def test_agrees_with_torchvision_matcher(seed):
    g = torch.Generator().manual_seed(seed)
    (anchors,) = LegacyAnchorGenerator().grid_priors([(25, 30)])  # 6750 paper anchors
    m = 12
    xy = torch.rand(m, 2, generator=g) * torch.tensor([440., 360.])
    wh = torch.rand(m, 2, generator=g) * 200 + 8
    gt = torch.cat((xy, xy + wh), 1)
    labels = torch.randint(0, 20, (m,), generator=g)
    ours = MaxIoUAssigner(0.7, 0.3).assign(anchors, gt, labels)
    iou = box_iou(gt, anchors)
    assert (iou.max(dim=1).values > 0).all()  # where both rules are defined alike
    tv = Matcher(0.7, 0.3, allow_low_quality_matches=True)(iou)
    assert torch.equal(ours.gt_inds > 0, tv >= 0)      # same positives
    assert torch.equal(ours.gt_inds == 0, tv == -1)    # same negatives
    assert torch.equal(ours.gt_inds == -1, tv == -2)   # same ignored
    # Which gt a positive goes to differs only for low-quality matches of a prior whose overall
    # best gt is another one: torchvision takes the overall best, we the gt it is best for.
    pos = ours.gt_inds > 0
    differ = pos & (ours.gt_inds - 1 != tv)
    gt_best = iou == iou.max(dim=1, keepdim=True).values  # (M, N): prior is a best of gt
    ours_gt = (ours.gt_inds - 1).clamp(min=0)
    assert gt_best[ours_gt[differ], differ.nonzero()[:, 0]].all()
    assert (iou.max(dim=0).values[differ] < 0.7).all()
    assert torch.equal(ours.labels[pos], labels[ours.gt_inds[pos] - 1])


def test_bad_arguments_and_registry():
    a = build('assigner', dict(type='MaxIoUAssigner', pos_iou_thr=0.5, neg_iou_thr=[0.1, 0.5]))
    assert a.neg_iou_thr == (0.1, 0.5) and ASSIGNERS.get('MaxIoUAssigner') is MaxIoUAssigner
    with pytest.raises(ValueError, match='pos_iou_thr'):
        MaxIoUAssigner(1.5, 0.3)
    with pytest.raises(ValueError, match='lo <= hi'):
        MaxIoUAssigner(0.5, (0.4, 0.1))
    with pytest.raises(ValueError, match='above pos_iou_thr'):
        MaxIoUAssigner(0.5, 0.6)
    with pytest.raises(ValueError, match='gt_labels must be'):
        MaxIoUAssigner(0.7, 0.3).assign(PRIORS, GT, T([1]))
    with pytest.raises(ValueError, match='priors must be'):
        MaxIoUAssigner(0.7, 0.3).assign(PRIORS[:, :3], GT, LABELS)
