"""The RoI head's sampled labels, RoI-to-box pairing, regression targets and losses, against numbers
worked out by hand (Fast R-CNN, Girshick 2015, sections 2.3 and 2.3.1; Faster R-CNN's RoI head).

Two images of 100 x 100, two classes (background = 2). Image 0 holds g0 = [10, 10, 50, 50]
(class 1) and g1 = [60, 60, 90, 90] (class 0); its proposals and their IoU, by hand:

====  ==================  ===========================================  ====================
name  box                 IoU                                           paper: fg >= 0.5,
                                                                        bg in [0.1, 0.5)
====  ==================  ===========================================  ====================
p0    [10, 12, 50, 50]    g0: 1520 / 1600 = 0.95                        fg, class 1, g0
p1    [14, 10, 50, 50]    g0: 1440 / 1600 = 0.9                         fg, class 1, g0
p2    [60, 60, 85, 90]    g1: 750 / 900 = 0.833                         fg, class 0, g1
p3    [30, 10, 70, 50]    g0: 800 / 2400 = 0.333                        bg
p4    [0, 60, 20, 80]     0                                             ignored (< 0.1)
p5    [45, 45, 75, 75]    g1: 225 / 1575 = 0.143 (g0: 25 / 2475)        bg
====  ==================  ===========================================  ====================

Image 1 holds g2 = [20, 30, 80, 70] (class 0), proposals q0 = [20, 30, 70, 70] (IoU 2000 / 2400
= 0.833, fg class 0) and q1 = [60, 30, 100, 70] (IoU 800 / 3200 = 0.25, bg).
The ground-truth boxes join the proposals as positives (``add_gt_as_proposals``). The sampler
keeps everything (``num`` above the number of RoIs), so the losses are fixed: over the 10
sampled RoIs (7 fg, 3 bg), softmax cross-entropy and Smooth L1 (beta 1) on the deltas of the
RoI's own class, targets with stds (0.1, 0.1, 0.2, 0.2).

The head's outputs (class scores and deltas, from seeded random weights) and the RoIs it saw
are recorded with forward hooks, and the expected losses are computed from them with the labels
and boxes of the table, each RoI looked up by its coordinates.
"""
import math

import pytest
import torch
import torch.nn.functional as F
from mmengine.structures import InstanceData

import registry
from zoo.structures import DetDataSample

G = {'g0': [10., 10., 50., 50.], 'g1': [60., 60., 90., 90.], 'g2': [20., 30., 80., 70.]}
CLASS = {'g0': 1, 'g1': 0, 'g2': 0}
PROPOSALS = [
    {'p0': [10., 12., 50., 50.], 'p1': [14., 10., 50., 50.], 'p2': [60., 60., 85., 90.],
     'p3': [30., 10., 70., 50.], 'p4': [0., 60., 20., 80.], 'p5': [45., 45., 75., 75.]},
    {'q0': [20., 30., 70., 70.], 'q1': [60., 30., 100., 70.]},
]
GTS = [['g0', 'g1'], ['g2']]
# (image, box) -> matched gt name (foreground) or None (background); ignored ones are absent
PAPER = {(0, 'g0'): 'g0', (0, 'g1'): 'g1', (0, 'p0'): 'g0', (0, 'p1'): 'g0', (0, 'p2'): 'g1',
         (0, 'p3'): None, (0, 'p5'): None, (1, 'g2'): 'g2', (1, 'q0'): 'g2', (1, 'q1'): None}
STDS = (0.1, 0.1, 0.2, 0.2)
NUM_CLASSES = 2


