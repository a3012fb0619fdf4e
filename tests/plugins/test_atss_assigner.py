"""ATSSAssigner (Zhang et al., CVPR 2020, Algorithm 1) on anchors whose centre distances and IoUs
are worked out by hand, and inside RetinaHead."""
import statistics

import pytest
import torch
from mmengine.structures import InstanceData

import registry
from plugins.assigners import ATSSAssigner
from zoo.structures import DetDataSample

T = torch.tensor
GT = T([[0., 0., 10., 10.]])       # centre (5, 5), area 100
PRIORS = T([
    # level 0 (4 anchors)
    [0., 0., 6., 6.],       # 0: centre (3, 3), distance 2.83; IoU 36 / 100 = 0.36
    [4., 4., 8., 8.],       # 1: centre (6, 6), distance 1.41; IoU 16 / 100 = 0.16
    [8., 8., 14., 14.],     # 2: centre (11, 11), distance 8.49; IoU 4 / 132
    [20., 20., 24., 24.],   # 3: far; IoU 0
    # level 1 (2 anchors)
    [0., 0., 12., 12.],     # 4: centre (6, 6), distance 1.41; IoU 100 / 144
    [12., 0., 24., 12.],    # 5: centre (18, 6), distance 13.04; IoU 0
])
LEVELS = [4, 2]


def test_hand_case_threshold_is_mean_plus_unbiased_std():
    # topk 2: level 0 -> anchors 1, 0; level 1 -> anchors 4, 5.
    ious = [0.16, 0.36, 100 / 144, 0.0]
    thr = statistics.mean(ious) + statistics.stdev(ious)   # 0.3036 + 0.2993 = 0.6029
    assert 0.36 < statistics.mean(ious) + statistics.pstdev(ious) < 100 / 144  # same set either way
    assert 0.36 > statistics.mean(ious)                      # mean alone would take anchor 0
    res = ATSSAssigner(topk=2).assign(PRIORS, GT, T([2]), num_level_priors=LEVELS)
    assert thr == pytest.approx(0.6029, abs=1e-4)
    assert res.gt_inds.tolist() == [0, 0, 0, 0, 1, 0]       # no ignore band: the rest negative
    assert res.labels.tolist() == [-1, -1, -1, -1, 2, -1]
    assert torch.allclose(res.max_overlaps, T([0.36, 0.16, 4 / 132, 0, 100 / 144, 0]))


def test_candidates_are_taken_per_level():
    # As one level, topk 2 takes anchors 1 and 4 (IoUs 0.16, 0.694: threshold
    # 0.427 + 0.378 = 0.805): nothing is positive.
    res = ATSSAssigner(topk=2).assign(PRIORS, GT, T([2]), num_level_priors=[6])
    assert res.gt_inds.tolist() == [0] * 6
    # topk larger than a level takes the whole level.
    res = ATSSAssigner(topk=9).assign(PRIORS, GT, T([2]), num_level_priors=LEVELS)
    ious = [0.36, 0.16, 4 / 132, 0.0, 100 / 144, 0.0]
    thr = statistics.mean(ious) + statistics.stdev(ious)    # 0.209 + 0.269 = 0.478
    assert [i for i, v in enumerate(ious) if v >= thr] == [4]
    assert res.gt_inds.tolist() == [0, 0, 0, 0, 1, 0]


def test_a_candidate_whose_centre_is_outside_the_box_is_not_positive():
    gt = T([[0., 0., 10., 2.]])                 # thin box, centre (5, 1)
    priors = T([[0., -3., 10., 1.5],            # centre (5, -0.75): outside; IoU 15 / 45 = 0.333
                [0., 0., 10., 1.],              # centre (5, 0.5): inside; IoU 10 / 20 = 0.5
                [40., 40., 50., 50.]])          # IoU 0
    # topk 1: the single candidate's threshold is its own IoU (std 0), so only the centre rule
    # can refuse it.
    res = ATSSAssigner(topk=1).assign(priors[[0, 2]], gt, T([0]), num_level_priors=[2])
    assert res.gt_inds.tolist() == [0, 0]
    res = ATSSAssigner(topk=1).assign(priors[[1, 2]], gt, T([0]), num_level_priors=[2])
    assert res.gt_inds.tolist() == [1, 0]


