"""The agreement check that comes before any timing (zoo.benchmark.agreement)."""
import torch

from zoo.benchmark.agreement import compare_detections


def _dets():
    boxes = torch.tensor([[10., 10, 50, 60], [100, 20, 140, 90], [30, 200, 90, 260]])
    return dict(boxes=boxes, scores=torch.tensor([0.9, 0.7, 0.7]), labels=torch.tensor([1, 2, 1]))


def test_identical_and_rounding_level_differences_agree():
    ref, cand = _dets(), _dets()
    cand['boxes'] = cand['boxes'] + 1e-4
    cand['scores'] = cand['scores'] - 2e-6
    result = compare_detections([ref], [cand])
    assert result.ok and result.detections == 3 and result.reordered == 0
    # (float32: a 1e-4 step at 100 px is 1e-4 to within 1e-5)
    assert abs(result.max_box_diff - 1e-4) < 1e-5 and abs(result.max_score_diff - 2e-6) < 3e-7


def test_a_swap_of_equal_scores_agrees_and_is_counted():
    ref, cand = _dets(), _dets()
    cand = {k: v[[0, 2, 1]] for k, v in cand.items()}
    result = compare_detections([ref], [cand])
    assert result.ok and result.reordered == 2


def test_moved_box_other_class_missing_detection_or_score_disagree():
    ref = _dets()
    moved = _dets()
    moved['boxes'][1, 2] += 0.05  # beyond 0.01 px
    relabelled = _dets()
    relabelled['labels'][2] = 3
    rescored = _dets()
    rescored['scores'][0] -= 1e-3
    missing = {k: v[:2] for k, v in _dets().items()}
    for cand, word in ((moved, 'no partner'), (relabelled, 'class 1'), (rescored, 'no partner'),
                       (missing, '3 detections against 2')):
        result = compare_detections([ref], [cand], names=['BloodImage_00007'])
        assert not result.ok
        assert 'image BloodImage_00007' in result.problems[0] and word in result.problems[0]


# --- agreement within a tolerance (match_detections) ----------------------------------------
from zoo.benchmark.agreement import box_iou_xyxy, match_detections, match_pairs  # noqa: E402


def _set(boxes, scores, labels):
    return dict(boxes=torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4),
                scores=torch.tensor(scores, dtype=torch.float32),
                labels=torch.tensor(labels, dtype=torch.long))


def test_box_iou_by_hand():
    a = torch.tensor([[0., 0, 10, 10], [0, 0, 0, 5]])
    b = torch.tensor([[1., 0, 11, 10], [0.5, 0, 10.5, 10], [20, 20, 30, 30]])
    iou = box_iou_xyxy(a, b)
    # 9 x 10 = 90 over 100 + 100 - 90 = 110; 9.5 x 10 = 95 over 105; disjoint; empty box: 0
    expected = torch.tensor([[90 / 110, 95 / 105, 0.0], [0.0, 0.0, 0.0]], dtype=torch.float64)
    assert torch.allclose(iou, expected, atol=1e-12)


def test_the_tolerance_iou_label_and_score():
    ref = _set([[0, 0, 10, 10]], [0.8], [1])
    cases = [  # candidate, matched?
        (_set([[0.5, 0, 10.5, 10]], [0.8], [1]), True),    # IoU 95/105 = 0.905 >= 0.9
        (_set([[1, 0, 11, 10]], [0.8], [1]), False),       # IoU 90/110 = 0.818 < 0.9
        (_set([[0, 0, 10, 10]], [0.8], [2]), False),       # another label
        (_set([[0, 0, 10, 10]], [0.76], [1]), True),       # scores 0.04 apart
        (_set([[0, 0, 10, 10]], [0.74], [1]), False),      # scores 0.06 apart
    ]
    for cand, ok in cases:
        m = match_detections([ref], [cand])
        assert (m.matched, m.share) == ((1, 1.0) if ok else (0, 0.0)), cand
        assert m.reference == 1 and m.candidate == 1
    # a looser IoU threshold accepts the 0.818 box
    assert match_detections([ref], [cases[1][0]], iou_thr=0.8).matched == 1


def test_one_to_one_by_decreasing_score_and_best_iou():
    # two reference boxes fit the one candidate: the higher-scored (listed second) gets it
    ref = _set([[0, 0, 10, 10], [0, 0, 10.2, 10]], [0.70, 0.72], [1, 1])
    cand = _set([[0, 0, 10.1, 10]], [0.71], [1])
    assert match_pairs(ref, cand) == [(1, 0)]
    m = match_detections([ref], [cand])
    assert (m.matched, m.reference, m.candidate) == (1, 2, 1) and m.share == 0.5
    # one reference box fits two candidates: it takes the one of higher IoU (the second here),
    # and the other candidate stays without a partner
    ref = _set([[0, 0, 10, 10]], [0.9], [0])
    cand = _set([[0, 0, 10.8, 10], [0, 0, 10.1, 10]], [0.9, 0.9], [0])
    assert match_pairs(ref, cand) == [(0, 1)]
    assert match_detections([ref], [cand]).share == 0.5


def test_share_over_several_images():
    a = _set([[0, 0, 10, 10], [20, 20, 40, 40], [50, 50, 60, 70]], [0.9, 0.8, 0.7], [0, 1, 2])
    b = _set([[0, 0, 10, 10], [20, 20, 40, 40]], [0.9, 0.8], [0, 1])     # one missing
    c = _set([[0, 0, 10, 10], [20, 20, 40, 40], [50, 50, 60, 70], [5, 5, 9, 9]],
             [0.9, 0.8, 0.7, 0.1], [0, 1, 2, 0])                          # one extra
    empty = _set([], [], [])
    m = match_detections([a, a, a, empty, empty], [a, b, c, empty, b])
    # matched 3 + 2 + 3 + 0 + 0 over max counts 3 + 3 + 4 + 0 + 2
    assert m.per_image == [[3, 3, 3], [2, 3, 2], [3, 3, 4], [0, 0, 0], [0, 0, 2]]
    assert (m.matched, m.reference, m.candidate, m.images) == (8, 9, 11, 5)
    assert m.share == 8 / 12
    assert match_detections([empty], [empty]).share == 1.0
    assert m.as_dict()['share'] == m.share and m.as_dict()['iou_thr'] == 0.9


def test_match_detections_rejects_bad_arguments():
    import pytest
    a = _set([[0, 0, 1, 1]], [0.5], [0])
    with pytest.raises(ValueError, match='1 reference images against 2'):
        match_detections([a], [a, a])
    with pytest.raises(ValueError, match='iou_thr must be in'):
        match_detections([a], [a], iou_thr=0)
    with pytest.raises(ValueError, match='score_atol >= 0'):
        match_detections([a], [a], score_atol=-0.1)
