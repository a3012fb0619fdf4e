"""YOLOv3's priors: the anchor generator (cell-centred (w, h) anchors), the box coder
(b_xy = (sigmoid(t_xy) + c_xy) * stride, b_wh = p_wh * exp(t_wh)) and the grid assigner (one
best-shape anchor over all levels at the centre's cell, ignore threshold), on cases worked out
by hand."""
import math

import pytest
import torch

import plugins  # noqa: F401
from plugins.anchor_generators import YOLOV3_COCO_ANCHORS, YOLOAnchorGenerator
from plugins.assigners import GridAssigner
from plugins.coders import YOLOBBoxCoder
from zoo.api import shape_iou
from registry import ANCHOR_GENERATORS, ASSIGNERS, BBOX_CODERS, AssemblyError, FeatureSpec, check_link


# anchor generator -----------------------------------------------------------------------------
def test_anchors_are_centred_in_their_cells():
    gen = YOLOAnchorGenerator(strides=[8, 16], base_sizes=[[(8, 8), (16, 8)], [(16, 32), (32, 32)]])
    assert gen.num_base_anchors == 2 and gen.num_levels == 2
    lv0, lv1 = gen.grid_priors([(4, 4), (2, 2)])
    assert lv0.shape == (32, 4) and lv1.shape == (8, 4)
    # level 0, cell (y=2, x=1), anchor 1 (16 x 8): index (2 * 4 + 1) * 2 + 1 = 19, centre (12, 20)
    assert lv0[19].tolist() == [4.0, 16.0, 20.0, 24.0]
    # level 1, cell (y=0, x=1), anchor 1 (32 x 32): index 3, centre (24, 8)
    assert lv1[3].tolist() == [8.0, -8.0, 40.0, 24.0]
    assert gen.anchor_wh().tolist() == [[[8, 8], [16, 8]], [[16, 32], [32, 32]]]
    assert ANCHOR_GENERATORS.get('YOLOAnchorGenerator') is YOLOAnchorGenerator


def test_default_anchors_are_yolov3s_coco_clusters():
    gen = YOLOAnchorGenerator()
    assert gen.strides == (8, 16, 32) and gen.num_base_anchors == 3
    assert gen.anchor_wh().reshape(-1, 2).tolist() == [list(a) for lv in YOLOV3_COCO_ANCHORS
                                                       for a in lv]
    with pytest.raises(AssemblyError, match=r'strides = \[8, 16, 32\]'):
        check_link(None, gen, FeatureSpec((512,), (16,)))  # e.g. VGG16's single level


@pytest.mark.parametrize('kwargs, word', [
    (dict(strides=[8, 16], base_sizes=[[(8, 8)]]), 'for each of the 2 levels'),
    (dict(strides=[8], base_sizes=[[(8, -1)]]), 'positive'),
    (dict(strides=[8, 16], base_sizes=[[(8, 8)], [(8, 8), (4, 4)]]), 'differs between levels'),
    (dict(strides=[0], base_sizes=[[(8, 8)]]), 'strides'),
])
def test_anchor_generator_bad_arguments(kwargs, word):
    with pytest.raises(ValueError, match=word):
        YOLOAnchorGenerator(**kwargs)


# coder ------------------------------------------------------------------------------------------
def test_coder_by_hand_and_round_trip():
    coder = YOLOBBoxCoder()
    prior = torch.tensor([[4.0, 16.0, 20.0, 24.0]])   # cell (x=1, y=2) at stride 8, 16 x 8
    gt = torch.tensor([[5.5, 16.5, 20.5, 25.5]])      # centre (13, 21), 15 x 9
    enc = coder.encode(prior, gt, 8)
    assert enc[0].tolist() == pytest.approx([0.625, 0.625, math.log(15 / 16 + 1e-6),
                                             math.log(9 / 8 + 1e-6)], rel=1e-6)
    assert coder.decode(prior, enc, 8)[0].tolist() == pytest.approx(gt[0].tolist(), abs=1e-4)
    # the paper's form: b_x = (sigmoid(t_x) + c_x) * stride with c_x = 1
    t = torch.tensor([[0.3, -1.2, 0.7, -0.4]])
    pred = torch.cat((t[:, :2].sigmoid(), t[:, 2:]), 1)
    box = coder.decode(prior, pred, 8)[0]
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    assert float(cx) == pytest.approx((torch.sigmoid(t[0, 0]).item() + 1) * 8, rel=1e-6)
    assert float(cy) == pytest.approx((torch.sigmoid(t[0, 1]).item() + 2) * 8, rel=1e-6)
    assert float(box[2] - box[0]) == pytest.approx(16 * math.exp(0.7), rel=1e-6)
    assert float(box[3] - box[1]) == pytest.approx(8 * math.exp(-0.4), rel=1e-6)
    assert BBOX_CODERS.get('YOLOBBoxCoder') is YOLOBBoxCoder


def test_coder_batches_per_prior_strides_and_clamps():
    coder = YOLOBBoxCoder()
    priors = torch.tensor([[0.0, 0.0, 8.0, 8.0], [0.0, 0.0, 32.0, 32.0]])
    strides = torch.tensor([8.0, 32.0])
    pred = torch.tensor([[[1.0, 0.5, 0.0, 0.0], [0.0, 0.5, 100.0, -100.0]]])  # (B=1, N=2, 4)
    boxes = coder.decode(priors, pred, strides)
    assert boxes.shape == (1, 2, 4)
    assert boxes[0, 0].tolist() == [4.0, 0.0, 12.0, 8.0]           # centre moved by +0.5 stride
    w, h = (boxes[0, 1, 2:] - boxes[0, 1, :2]).tolist()
    assert w == pytest.approx(32 * 1000 / 16, rel=1e-5) and h == pytest.approx(32 * 16 / 1000, rel=1e-5)
    # a gt centre on the cell border is clamped inside the cell
    enc = coder.encode(priors[:1], torch.tensor([[-4.0, 0.0, 4.0, 8.0]]), 8)
    assert float(enc[0, 0]) == pytest.approx(1e-6)
    with pytest.raises(ValueError, match='same shape'):
        coder.encode(priors, priors[:1], 8)
    with pytest.raises(ValueError, match='eps'):
        YOLOBBoxCoder(eps=0.7)


