"""The YOLO heads: their losses against the papers' formulas computed by hand on tiny grids,
inference (score = objectness x class probability, NMS, rescaling), assembly on other
backbones (ResNet-FPN, VGG16) with the contract checks, and losses that do not fit refused."""
import math

import pytest
import torch

import registry
from registry import AssemblyError, ConfigError
from zoo.detectors.builder import build_detector
from zoo.structures import DetDataSample, InstanceData


def setup_module():
    registry.discover()


def sample(boxes, labels, input_hw=(32, 32), scale_factor=(1.0, 1.0)):
    s = DetDataSample(metainfo=dict(img_shape=input_hw, batch_input_shape=input_hw,
                                    scale_factor=scale_factor, ori_shape=input_hw))
    s.gt_instances = InstanceData(bboxes=torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4),
                                  labels=torch.tensor(labels, dtype=torch.long))
    return s


def sig(x):
    return 1 / (1 + math.exp(-x))


def bce(logit, target):
    p = sig(logit)
    return -(target * math.log(p) + (1 - target) * math.log(1 - p))


def iou(a, b):
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


# YOLOv3 -----------------------------------------------------------------------------------------
def v3_head(**kw):
    cfg = dict(type='YOLOV3Head', num_classes=2, in_channels=[4],
               anchor_generator=dict(type='YOLOAnchorGenerator', strides=[16],
                                     base_sizes=[[(16, 16), (32, 16)]]))
    cfg.update(kw)
    return registry.build('head', cfg, key='model.bbox_head')


def test_yolov3_loss_by_hand():
    head = v3_head()
    K, A, S = 7, 2, 16
    torch.manual_seed(0)
    pm = torch.randn(1, A * K, 2, 2) * 0.3
    pm[0, 0 * K + 2, 0, 1] = math.log(30 / 16)  # prediction (y0, x1, a0) widened to 30 x 16
    pm[0, 0 * K + 0:0 * K + 2, 0, 1] = 0.0      # and centred: it overlaps the gt by 0.68
    gt, label = [5.0, 2.0, 35.0, 16.0], 1       # centre (20, 9), 30 x 14
    losses = head.loss_by_feat([pm], [sample([gt], [label])])

    anchors = [(16, 16), (32, 16)]
    conf = cls = bbox = 0.0
    for y in range(2):
        for x in range(2):
            for a in range(A):
                t = [float(pm[0, a * K + k, y, x]) for k in range(K)]
                pcx, pcy = (x + 0.5) * S, (y + 0.5) * S
                cx, cy = pcx + (sig(t[0]) - 0.5) * S, pcy + (sig(t[1]) - 0.5) * S
                w, h = anchors[a][0] * math.exp(t[2]), anchors[a][1] * math.exp(t[3])
                if (y, x, a) == (0, 1, 1):  # best shape (32 x 16: IoU 0.82) at the centre's cell
                    conf += bce(t[4], 1)
                    cls += bce(t[5], 0) + bce(t[6], 1)
                    target = [(20 - pcx) / S + 0.5, (9 - pcy) / S + 0.5,
                              math.log(30 / 32 + 1e-6), math.log(14 / 16 + 1e-6)]
                    pred = [sig(t[0]), sig(t[1]), t[2], t[3]]
                    weight = 2 - 30 * 14 / (32 * 32)
                    bbox += weight * sum((p - q) ** 2 for p, q in zip(pred, target))
                elif iou([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], gt) <= 0.5:
                    conf += bce(t[4], 0)
                else:
                    assert (y, x, a) == (0, 1, 0)  # the ignored prediction, no objectness loss
    assert float(losses['loss_conf']) == pytest.approx(conf, rel=1e-5)
    assert float(losses['loss_cls']) == pytest.approx(cls, rel=1e-5)
    assert float(losses['loss_bbox']) == pytest.approx(bbox, rel=1e-5)
    # per image: a batch of two copies gives the same losses
    twice = head.loss_by_feat([pm.repeat(2, 1, 1, 1)], [sample([gt], [label])] * 2)
    for k in losses:
        assert float(twice[k]) == pytest.approx(float(losses[k]), rel=1e-5)


