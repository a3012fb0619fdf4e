"""The confusion matrix (mmdetection's tools/analysis_tools/confusion_matrix.py conventions) on the
hand-made image of cases.py, counted by hand."""
import numpy as np

from cases import DETS, GT, record
from zoo.analysis import confusion_matrix, confusion_to_json


def test_hand_counted_matrix():
    # rows: GT A, GT B, background; columns: predicted A, predicted B, missed. IoU >= 0.5.
    # d0 A on g0 (A) -> [A, A]; d1 A on g0 again -> [A, A] (no one-to-one matching);
    # d7 A on g4 -> [A, A]; d2 B on g1 (A) -> [A, B]; d6 B on g3 -> [B, B];
    # d4 A (IoU 1/3 only) -> [bg, A]; d3 B (IoU 1/3), d5 B (nothing) -> [bg, B] twice;
    # missed: g1 (only a B detection on it) -> [A, missed]; g2, g5 -> [B, missed] twice.
    m = confusion_matrix([record(GT, DETS)], num_classes=2, iou_thr=0.5, score_thr=0.3)
    assert m.tolist() == [[3, 1, 1],
                          [0, 1, 2],
                          [1, 2, 0]]
    # score_thr 0.35 drops d7 (.30): g4 becomes missed
    m = confusion_matrix([record(GT, DETS)], num_classes=2, iou_thr=0.5, score_thr=0.35)
    assert m.tolist() == [[2, 1, 2],
                          [0, 1, 2],
                          [1, 2, 0]]
    # IoU 0.3 turns d3 (1/3 with g2) into a hit [B, B] (g2 found) and d4 (1/3 with g3) into [B, A]
    m = confusion_matrix([record(GT, DETS)], num_classes=2, iou_thr=0.3, score_thr=0.3)
    assert m.tolist() == [[3, 1, 1],
                          [1, 2, 1],
                          [0, 1, 0]]


def test_a_detection_on_two_boxes_counts_twice_and_ignored_boxes_are_left_out():
    gt = [(0, [0, 0, 10, 10]), (0, [0, 0, 10, 11]), (1, [50, 50, 60, 60])]
    rec = record(gt, [(0, .9, [0, 0, 10, 10.5]), (1, .9, [50, 50, 60, 60])],
                 ignore=np.array([False, False, True]))
    # the A detection overlaps both A boxes (IoU 20/21 and 10.5/11); the B detection is on an
    # ignored box, which mmdet does not see: background
    m = confusion_matrix([rec], num_classes=2)
    assert m.tolist() == [[2, 0, 0], [0, 0, 0], [0, 1, 0]]
    out = confusion_to_json(m, ('A', 'B'), 0.5, 0.3)
    assert out['rows'] == ['A', 'B', 'background'] and out['columns'] == ['A', 'B', 'missed']