# assigner ---------------------------------------------------------------------------------------
ANCHOR_WH = torch.tensor([[[8.0, 8.0], [16.0, 8.0]], [[16.0, 32.0], [32.0, 32.0]]])
STRIDES, SIZES = [8, 16], [(4, 4), (2, 2)]


def priors():
    gen = YOLOAnchorGenerator(STRIDES, ANCHOR_WH.tolist())
    return torch.cat(gen.grid_priors(SIZES))


def box(cx, cy, w, h):
    return [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2]


def test_shape_iou_by_hand():
    iou = shape_iou(torch.tensor([[15.0, 9.0]]), ANCHOR_WH.reshape(-1, 2))
    assert iou[0].tolist() == pytest.approx([64 / 135, 120 / 143, 135 / 512, 135 / 1024], rel=1e-6)


def test_best_anchor_over_all_levels_at_the_centre_cell():
    gt = torch.tensor([box(13, 21, 15, 9), box(20, 12, 30, 30)])
    # gt 0: best shape 16 x 8 (level 0, anchor 1), cell (y=2, x=1): prior (2*4+1)*2+1 = 19
    # gt 1: best shape 32 x 32 (level 1, anchor 1), cell (y=0, x=1): prior 32 + (0*2+1)*2+1 = 35
    res = GridAssigner(ignore_by='prior').assign(
        ANCHOR_WH, STRIDES, SIZES, priors(), [gt], [torch.tensor([2, 0])])
    assert res.gt_inds.shape == (1, 40)
    assert res.pos_mask[0].nonzero().squeeze(1).tolist() == [19, 35]
    assert res.gt_inds[0, 19] == 1 and res.gt_inds[0, 35] == 2
    assert res.labels[0, 19] == 2 and res.labels[0, 35] == 0
    assert ((res.labels[0] >= 0) == res.pos_mask[0]).all()
    # with ignore_by='prior' the other priors overlapping a gt by > 0.5 are ignored
    from torchvision.ops import box_iou
    best = box_iou(priors(), gt).amax(1)
    others = torch.ones(40, dtype=torch.bool)
    others[[19, 35]] = False
    assert torch.equal(res.gt_inds[0, others] == -1, best[others] > 0.5)
    assert torch.allclose(res.max_overlaps[0], best)


def test_ignore_by_prediction_collisions_and_empty_images():
    gt = torch.tensor([box(13, 21, 15, 9), box(12, 20, 16, 7)])  # same anchor, same cell
    pred = torch.tensor([[0.0, 0.0, 1.0, 1.0]]).repeat(2, 40, 1)
    pred[0, 5] = torch.tensor(box(13, 21, 15, 9))            # IoU 1 with gt 0: ignored
    pred[0, 6] = torch.tensor(box(13, 21, 15, 3))            # IoU < 0.5: stays negative
    pred[1, 7] = torch.tensor([20.0, 20.0, 30.0, 30.0])      # on image 1's ignore box
    res = GridAssigner(ignore_iou_thr=0.5).assign(
        ANCHOR_WH, STRIDES, SIZES, priors(), [gt, torch.zeros(0, 4)],
        [torch.tensor([1, 2]), torch.zeros(0, dtype=torch.long)], pred_bboxes=pred,
        gt_bboxes_ignore=[None, torch.tensor([[20.0, 20.0, 30.0, 30.0]])])
    # both boxes want prior 19: the later one wins (darknet writes box after box)
    assert res.pos_mask[0].nonzero().squeeze(1).tolist() == [19]
    assert res.gt_inds[0, 19] == 2 and res.labels[0, 19] == 2
    assert res.gt_inds[0, 5] == -1 and res.gt_inds[0, 6] == 0
    # its best IoU: with gt 1, 14.5 x 3 over 45 + 112 - 43.5 (gt 0: 1/3)
    assert float(res.max_overlaps[0, 6]) == pytest.approx(43.5 / 113.5, rel=1e-5)
    # image 1: no gt, every prediction negative except the one on the ignore box
    assert res.num_gts.tolist() == [2, 0]
    assert (res.gt_inds[1] == 0).sum() == 39 and res.gt_inds[1, 7] == -1
    assert ASSIGNERS.get('GridAssigner') is GridAssigner


def test_assigner_errors():
    with pytest.raises(ValueError, match="pred_bboxes of shape"):
        GridAssigner().assign(ANCHOR_WH, STRIDES, SIZES, priors(), [torch.zeros(0, 4)],
                              [torch.zeros(0, dtype=torch.long)])
    with pytest.raises(ValueError, match=r'priors must be \(40, 4\)'):
        GridAssigner(ignore_by='prior').assign(ANCHOR_WH, STRIDES, SIZES, priors()[:5],
                                               [torch.zeros(0, 4)], [torch.zeros(0, dtype=torch.long)])
    with pytest.raises(ValueError, match='ignore_by'):
        GridAssigner(ignore_by='anchor')
    with pytest.raises(ValueError, match='ignore_iou_thr'):
        GridAssigner(ignore_iou_thr=1.5)