def test_yolov3_giou_loss_on_decoded_boxes():
    head = v3_head(loss_bbox=dict(type='GIoULoss'), box_weight_by_area=False)
    pm = torch.zeros(1, 14, 2, 2)
    gt = [5.0, 2.0, 35.0, 16.0]
    losses = head.loss_by_feat([pm], [sample([gt], [1])])
    # the positive (y0, x1, a1) decodes to its anchor 32 x 16 at (24, 8): [8, 0, 40, 16]
    inter, union, c = 27 * 14, 512 + 420 - 27 * 14, 35 * 16
    giou = inter / union - (c - union) / c
    assert float(losses['loss_bbox']) == pytest.approx(1 - giou, rel=1e-5)


def test_yolov3_predict_scores_nms_and_rescale():
    head = v3_head(test_cfg=dict(score_thr=0.05, conf_thr=0.005))
    K = 7
    pm = torch.full((1, 14, 2, 2), -20.0)
    pm[0, 0:4] = 0.0
    pm[0, K:K + 4] = 0.0
    # (y0, x1, a1): box [8, 0, 40, 16], objectness 5, class logits (-5, 3)
    pm[0, K + 4, 0, 1], pm[0, K + 5, 0, 1], pm[0, K + 6, 0, 1] = 5.0, -5.0, 3.0
    # (y0, x1, a0) widened to the same box, a little less sure: removed by NMS
    pm[0, 2, 0, 1] = math.log(2.0)
    pm[0, 4, 0, 1], pm[0, 5, 0, 1], pm[0, 6, 0, 1] = 4.0, -5.0, 3.0
    s = sample([], [], input_hw=(32, 32), scale_factor=(0.5, 0.25))
    s.set_metainfo(dict(img_shape=(16, 32)))  # the image is the top half of the input
    res = head.predict_by_feat([pm], [s])[0]
    assert res.labels.tolist() == [1]
    assert float(res.scores[0]) == pytest.approx(sig(5) * sig(3), rel=1e-5)
    # clipped to the image (x <= 32, y <= 16), then divided by scale_factor (w 0.5, h 0.25)
    assert res.bboxes[0].tolist() == pytest.approx([16.0, 0.0, 64.0, 64.0], abs=1e-4)


# YOLOv1 -----------------------------------------------------------------------------------------
def test_yolov1_loss_by_hand():
    head = registry.build('head', dict(type='YOLOV1Head', num_classes=2, in_channels=4, grid_size=2,
                                       num_boxes=2, feat_channels=4, fc_channels=8),
                          key='model.bbox_head')
    torch.manual_seed(1)
    out = torch.randn(1, 2, 2, 12)
    # two boxes with centres in cell (row 0, col 1); the later one (label 0) is the cell's
    gts = [[30.0, 2.0, 50.0, 30.0], [28.0, 12.0, 52.0, 28.0]]
    losses = head.loss_by_feat(out, [sample(gts, [1, 0], input_hw=(64, 64))])
    cell = out[0, 0, 1].tolist()
    boxes = []
    for j in range(2):
        x, y, sw, sh, c = (sig(v) for v in cell[5 * j:5 * j + 5])
        cx, cy, w, h = (1 + x) * 32, (0 + y) * 32, sw ** 2 * 64, sh ** 2 * 64
        boxes.append(([x, y, sw, sh], c, [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2]))
    ious = [iou(b[2], gts[1]) for b in boxes]
    r = max(range(2), key=lambda j: ious[j])
    target = [40 / 32 - 1, 20 / 32, math.sqrt(24 / 64), math.sqrt(16 / 64)]
    coord = 5 * sum((p - q) ** 2 for p, q in zip(boxes[r][0], target))
    obj = (boxes[r][1] - ious[r]) ** 2
    all_conf = [sig(out[0, i, j, 5 * b + 4].item()) for i in range(2) for j in range(2)
                for b in range(2)]
    noobj = 0.5 * (sum(c ** 2 for c in all_conf) - boxes[r][1] ** 2)
    e = [math.exp(v) for v in cell[10:]]
    probs = [v / sum(e) for v in e]
    cls = (probs[0] - 1) ** 2 + probs[1] ** 2
    assert float(losses['loss_bbox']) == pytest.approx(coord, rel=1e-5)
    assert float(losses['loss_obj']) == pytest.approx(obj, rel=1e-5)
    assert float(losses['loss_noobj']) == pytest.approx(noobj, rel=1e-5)
    assert float(losses['loss_cls']) == pytest.approx(cls, rel=1e-5)