def test_an_anchor_positive_for_two_boxes_goes_to_the_higher_iou():
    gts = T([[0., 0., 10., 10.], [2., 2., 12., 12.]])
    priors = T([[1., 1., 11., 11.]])             # IoU 81/119 with gt 0, 81/119 with gt 1: tie
    res = ATSSAssigner(topk=1).assign(priors, gts, T([0, 1]), num_level_priors=[1])
    assert res.gt_inds.tolist() == [1]           # the first on a tie
    priors = T([[1.5, 1.5, 11.5, 11.5]])         # closer to gt 1
    res = ATSSAssigner(topk=1).assign(priors, gts, T([0, 1]), num_level_priors=[1])
    assert res.gt_inds.tolist() == [2] and res.labels.tolist() == [1]


def test_ignore_regions_and_empty_inputs():
    res = ATSSAssigner(topk=2, ignore_iof_thr=0.5).assign(
        PRIORS, GT, T([2]), gt_bboxes_ignore=T([[-1., -1., 13., 13.]]), num_level_priors=LEVELS)
    # anchors 0, 1 and 4 lie under the ignore box; 2 half (IoF 25/36 > 0.5) -> ignored too.
    assert res.gt_inds.tolist() == [-1, -1, -1, 0, -1, 0]
    empty = ATSSAssigner().assign(PRIORS, torch.zeros(0, 4), torch.zeros(0, dtype=torch.long),
                                  num_level_priors=LEVELS)
    assert empty.gt_inds.tolist() == [0] * 6 and empty.labels.tolist() == [-1] * 6
    none = ATSSAssigner().assign(torch.zeros(0, 4), GT, T([1]), num_level_priors=[0])
    assert none.gt_inds.shape == (0,)


@pytest.mark.parametrize('kwargs, word', [(dict(topk=0), 'topk'), (dict(topk=2.5), 'topk')])
def test_bad_arguments(kwargs, word):
    with pytest.raises(ValueError, match=word):
        ATSSAssigner(**kwargs)


def test_bad_inputs_name_the_argument():
    with pytest.raises(ValueError, match='num_level_priors'):
        ATSSAssigner().assign(PRIORS, GT, T([0]), num_level_priors=[4, 1])
    with pytest.raises(ValueError, match='num_level_priors'):
        ATSSAssigner().assign(PRIORS, GT, T([0]))       # required: no silent single level
    with pytest.raises(ValueError, match='gt_labels'):
        ATSSAssigner().assign(PRIORS, GT, T([0, 1]))
    with pytest.raises(ValueError, match='priors'):
        ATSSAssigner().assign(PRIORS[:, :3], GT, T([0]))


def test_retina_head_passes_the_anchors_per_level():
    registry.discover()
    head = registry.build('head', dict(
        type='RetinaHead', num_classes=3, in_channels=8, feat_channels=8, stacked_convs=1,
        anchor_generator=dict(type='AnchorGenerator', strides=[8, 16], sizes=[[8], [16]], ratios=[1.0]),
        train_cfg=dict(assigner=dict(type='ATSSAssigner', topk=2))), key='model.bbox_head')
    assert isinstance(head.assigner, ATSSAssigner)
    s = DetDataSample(metainfo=dict(img_shape=(32, 32), ori_shape=(32, 32), scale_factor=(1.0, 1.0)))
    s.gt_instances = InstanceData(bboxes=T([[4., 4., 20., 20.]]), labels=T([1]))
    feats = [torch.randn(1, 8, 4, 4), torch.randn(1, 8, 2, 2)]
    cls, reg = head(feats)
    _, _, priors, counts = head._flatten(cls, reg)
    assert counts == [16, 4]
    labels, _, _ = head.get_targets(priors, [s], counts)
    want = ATSSAssigner(topk=2).assign(priors, s.gt_instances.bboxes, T([1]), num_level_priors=counts)
    assert (labels[0] < 3).tolist() == (want.gt_inds > 0).tolist() and (want.gt_inds > 0).sum() >= 1
    # As one level the candidates would differ: the per-level counts reach the assigner.
    one = ATSSAssigner(topk=2).assign(priors, s.gt_instances.bboxes, T([1]), num_level_priors=[20])
    assert one.gt_inds.tolist() != want.gt_inds.tolist()
    losses = head.loss(feats, [s])
    assert all(torch.isfinite(v) for v in losses.values())
    with pytest.raises(ValueError, match='num_level_priors'):
        head.get_targets(priors, [s])