def _roi_head(reg_class_agnostic=False, neg_iou_thr=(0.1, 0.5)):
    registry.discover()
    torch.manual_seed(0)
    cfg = dict(
        type='StandardRoIHead',
        bbox_roi_extractor=dict(type='SingleRoIExtractor',
                                roi_layer=dict(type='RoIAlign', output_size=2, sampling_ratio=2),
                                out_channels=3, featmap_strides=[8]),
        bbox_head=dict(type='Shared2FCBBoxHead', num_classes=NUM_CLASSES, in_channels=3,
                       roi_feat_size=2, fc_out_channels=16,
                       reg_class_agnostic=reg_class_agnostic,
                       bbox_coder=dict(type='DeltaXYWHBBoxCoder', target_stds=list(STDS)),
                       loss_cls=dict(type='CrossEntropyLoss'),
                       loss_bbox=dict(type='SmoothL1Loss', beta=1.0)),
        train_cfg=dict(assigner=dict(type='MaxIoUAssigner', pos_iou_thr=0.5,
                                     neg_iou_thr=neg_iou_thr, min_pos_iou=0.5,
                                     match_low_quality=False),
                       sampler=dict(type='RandomSampler', num=1000, pos_fraction=0.5,
                                    add_gt_as_proposals=True)))
    head = registry.build('head', cfg)
    for lin in (head.bbox_head.fc_cls, head.bbox_head.fc_reg):  # outputs of a useful size
        torch.nn.init.normal_(lin.weight, std=0.5)
        torch.nn.init.normal_(lin.bias, std=0.5)
    return head


def _inputs():
    feats = (torch.randn(2, 3, 13, 13, generator=torch.Generator().manual_seed(1)),)
    proposals = [InstanceData(bboxes=torch.tensor(list(p.values()))) for p in PROPOSALS]
    samples = []
    for names in GTS:
        s = DetDataSample(metainfo=dict(img_shape=(100, 100)))
        s.gt_instances = InstanceData(bboxes=torch.tensor([G[n] for n in names]),
                                      labels=torch.tensor([CLASS[n] for n in names]))
        samples.append(s)
    return feats, proposals, samples


def _targets(roi, gt):
    """Fast R-CNN's box regression targets (R-CNN appendix C), divided by the stds."""
    pw, ph = roi[2] - roi[0], roi[3] - roi[1]
    gw, gh = gt[2] - gt[0], gt[3] - gt[1]
    raw = [(gt[0] + gw / 2 - roi[0] - pw / 2) / pw, (gt[1] + gh / 2 - roi[1] - ph / 2) / ph,
           math.log(gw / pw), math.log(gh / ph)]
    return [r / s for r, s in zip(raw, STDS, strict=True)]


def _smooth_l1(d):
    d = abs(d)
    return 0.5 * d * d if d < 1 else d - 0.5


def _run(head):
    """roi_head.loss with the RoIs and head outputs recorded."""
    seen = {}
    h1 = head.bbox_roi_extractor.register_forward_pre_hook(
        lambda m, args: seen.update(rois=args[1].detach().clone()))
    h2 = head.bbox_head.register_forward_hook(
        lambda m, args, out: seen.update(cls=out[0].detach().clone(), reg=out[1].detach().clone()))
    try:
        losses = head.loss(*_inputs())
    finally:
        h1.remove()
        h2.remove()
    return losses, seen


def _lookup(rois, table):
    """Per sampled RoI: (image, name) found by its coordinates."""
    names = {}
    for img, props in enumerate(PROPOSALS):
        for name, box in list(props.items()) + [(g, G[g]) for g in GTS[img]]:
            names.setdefault((img, tuple(box)), (img, name))
    out = [names[(int(r[0]), tuple(r[1:].tolist()))] for r in rois]
    assert sorted(out) == sorted(table), 'the sampled RoIs are those of the hand-made table'
    return out


def test_hand_computed_targets():
    # p1 -> g0: p1 centre (32, 30), 36 x 40; g0 centre (30, 30), 40 x 40
    assert _targets(PROPOSALS[0]['p1'], G['g0']) == pytest.approx(
        [-2 / 36 / 0.1, 0.0, math.log(40 / 36) / 0.2, 0.0])
    # p2 -> g1: p2 centre (72.5, 75), 25 x 30; g1 centre (75, 75), 30 x 30
    assert _targets(PROPOSALS[0]['p2'], G['g1']) == pytest.approx(
        [2.5 / 25 / 0.1, 0.0, math.log(30 / 25) / 0.2, 0.0])


