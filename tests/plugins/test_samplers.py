"""RandomSampler: counts of the paper's rule, gt boxes as proposals, seeds, the batched path."""
import pytest
import torch

from plugins.samplers import RandomSampler
from zoo.api import AssignResult, SamplingResult
from registry import SAMPLERS, build


def make_case(num_pos, num_neg, num_ignore=0, num_gts=3, seed=0):
    """Priors with the given numbers of positive / negative / ignored assignments, shuffled."""
    g = torch.Generator().manual_seed(seed)
    n = num_pos + num_neg + num_ignore
    assert num_gts > 0 or num_pos == 0
    gt_inds = torch.cat((torch.randint(1, max(num_gts, 1) + 1, (num_pos,), generator=g),
                         torch.zeros(num_neg, dtype=torch.long),
                         torch.full((num_ignore,), -1, dtype=torch.long)))
    gt_inds = gt_inds[torch.randperm(n, generator=g)]
    gt_labels = torch.arange(num_gts, dtype=torch.long) + 10
    labels = torch.full((n,), -1, dtype=torch.long)
    labels[gt_inds > 0] = gt_labels[gt_inds[gt_inds > 0] - 1]
    priors = torch.rand(n, 2, generator=g).mul(100).repeat(1, 2) + torch.tensor([0., 0., 5., 5.])
    gt_bboxes = torch.rand(num_gts, 2, generator=g).mul(100).repeat(1, 2) + torch.tensor([0., 0., 9., 9.])
    ar = AssignResult(num_gts, gt_inds, torch.rand(n, generator=g), labels)
    return ar, priors, gt_bboxes, gt_labels


def check_valid(res, ar_gt_inds, priors, gt_bboxes, gt_labels):
    """Indices distinct, disjoint, of the right kind; matched boxes and labels consistent; the
    sampled boxes are the given priors (after the gt boxes, when the sampler prepends them)."""
    assert isinstance(res, SamplingResult)
    added = ar_gt_inds.shape[0] - priors.shape[0]  # gt boxes prepended: 0 or M
    assert added in (0, gt_bboxes.shape[0])
    expected = torch.cat((gt_bboxes, priors[:, :4])) if added else priors[:, :4]
    assert torch.equal(res.priors, expected)
    assert torch.equal(res.pos_priors, expected[res.pos_inds])
    assert torch.equal(res.neg_priors, expected[res.neg_inds])
    assert torch.equal(res.pos_is_gt, res.pos_inds < added)
    pos, neg = res.pos_inds.tolist(), res.neg_inds.tolist()
    assert len(set(pos)) == len(pos) and len(set(neg)) == len(neg) and not set(pos) & set(neg)
    assert (ar_gt_inds[res.pos_inds] > 0).all() and (ar_gt_inds[res.neg_inds] == 0).all()
    assert torch.equal(res.pos_assigned_gt_inds, ar_gt_inds[res.pos_inds] - 1)
    assert torch.equal(res.pos_gt_bboxes, gt_bboxes[res.pos_assigned_gt_inds])
    assert torch.equal(res.pos_gt_labels, gt_labels[res.pos_assigned_gt_inds])
    assert res.pos_inds.dtype == res.neg_inds.dtype == torch.int64
    assert res.pos_is_gt.dtype == torch.bool


@pytest.mark.parametrize('num_pos, num_neg, num_ignore, exp_pos, exp_neg', [
    (1000, 5000, 300, 128, 128),  # paper: 256 anchors, up to 1:1
    (10, 5000, 0, 10, 246),       # few positives: all of them, negatives pad to 256
    (10, 20, 50, 10, 20),         # few of both: all of them, never an ignored one
    (0, 5000, 0, 0, 256),
    (0, 0, 7, 0, 0),
])
def test_counts(num_pos, num_neg, num_ignore, exp_pos, exp_neg):
    ar, priors, gt, labels = make_case(num_pos, num_neg, num_ignore)
    res = RandomSampler(256, 0.5).sample(ar, priors, gt, labels)
    assert (res.num_pos, res.num_neg) == (exp_pos, exp_neg)
    check_valid(res, ar.gt_inds, priors, gt, labels)
    assert res.priors is priors or torch.equal(res.priors, priors)
    assert not res.pos_is_gt.any() and res.num_gts == 3


def test_neg_pos_ub():
    ar, priors, gt, labels = make_case(10, 5000)
    assert RandomSampler(256, 0.5, neg_pos_ub=3).sample(ar, priors, gt, labels).num_neg == 30
    ar, priors, gt, labels = make_case(0, 5000)
    assert RandomSampler(256, 0.5, neg_pos_ub=3).sample(ar, priors, gt, labels).num_neg == 3


def test_rcnn_fraction_and_no_gts():
    ar, priors, gt, labels = make_case(500, 5000)
    res = RandomSampler(128, 0.25).sample(ar, priors, gt, labels)
    assert (res.num_pos, res.num_neg) == (32, 96)
    ar, priors, _, _ = make_case(0, 50, num_gts=0)
    res = RandomSampler(128, 0.25).sample(ar, priors, torch.zeros(0, 4), torch.zeros(0, dtype=torch.long))
    assert res.num_pos == 0 and res.num_neg == 50 and res.pos_gt_bboxes.shape == (0, 4)