def test_yolov1_predict_class_specific_confidence():
    head = registry.build('head', dict(type='YOLOV1Head', num_classes=2, in_channels=4, grid_size=2,
                                       num_boxes=1, feat_channels=4, fc_channels=8),
                          key='model.bbox_head')
    out = torch.full((1, 2, 2, 7), -20.0)
    out[..., 5:] = 0.0
    out[0, 1, 0, :5] = torch.tensor([0.0, 0.0, 0.0, 0.0, 3.0])  # cell (row 1, col 0): centre (16, 48)
    out[0, 1, 0, 5:] = torch.tensor([2.0, 0.0])
    res = head.predict_by_feat(out, [sample([], [], input_hw=(64, 64))])[0]
    p0 = math.exp(2) / (math.exp(2) + 1)
    assert res.labels.tolist() == [0, 1]
    assert res.scores.tolist() == pytest.approx([sig(3) * p0, sig(3) * (1 - p0)], rel=1e-5)
    # sqrt_w = sqrt_h = 0.5: 16 x 16 px centred at (16, 48)
    assert res.bboxes[0].tolist() == pytest.approx([8.0, 40.0, 24.0, 56.0], abs=1e-4)


# assembly ---------------------------------------------------------------------------------------
RESNET_FPN = dict(backbone=dict(type='ResNet', depth=50, norm='bn', frozen_stages=-1,
                                out_indices=(1, 2, 3)),
                  neck=dict(type='FPN', out_channels=64, add_extra_max_pool=False))


def run_once(model, hw=(64, 96)):
    model.train()
    x = torch.randn(2, 3, *hw)
    samples = [sample([[4.0, 6.0, 40.0, 30.0], [50.0, 20.0, 90.0, 60.0]], [0, 2], input_hw=hw)
               for _ in range(2)]
    losses = model.loss(x, samples)
    assert all(torch.isfinite(v) for v in losses.values())
    sum(losses.values()).backward()
    model.eval()
    with torch.no_grad():
        return model.predict(x, samples)


def test_yolov3_head_on_resnet_fpn():
    model = build_detector(dict(type='YOLOV3', **RESNET_FPN,
                                bbox_head=dict(type='YOLOV3Head', num_classes=3,
                                               in_channels=[64, 64, 64])))
    assert model.feature_spec.strides == (8, 16, 32)
    assert 'pred_instances' in run_once(model)[0]
    # FPN's default P2-P6 (5 levels at strides 4..64) does not fit three levels of anchors
    with pytest.raises(AssemblyError) as err:
        build_detector(dict(type='YOLOV3', backbone=RESNET_FPN['backbone'] | dict(out_indices=(0, 1, 2, 3)),
                            neck=dict(type='FPN', out_channels=64),
                            bbox_head=dict(type='YOLOV3Head', num_classes=3, in_channels=[64, 64, 64])))
    assert 'model.bbox_head.in_channels = [64, 64, 64], but model.neck (FPN) produces channels ' \
           '[64, 64, 64, 64, 64]' in str(err.value)


