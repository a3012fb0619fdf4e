"""The TIDE breakdown (Bolya et al., ECCV 2020) on a hand-made image where each error type occurs
once; the APs are worked out by hand below (COCO 101-point AP at IoU 0.5, mean of classes A, B).

How a 101-point AP is read: precision p_i and recall r_i along the score-sorted detections; the
envelope e_i = max(p_j, j >= i); at each recall point r in 0, .01, ..., 1 the envelope at the
first i with r_i >= r (0 past the last). "67 points" = the points r <= 2/3 (0 .. .66), "34
points" = r <= 1/3, "51 points" = r <= 1/2.

Base. A (3 boxes): d4 .95 FP, d0 .90 TP, d1 .80 FP, d7 .30 TP -> r 0,1/3,1/3,2/3,
p 0,1/2,1/3,1/2, e all 1/2: AP_A = 67 * 1/2 / 101 = 33.5/101.
B (3 boxes): d5 .97 FP, d6 .95 TP, d2 .70 FP, d3 .60 FP -> r 0,1/3,1/3,1/3, p 0,1/2,1/3,1/4,
e 1/2,1/2,1/3,1/4: AP_B = 34 * 1/2 / 101 = 17/101.  mAP = 50.5/202 = 0.25.

cls: d2 becomes an A TP (.70): A = FP,TP,FP,TP,TP, r ..,1, p ..,2/4,3/5, e all 3/5 -> AP_A = 0.6;
  B loses an FP after its TP: 17/101.  mAP = (60.6 + 17)/202 -> dAP = 27.1/202.
loc: d3 becomes a B TP (.60): B = FP,TP,FP,TP, r 0,1/3,1/3,2/3, e all 1/2 -> 33.5/101;
  mAP = 33.5/101 -> dAP = 8.25/101.
both: d4 removed: A = TP,FP,TP, r 1/3,1/3,2/3, p 1,1/2,2/3, e 1,2/3,2/3 -> (34 + 33 * 2/3)/101
  = 56/101; mAP = 73/202 -> dAP = 22.5/202.
duplicate: d1 removed: A = FP,TP,TP, p 0,1/2,2/3, e all 2/3 -> 67 * 2/3 / 101;
  mAP = (44.667 + 17)/202 -> dAP = (67/6)/202.
background: d5 removed: B = TP,FP,FP, e 1,1/2,1/3 -> 34/101; mAP = 67.5/202 -> dAP = 17/202.
missed: g5 removed (B has 2 boxes): B r 0,1/2,1/2,1/2, e 1/2,.. -> 51 * 1/2 / 101;
  mAP = 59/202 -> dAP = 8.5/202.
"""
import numpy as np
import pytest

from cases import DETS, GT, record
from zoo.analysis import ERROR_TYPES, tide_errors

EXPECTED_DAP = dict(cls=27.1 / 202, loc=8.25 / 101, both=22.5 / 202, duplicate=(67 / 6) / 202,
                    background=17 / 202, missed=8.5 / 202)


def test_every_error_type_costs_its_hand_computed_dap():
    res = tide_errors([record(GT, DETS)], num_classes=2)
    assert res.ap == pytest.approx(0.25)
    assert res.counts == {k: 1 for k in ERROR_TYPES}
    for kind, dap in EXPECTED_DAP.items():
        assert res.dap[kind] == pytest.approx(dap), kind
        assert res.fixed_ap[kind] == pytest.approx(0.25 + dap), kind
    # the type of each detection, in the record's order d0 .. d7, and the missed box
    assert res.det_errors == [[None, 'duplicate', 'cls', 'loc', 'both', 'background', None, None]]
    assert res.missed == [[5]]


def test_a_fix_claims_a_box_once_and_never_a_found_one():
    # d2 and a lower-scoring twin d2' both point at g1 (cls): fixed, only d2 becomes a TP, d2' is
    # removed. A: d0 .90 TP, d1 .80 FP, d2 .70 TP, d2' removed, d7 .30 TP: as the cls fix above.
    dets = DETS + [(1, .65, [20, 0, 30, 10])]
    res = tide_errors([record(GT, dets)], num_classes=2)
    assert res.counts['cls'] == 2
    # B also loses the FP d2' (after its only TP: no change)
    assert res.dap['cls'] == pytest.approx(27.1 / 202)
    # a cls error on a box already found (g0, by d0) is removed, not a second TP: B (.99, on g0)
    # in front of everything in B; fixing removes it -> B back to the base
    dets = DETS + [(1, .99, [0, 0, 10, 10])]
    res = tide_errors([record(GT, dets)], num_classes=2)
    assert res.det_errors[0][-1] == 'cls'
    base_b = 34 * (1 / 3) / 101  # B with d(.99) FP first: r 0,0,1/3..., p 0,0,1/3 -> e 1/3
    assert res.ap == pytest.approx((33.5 / 101 + base_b) / 2)
    # fixed: d(.99) is removed (not a TP): B as in the base case (17/101); d2 fixed as before
    # (AP_A = 0.6)
    assert res.fixed_ap['cls'] == pytest.approx((0.6 + 17 / 101) / 2)


def test_no_false_positive_costs_nothing_and_thresholds_are_checked():
    gt = [(0, [0, 0, 10, 10])]
    res = tide_errors([record(gt, [(0, .9, [0, 0, 10, 10])])], num_classes=1)
    assert res.ap == pytest.approx(1.0) and all(v == 0 for v in res.dap.values())
    with pytest.raises(ValueError, match='t_b'):
        tide_errors([record(gt, [])], num_classes=1, t_f=0.1, t_b=0.5)


def test_ignored_ground_truth_is_neither_found_nor_missed():
    gt = [(0, [0, 0, 10, 10]), (0, [50, 50, 60, 60])]
    rec = record(gt, [(0, .9, [50, 50, 60, 60])], ignore=np.array([False, True]))
    res = tide_errors([rec], num_classes=1)
    assert res.det_errors == [[None]]  # matched to the ignored box: not an error
    assert res.missed == [[0]] and res.ap == 0.0


def test_which_type_wins_where_two_definitions_hold():
    # right place of another class (IoU 1 with a B box) and 1/3 with an A box: classification
    # (tidecv would call it localization)
    gt = [(1, [0, 0, 10, 10]), (0, [5, 0, 15, 10])]
    res = tide_errors([record(gt, [(0, .9, [0, 0, 10, 10])])], num_classes=2)
    assert res.det_errors == [['cls']]
    # a second detection on a found A box that also covers a B box: duplicate
    gt = [(0, [0, 0, 10, 10]), (1, [0, 0, 10, 10.5])]
    res = tide_errors([record(gt, [(0, .9, [0, 0, 10, 10]), (0, .8, [0, 0, 10, 10])])],
                      num_classes=2)
    assert res.det_errors == [[None, 'duplicate']]
