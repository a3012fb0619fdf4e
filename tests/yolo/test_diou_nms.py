"""DIoU-NMS (Zheng et al., "Distance-IoU Loss", AAAI 2020, section "Non-Maximum Suppression using
DIoU") against a worked example computed by hand, through the box op, the config switch every head
uses (zoo.api.batched_nms_by_cfg) and a head's post-processing; plain NMS stays torchvision's."""
import pytest
import torch
import torchvision

import registry
from registry import ConfigError
from zoo.api import batched_diou_nms, batched_nms_by_cfg, box_diou, select_detections
from zoo.structures import DetDataSample

# The worked example. A = [0, 0, 10, 10] (score 0.9), centre (5, 5).
# B = [4, 0, 14, 10] (0.8), centre (9, 5): intersection 6 x 10 = 60, union 140, IoU = 3/7 = 0.4286;
#   rho^2 = 4^2 = 16, enclosing box [0, 0, 14, 10]: c^2 = 14^2 + 10^2 = 296; DIoU = 3/7 - 16/296 = 0.3745.
# C = [1, 0, 11, 10] (0.7), centre (6, 5): intersection 90, union 110, IoU = 9/11 = 0.8182;
#   rho^2 = 1, enclosing [0, 0, 11, 10]: c^2 = 121 + 100 = 221; DIoU = 9/11 - 1/221 = 0.8137.
# D = A again, another class (0.6): never suppressed by a box of another class.
# At threshold 0.4 plain NMS (IoU > 0.4) suppresses B and C; DIoU-NMS (DIoU >= 0.4) suppresses
# only C: B's centre is far enough from A's.
BOXES = torch.tensor([[0.0, 0.0, 10.0, 10.0], [4.0, 0.0, 14.0, 10.0], [1.0, 0.0, 11.0, 10.0],
                      [0.0, 0.0, 10.0, 10.0]])
SCORES = torch.tensor([0.9, 0.8, 0.7, 0.6])
GROUPS = torch.tensor([0, 0, 0, 1])
DIOU_AB = 3 / 7 - 16 / 296
DIOU_AC = 9 / 11 - 1 / 221


def setup_module():
    registry.discover()


def test_box_diou_by_hand():
    d = box_diou(BOXES[:1], BOXES[:3])
    assert d[0].tolist() == pytest.approx([1.0, DIOU_AB, DIOU_AC], rel=1e-6)
    # far apart, disjoint: IoU 0, [0, 0, 2, 2] and [8, 0, 10, 2]: rho^2 = 64, c^2 = 100 + 4
    far = box_diou(torch.tensor([[0.0, 0.0, 2.0, 2.0]]), torch.tensor([[8.0, 0.0, 10.0, 2.0]]))
    assert far.item() == pytest.approx(-64 / 104)
    assert box_diou(torch.zeros(1, 4), torch.zeros(1, 4)).item() == 0.0   # no NaN


def test_plain_nms_suppresses_where_diou_nms_keeps():
    plain = torchvision.ops.batched_nms(BOXES, SCORES, GROUPS, 0.4)
    assert plain.tolist() == [0, 3]
    assert batched_diou_nms(BOXES, SCORES, GROUPS, 0.4).tolist() == [0, 1, 3]
    # between the two DIoUs every threshold keeps B; above DIoU(A, C) C survives too
    assert batched_diou_nms(BOXES, SCORES, GROUPS, 0.8).tolist() == [0, 1, 3]
    assert batched_diou_nms(BOXES, SCORES, GROUPS, 0.82).tolist() == [0, 1, 2, 3]
    # the paper's ">=": B is suppressed at a threshold of exactly its DIoU (as computed)
    at = box_diou(BOXES[:1], BOXES[1:2]).item()
    assert batched_diou_nms(BOXES, SCORES, GROUPS, at).tolist() == [0, 3]
    assert batched_diou_nms(BOXES[:0], SCORES[:0], GROUPS[:0], 0.4).tolist() == []


def test_suppression_is_greedy_in_score_order():
    # X = [0, 0, 10, 10] (best), Y = [2, 0, 12, 10], Z = [4, 0, 14, 10]. X-Y and Y-Z: IoU 80 / 120,
    # rho^2 = 4, c^2 = 12^2 + 10^2 = 244: DIoU 0.650 >= 0.4; X-Z: 0.3745 (above). Y is suppressed by
    # X, and a suppressed box suppresses nothing: Z is kept.
    boxes = torch.tensor([[2.0, 0.0, 12.0, 10.0], [0.0, 0.0, 10.0, 10.0], [4.0, 0.0, 14.0, 10.0]])
    assert 80 / 120 - 4 / 244 >= 0.4
    keep = batched_diou_nms(boxes, torch.tensor([0.8, 0.9, 0.7]), torch.zeros(3, dtype=torch.long), 0.4)
    assert keep.tolist() == [1, 2]


def test_the_config_switch():
    diou = batched_nms_by_cfg(BOXES, SCORES, GROUPS, dict(type='diou_nms', iou_threshold=0.4))
    assert diou.tolist() == [0, 1, 3]
    for cfg in (dict(type='nms', iou_threshold=0.4), dict(iou_threshold=0.4), 0.4):
        assert torch.equal(batched_nms_by_cfg(BOXES, SCORES, GROUPS, cfg),
                           torchvision.ops.batched_nms(BOXES, SCORES, GROUPS, 0.4))
    with pytest.raises(ConfigError, match=r"test_cfg.nms.type = 'soft_nms'"):
        batched_nms_by_cfg(BOXES, SCORES, GROUPS, dict(type='soft_nms', iou_threshold=0.4))
    with pytest.raises(ConfigError, match=r'model.x.nms.iou_threshold = None'):
        batched_nms_by_cfg(BOXES, SCORES, GROUPS, dict(type='diou_nms'), key='model.x.nms')
    with pytest.raises(ConfigError, match=r"unknown key\(s\) \['iou_thr'\]"):
        batched_nms_by_cfg(BOXES, SCORES, GROUPS, dict(iou_thr=0.4))


def test_a_heads_post_processing_takes_diou_nms():
    s = DetDataSample(metainfo=dict(img_shape=(20, 20), scale_factor=(1.0, 1.0)))
    labels = torch.tensor([[0, 0, 0, 1]])
    plain = select_detections(BOXES[None], SCORES[None], labels, [s], 2,
                              dict(nms=dict(iou_threshold=0.4)))[0]
    diou = select_detections(BOXES[None], SCORES[None], labels, [s], 2,
                             dict(nms=dict(type='diou_nms', iou_threshold=0.4)))[0]
    assert plain.scores.tolist() == pytest.approx([0.9, 0.6])
    assert diou.scores.tolist() == pytest.approx([0.9, 0.8, 0.6])
    assert diou.bboxes[1].tolist() == [4.0, 0.0, 14.0, 10.0]
    head = registry.build('head', dict(
        type='YOLOV3Head', num_classes=2, in_channels=[4],
        anchor_generator=dict(type='YOLOAnchorGenerator', strides=[16], base_sizes=[[(16, 16)]]),
        test_cfg=dict(nms=dict(type='diou_nms', iou_threshold=0.4))), key='model.bbox_head')
    # one prior per cell of a 2 x 2 grid (stride 16), all alike: four 16 x 16 boxes centred at
    # (8 + 16 i, 8 + 16 j), clipped to the 20 x 20 image; neighbours overlap by IoU 4/16 or less
    out = head.predict_by_feat([torch.zeros(1, 7, 2, 2)], [s])[0]
    assert len(out) == 8                                  # 4 boxes x 2 classes, none suppressed