def test_yolo_heads_on_vgg16():
    one_level = dict(type='YOLOAnchorGenerator', strides=[16],
                     base_sizes=[[(16, 16), (32, 16), (16, 32), (32, 32), (64, 32), (32, 64),
                                  (64, 64), (96, 64), (64, 96)]])
    v3 = build_detector(dict(type='YOLOV3', backbone=dict(type='VGG', frozen_stages=0),
                             bbox_head=dict(type='YOLOV3Head', num_classes=3, in_channels=[512],
                                            feat_channels=[64], anchor_generator=one_level)))
    run_once(v3)
    v1 = build_detector(dict(type='SingleStageDetector', backbone=dict(type='VGG', frozen_stages=0),
                             bbox_head=dict(type='YOLOV1Head', num_classes=3, in_channels=512,
                                            feat_channels=32, fc_channels=64)))
    run_once(v1)
    with pytest.raises(AssemblyError) as err:  # three levels of anchors for one feature level
        build_detector(dict(type='YOLOV3', backbone=dict(type='VGG'),
                            bbox_head=dict(type='YOLOV3Head', num_classes=3, in_channels=[512])))
    assert 'model.bbox_head.in_channels = [512] has 1 levels, but ' \
           'model.bbox_head.anchor_generator has 3 (strides [8, 16, 32])' in str(err.value)
    with pytest.raises(AssemblyError) as err:  # one level, but at stride 8, not VGG16's 16
        build_detector(dict(type='YOLOV3', backbone=dict(type='VGG'), bbox_head=dict(
            type='YOLOV3Head', num_classes=3, in_channels=[512],
            anchor_generator=dict(one_level, strides=[8]))))
    assert 'model.bbox_head.anchor_generator.strides = [8], but model.backbone (VGG) produces ' \
           'strides [16]' in str(err.value)
    with pytest.raises(AssemblyError) as err:
        build_detector(dict(type='SingleStageDetector', backbone=dict(type='VGG'),
                            bbox_head=dict(type='YOLOV1Head', num_classes=3, in_channels=256)))
    msg = str(err.value)
    assert 'model.bbox_head.in_channels = 256, but model.backbone (VGG) produces channels [512]' in msg
    assert 'reads only level in_index=-1' in msg


@pytest.mark.parametrize('head, key, loss, error, words', [
    ('YOLOV3Head', 'loss_cls', dict(type='GIoULoss'), AssemblyError, 'is a regression loss'),
    ('YOLOV3Head', 'loss_conf', dict(type='SmoothL1Loss'), AssemblyError, 'is a regression loss'),
    ('YOLOV3Head', 'loss_bbox', dict(type='FocalLoss'), AssemblyError, 'is a classification loss'),
    ('YOLOV3Head', 'loss_conf', dict(type='CrossEntropyLoss'), ConfigError, 'use_sigmoid = False'),
    ('YOLOV3Head', 'loss_bbox', dict(type='MSELoss', reduction='sum'), ConfigError, "reduction = 'sum'"),
    ('YOLOV1Head', 'loss_cls', dict(type='CIoULoss'), AssemblyError, 'box loss on decoded boxes'),
    ('YOLOV1Head', 'loss_bbox', dict(type='CrossEntropyLoss'), AssemblyError, 'is a classification loss'),
])
def test_a_loss_that_does_not_fit_is_refused(head, key, loss, error, words):
    cfg = dict(type='SingleStageDetector',
               backbone=dict(type='Darknet', depth='tiny', widen_factor=0.25),
               neck=dict(type='YOLOV3Neck', out_channels=[16, 16, 16]),
               bbox_head=dict(type='YOLOV3Head', num_classes=3, in_channels=[16, 16, 16]))
    if head == 'YOLOV1Head':
        cfg.pop('neck')
        cfg['bbox_head'] = dict(type='YOLOV1Head', num_classes=3, in_channels=256)
    cfg['bbox_head'][key] = loss
    with pytest.raises(error) as err:
        build_detector(cfg)
    assert f'model.bbox_head.{key}' in str(err.value) and words in str(err.value)


def test_fitting_losses_are_accepted():
    for loss_cls, loss_conf, loss_bbox in [
            (dict(type='FocalLoss'), dict(type='FocalLoss'), dict(type='CIoULoss')),
            (dict(type='CrossEntropyLoss'), dict(type='CrossEntropyLoss', use_sigmoid=True),
             dict(type='DIoULoss')),
            (dict(type='CrossEntropyLoss', use_sigmoid=True), dict(type='FocalLoss'),
             dict(type='SmoothL1Loss'))]:
        head = v3_head(loss_cls=loss_cls, loss_conf=loss_conf, loss_bbox=loss_bbox)
        losses = head.loss_by_feat([torch.randn(1, 14, 2, 2)],
                                   [sample([[5.0, 2.0, 35.0, 16.0]], [1])])
        assert all(torch.isfinite(v) for v in losses.values())