def test_add_gt_as_proposals_prepends_gts():
    ar, priors, gt, labels = make_case(20, 500, num_gts=3)
    res = RandomSampler(512, 0.25, add_gt_as_proposals=True).sample(ar, priors, gt, labels)
    assert res.priors.shape == (3 + priors.shape[0], 4)
    assert torch.equal(res.priors[:3], gt) and torch.equal(res.priors[3:], priors)
    # 23 positives <= 128: all taken, the three gts matched to themselves
    expected = {0, 1, 2} | {int(i) + 3 for i in torch.nonzero(ar.gt_inds > 0)[:, 0]}
    assert set(res.pos_inds.tolist()) == expected
    is_gt = res.pos_inds < 3
    assert torch.equal(res.pos_is_gt, is_gt) and int(is_gt.sum()) == 3
    assert torch.equal(res.pos_assigned_gt_inds[is_gt], res.pos_inds[is_gt])
    assert torch.equal(res.pos_gt_bboxes[is_gt], gt[res.pos_inds[is_gt]])
    assert torch.equal(res.pos_gt_labels[is_gt], labels[res.pos_inds[is_gt]])
    assert (res.neg_inds >= 3).all() and res.num_neg == 512 - 23  # negatives fill up to num
    aug_gt_inds = torch.cat((torch.arange(1, 4), ar.gt_inds))
    check_valid(res, aug_gt_inds, priors, gt, labels)
    assert torch.equal(res.sampled_priors, torch.cat((res.pos_priors, res.neg_priors)))


def test_seed_reproducibility():
    ar, priors, gt, labels = make_case(1000, 5000)
    sampler = RandomSampler(256, 0.5)
    runs = []
    for seed in (7, 7, 8):
        torch.manual_seed(seed)
        res = sampler.sample(ar, priors, gt, labels)
        batch = sampler.sample_batch([ar, ar], [priors, priors], [gt, gt], [labels, labels])
        runs.append((res.pos_inds, res.neg_inds, batch[0].pos_inds, batch[1].neg_inds))
    assert all(torch.equal(a, b) for a, b in zip(runs[0], runs[1]))
    assert not any(torch.equal(a, b) for a, b in zip(runs[0], runs[2]))


def test_sample_batch_valid_and_counts():
    cases = [make_case(1000, 5000, 100, seed=1), make_case(10, 300, 5, seed=2),
             make_case(0, 40, 0, seed=3), make_case(5, 0, 10, seed=4), make_case(0, 0, 0, seed=5)]
    for sampler in (RandomSampler(256, 0.5), RandomSampler(256, 0.5, neg_pos_ub=2),
                    RandomSampler(128, 0.25, add_gt_as_proposals=True)):
        torch.manual_seed(0)
        results = sampler.sample_batch(*map(list, zip(*cases)))
        assert len(results) == len(cases)
        for res, (ar, priors, gt, labels) in zip(results, cases):
            single = sampler.sample(ar, priors, gt, labels)
            assert (res.num_pos, res.num_neg) == (single.num_pos, single.num_neg)
            aug = ar.gt_inds
            if sampler.add_gt_as_proposals:
                aug = torch.cat((torch.arange(1, 4), ar.gt_inds))
                assert torch.equal(res.priors[:3], gt)
            check_valid(res, aug, priors, gt, labels)
    assert RandomSampler(8, 0.5).sample_batch([], [], [], []) == []


def test_sample_batch_is_uniform():
    # 400 images with 100 positives each, 25 drawn: every positive chosen with p = 0.25
    ar, priors, gt, labels = make_case(100, 100)
    torch.manual_seed(0)
    results = RandomSampler(50, 0.5).sample_batch([ar] * 400, [priors] * 400, [gt] * 400,
                                                  [labels] * 400)
    counts = torch.bincount(torch.cat([r.pos_inds for r in results]), minlength=200).float()
    freq = counts[ar.gt_inds > 0] / 400
    assert (freq - 0.25).abs().max() < 0.11  # about 5 sigma (sigma = 0.0217)
    assert abs(freq.mean().item() - 0.25) < 1e-6  # exactly 25 per image


def test_bad_arguments_and_registry():
    s = build('sampler', dict(type='RandomSampler', num=256, pos_fraction=0.5))
    assert isinstance(s, RandomSampler) and SAMPLERS.get('RandomSampler') is RandomSampler
    with pytest.raises(ValueError, match='num must be'):
        RandomSampler(0, 0.5)
    with pytest.raises(ValueError, match='pos_fraction'):
        RandomSampler(256, 1.5)
    ar, priors, gt, labels = make_case(10, 10)
    with pytest.raises(ValueError, match='assign_result covers'):
        s.sample(ar, priors[:5], gt, labels)
    with pytest.raises(ValueError, match='gt_labels must be'):
        s.sample(ar, priors, gt, labels[:2])
    with pytest.raises(ValueError, match='one entry per image'):
        s.sample_batch([ar], [priors, priors], [gt], [labels])