@pytest.mark.parametrize('agnostic', [False, True], ids=['class_specific', 'class_agnostic'])
def test_labels_pairing_and_losses_paper_setting(agnostic):
    head = _roi_head(reg_class_agnostic=agnostic)
    losses, seen = _run(head)
    rois, cls, reg = seen['rois'], seen['cls'], seen['reg']
    keys = _lookup(rois, PAPER)                   # p4 (IoU 0) is not sampled
    assert reg.shape == (len(keys), 4 if agnostic else 4 * NUM_CLASSES)
    labels = [NUM_CLASSES if PAPER[k] is None else CLASS[PAPER[k]] for k in keys]
    # positives of both images first (their RoIs pair with the matched boxes in that order)
    fg = [lab < NUM_CLASSES for lab in labels]
    assert fg == sorted(fg, reverse=True) and sum(fg) == 7

    expected_cls = F.cross_entropy(cls, torch.tensor(labels)).item()
    total = 0.0
    for row, (key, label) in enumerate(zip(keys, labels, strict=True)):
        if label == NUM_CLASSES:
            continue
        col = 0 if agnostic else 4 * label
        target = _targets(rois[row, 1:].tolist(), G[PAPER[key]])
        total += sum(_smooth_l1(float(p) - t) for p, t in zip(reg[row, col:col + 4], target, strict=True))
    expected_bbox = total / len(keys)
    assert losses['loss_cls'].item() == pytest.approx(expected_cls, rel=1e-5)
    assert losses['loss_bbox'].item() == pytest.approx(expected_bbox, rel=1e-5)
    assert expected_bbox > 0.1  # the targets are not all zero: a wrong pairing shows


def test_fpn_setting_takes_zero_iou_proposals_as_background():
    """torchvision / mmdet FPN: background is IoU in [0, 0.5), so p4 (IoU 0) is sampled too."""
    head = _roi_head(neg_iou_thr=0.5)
    losses, seen = _run(head)
    keys = _lookup(seen['rois'], {**PAPER, (0, 'p4'): None})
    labels = [NUM_CLASSES if k == (0, 'p4') or PAPER[k] is None else CLASS[PAPER[k]] for k in keys]
    expected = F.cross_entropy(seen['cls'], torch.tensor(labels)).item()
    assert losses['loss_cls'].item() == pytest.approx(expected, rel=1e-5)


def test_a_batch_without_foreground_rois():
    """No proposal reaches IoU 0.5 and no gt box is added: every sampled RoI is background,
    the box loss is 0 (and has a gradient of 0), the class loss is the cross-entropy against
    the background label."""
    head = _roi_head(neg_iou_thr=0.5)
    head.sampler.add_gt_as_proposals = False
    feats, _, samples = _inputs()
    proposals = [InstanceData(bboxes=torch.tensor([[0., 60., 20., 80.], [30., 10., 70., 50.]])),
                 InstanceData(bboxes=torch.tensor([[60., 30., 100., 70.]]))]
    seen = {}
    hook = head.bbox_head.register_forward_hook(lambda m, a, out: seen.update(cls=out[0].detach()))
    losses = head.loss(feats, proposals, samples)
    hook.remove()
    assert losses['loss_bbox'].item() == 0.0
    expected = F.cross_entropy(seen['cls'], torch.full((3,), NUM_CLASSES)).item()
    assert losses['loss_cls'].item() == pytest.approx(expected, rel=1e-5)
    (losses['loss_cls'] + losses['loss_bbox']).backward()
    assert float(head.bbox_head.fc_reg.weight.grad.abs().max()) == 0.0
