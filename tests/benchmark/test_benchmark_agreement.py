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
