"""batched_nms_topk: torchvision's batched_nms cut to the first k kept boxes of each group, computed
without running NMS past them; the RPN's proposals are those of the full NMS."""
import os

import numpy as np
import pytest
import torch
from torchvision.ops import batched_nms, nms

from zoo.api import batched_nms_by_cfg
from zoo.structures import batched_nms_topk, first_k_per_group


def _boxes(n: int, seed: int, groups: int, ties: bool = False, spread: float = 15.0):
    """n boxes clustered like RPN proposals (many overlapping boxes around a few centres; the
    smaller ``spread``, the more NMS removes)."""
    g = torch.Generator().manual_seed(seed)
    centres = torch.rand(12, 2, generator=g) * 500
    c = centres[torch.randint(0, 12, (n,), generator=g)] + torch.randn(n, 2, generator=g) * spread
    wh = 30 + torch.rand(n, 2, generator=g) * 60
    boxes = torch.cat([c - wh / 2, c + wh / 2], 1)
    scores = torch.rand(n, generator=g)
    if ties:
        scores = (scores * 8).round() / 8  # 9 distinct values
    idxs = torch.randint(0, groups, (n,), generator=g)
    return boxes, scores, idxs


def _reference(boxes, scores, idxs, thr, k):
    """torchvision's batched_nms, then the first k of each group in its order."""
    keep = batched_nms(boxes, scores, idxs, thr)
    return keep[first_k_per_group(idxs[keep], k)]


@pytest.mark.parametrize('n,groups,k,spread', [(6000, 1, 1000, 15.0), (6000, 2, 1000, 15.0),
                                               (6000, 1, 1000, 8.0), (12000, 2, 1000, 8.0),
                                               (3000, 3, 300, 15.0), (2500, 2, 5000, 15.0),
                                               (900, 2, 100, 15.0)])
def test_equals_torchvisions_batched_nms_then_the_cut(n, groups, k, spread):
    """Continuous scores (no ties): the same indices in the same order. Spread 8: NMS keeps
    fewer than k of the best 2k boxes, so the prefix must grow (as in the ZF recipe's training,
    where the 1000th kept of 6000 boxes comes at about the 3300th). 900 boxes: torchvision's
    own one-call path; k above what NMS keeps: everything kept."""
    boxes, scores, idxs = _boxes(n, n + k, groups, spread=spread)
    got = batched_nms_topk(boxes, scores, idxs, 0.7, k)
    want = _reference(boxes, scores, idxs, 0.7, k)
    assert torch.equal(got, want)
    counts = torch.bincount(idxs[got], minlength=groups)
    full = torch.bincount(idxs[batched_nms(boxes, scores, idxs, 0.7)], minlength=groups)
    assert torch.equal(counts, full.clamp(max=k))
    assert (full > k).any() or k >= n  # the cut is exercised
    if spread < 10:  # the first prefix (the best 2k of a group) keeps fewer than k
        members = torch.where(idxs == 0)[0]
        best = members[torch.sort(scores[members], descending=True).indices[:2 * k]]
        assert nms(boxes[best], scores[best], 0.7).numel() < k <= full[0]


def test_equal_scores_are_taken_in_index_order():
    """With ties, the kept boxes are greedy NMS's in (score, then index) order, as torchvision's
    kernel processes them, cut at k per group; ordered by score, then index."""
    boxes, scores, idxs = _boxes(6000, 3, 2, ties=True)
    got = batched_nms_topk(boxes, scores, idxs, 0.7, 800)
    want = []
    for gid in (0, 1):
        members = torch.where(idxs == gid)[0]
        want.append(members[nms(boxes[members], scores[members], 0.7)[:800]])
    want = torch.cat(want)
    # order by decreasing score, then increasing index
    want = want[torch.sort(want).indices]
    want = want[torch.sort(scores[want], descending=True, stable=True).indices]
    assert torch.equal(got, want)


def test_first_k_per_group_by_hand():
    groups = torch.tensor([1, 0, 1, 1, 0, 2, 1])
    assert first_k_per_group(groups, 2).tolist() == [True, True, True, False, True, True, False]
    assert first_k_per_group(torch.zeros(0, dtype=torch.long), 3).numel() == 0


def test_bad_k_and_the_config_entry():
    boxes, scores, idxs = _boxes(2000, 0, 2)
    with pytest.raises(ValueError, match='max_per_group'):
        batched_nms_topk(boxes, scores, idxs, 0.7, 0)
    assert torch.equal(batched_nms_by_cfg(boxes, scores, idxs, dict(iou_threshold=0.7), max_per_group=50),
                       _reference(boxes, scores, idxs, 0.7, 50))
    assert torch.equal(batched_nms_by_cfg(boxes, scores, idxs, 0.7), batched_nms(boxes, scores, idxs, 0.7))
    diou = batched_nms_by_cfg(boxes, scores, idxs, dict(type='diou_nms', iou_threshold=0.7), max_per_group=50)
    full = batched_nms_by_cfg(boxes, scores, idxs, dict(type='diou_nms', iou_threshold=0.7))
    assert torch.equal(diou, full[first_k_per_group(idxs[full], 50)])


def test_the_rpn_proposals_are_those_of_the_full_nms():
    """The ZF recipe's RPN in training settings (6000 boxes per image, 1000 kept) on random
    weights: the proposals equal those of the full batched NMS cut afterwards (the code before)."""
    import registry
    from mmengine.config import Config

    from zoo.detectors.builder import build_detector
    registry.discover()
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    cfg = Config.fromfile(os.path.join(root, 'configs/faster_rcnn/faster_rcnn_zf_bccd.py'))
    torch.manual_seed(0)
    model = build_detector(cfg.model).eval()
    head = model.rpn_head
    feats = (torch.randn(2, 256, 30, 40),)
    meta = [type('S', (), {'metainfo': dict(img_shape=(480, 640))})() for _ in range(2)]
    rpn_cfg = dict(cfg.model.train_cfg.rpn_proposal)
    with torch.no_grad():
        cls_scores, bbox_preds = head(feats)
        got = head.predict_by_feat(cls_scores, bbox_preds, meta, rpn_cfg)
        import zoo.api.head_utils as hu
        original = hu.batched_nms_topk
        try:  # the full NMS, cut afterwards by the head's per-image top max_per_img
            hu.batched_nms_topk = lambda b, s, i, t, k: batched_nms(b, s, i, t)
            want = head.predict_by_feat(cls_scores, bbox_preds, meta, rpn_cfg)
        finally:
            hu.batched_nms_topk = original
    for a, b in zip(got, want):
        assert len(a.bboxes) == rpn_cfg['max_per_img']
        assert torch.equal(a.scores, b.scores)  # the same scores in the same (decreasing) order
        # the same boxes; among equal scores (the random model has a few: anchors at the padded
        # border see the same features) in index order here, in sort's order before
        rows = [np.lexsort(np.c_[p.bboxes.numpy(), p.scores.numpy()].T) for p in (a, b)]
        assert torch.equal(a.bboxes[rows[0]], b.bboxes[rows[1]])
