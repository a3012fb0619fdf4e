"""YOLOv2's parts: Darknet-19's layout (YOLO9000 table 6), the reorg layer against a hand-made
tensor, the passthrough neck's shapes and order, and the IoU-valued objectness target (rescore) of
YOLOV2Head and, as an option, YOLOV3Head, against hand-computed IoUs."""
import math

import pytest
import torch
from torch import nn

import registry
from zoo.structures import DetDataSample, InstanceData


def setup_module():
    registry.discover()


def test_darknet19_layout():
    from plugins.backbones import Darknet
    net = Darknet(19, out_indices=(4, 5))
    assert net.out_channels == (512, 1024) and net.strides == (16, 32)
    convs = [m for m in net.modules() if isinstance(m, nn.Conv2d)]
    # table 6 without the classifier's last 1x1 convolution: 18 convolutions
    assert [c.out_channels for c in convs] == [32, 64, 128, 64, 128, 256, 128, 256, 512, 256, 512, 256,
                                               512, 1024, 512, 1024, 512, 1024]
    assert [c.kernel_size[0] for c in convs] == [3, 3, 3, 1, 3, 3, 1, 3, 3, 1, 3, 1, 3, 3, 1, 3, 1, 3]
    assert all(c.bias is None for c in convs)
    assert sum(isinstance(m, nn.BatchNorm2d) for m in net.modules()) == 18
    acts = [m for m in net.modules() if isinstance(m, nn.LeakyReLU)]
    assert len(acts) == 18 and all(a.negative_slope == 0.1 for a in acts)
    assert sum(isinstance(m, nn.MaxPool2d) for m in net.modules()) == 5
    fine, coarse = net(torch.zeros(1, 3, 64, 96))
    assert fine.shape == (1, 512, 4, 6) and coarse.shape == (1, 1024, 2, 3)


def test_reorg_against_a_hand_made_tensor():
    from plugins.necks import Reorg
    x = torch.arange(32.0).reshape(1, 2, 4, 4)
    # output channel c * 4 + dy * 2 + dx holds input (c, 2y + dy, 2x + dx) (pixel_unshuffle's order)
    expected = torch.tensor([[[0, 2], [8, 10]], [[1, 3], [9, 11]], [[4, 6], [12, 14]], [[5, 7], [13, 15]],
                             [[16, 18], [24, 26]], [[17, 19], [25, 27]], [[20, 22], [28, 30]],
                             [[21, 23], [29, 31]]], dtype=torch.float32)[None]
    assert torch.equal(Reorg(2)(x), expected)
    assert Reorg(2)(torch.zeros(2, 64, 26, 26)).shape == (2, 256, 13, 13)   # the paper's 26 -> 13
    with pytest.raises(ValueError, match='multiples of 2'):
        Reorg(2)(torch.zeros(1, 1, 5, 4))
    with pytest.raises(ValueError, match='positive int'):
        Reorg(0)


def test_passthrough_neck_stacks_the_fine_map_before_the_coarse_one():
    neck = registry.build('neck', dict(type='YOLOV2Neck', in_channels=[32, 48], in_strides=[16, 32],
                                       feat_channels=16, passthrough_channels=64), key='model.neck')
    assert neck.out_channels == (4 * 64 + 16,) and neck.strides == (32,)
    fine, coarse = torch.randn(1, 32, 26, 26), torch.randn(1, 48, 13, 13)
    neck.eval()
    out, = neck([fine, coarse])
    assert out.shape == (1, 272, 13, 13)
    with torch.no_grad():
        assert torch.equal(out[:, :256], neck.reorg(neck.passthrough(fine)))
        assert torch.equal(out[:, 256:], neck.convs(coarse))
    with pytest.raises(ValueError, match='twice the fine one'):
        registry.build('neck', dict(type='YOLOV2Neck', in_channels=[32, 48], in_strides=[16, 16]),
                       key='model.neck')


# The IoU-valued objectness target, by hand. One level of stride 16 on a 32 x 32 input (2 x 2
# cells), anchors 16 x 16 and 32 x 16, two classes; gt [4, 2, 20, 26] (16 x 24, centre (12, 14)):
# cell (0, 0), best shape anchor 16 x 16 (shape IoU 256 / 384 = 0.667 vs 256 / 640 = 0.4).
# Its prediction: t_x = t_y = 0 (centre (8, 8)), t_w = log 1.5, t_h = 0: box [-4, 0, 20, 16];
# with the gt: intersection 16 x 14 = 224, union 384 + 384 - 224 = 544, IoU 224 / 544 = 0.41176.
# Objectness logit 1 at the positive, 0 elsewhere; the other 7 predictions are negatives (their
# decoded boxes overlap the gt by at most 224 / 672 = 0.333 <= 0.5 / 0.6).
IOU = 224 / 544


def sig(x):
    return 1 / (1 + math.exp(-x))


def bce(logit, target):
    return -(target * math.log(sig(logit)) + (1 - target) * math.log(1 - sig(logit)))


def _head(kind, **kw):
    cfg = dict(type=kind, num_classes=2, in_channels=[4], feat_channels=[8],
               anchor_generator=dict(type='YOLOAnchorGenerator', strides=[16],
                                     base_sizes=[[(16, 16), (32, 16)]]), **kw)
    return registry.build('head', cfg, key='model.bbox_head')


def _maps():
    pm = torch.zeros(1, 14, 2, 2)
    pm[0, 2, 0, 0] = math.log(1.5)   # anchor 0, t_w, cell (0, 0)
    pm[0, 4, 0, 0] = 1.0             # anchor 0, t_o
    return pm.requires_grad_(True)


def _sample():
    s = DetDataSample(metainfo=dict(img_shape=(32, 32), batch_input_shape=(32, 32), scale_factor=(1.0, 1.0)))
    s.gt_instances = InstanceData(bboxes=torch.tensor([[4.0, 2.0, 20.0, 26.0]]),
                                  labels=torch.tensor([1]))
    return s


@pytest.mark.parametrize('kind, kw, target', [
    ('YOLOV2Head', {}, IOU),                               # YOLOv2: rescore by default
    ('YOLOV3Head', dict(rescore=True), IOU),               # YOLOv3 with the option
    ('YOLOV3Head', {}, 1.0),                               # YOLOv3's default target 1
    ('YOLOV2Head', dict(rescore=False), 1.0),
])
def test_objectness_target_is_the_iou_of_the_decoded_box(kind, kw, target):
    head = _head(kind, **kw)
    pm = _maps()
    losses = head.loss_by_feat([pm], [_sample()])
    expected = bce(1.0, target) + 7 * math.log(2)
    assert losses['loss_conf'].item() == pytest.approx(expected, rel=1e-5)
    # the target is detached: the objectness loss sends no gradient into the box outputs
    losses['loss_conf'].backward()
    assert pm.grad[0, :4].abs().sum() == 0 and pm.grad[0, 7:11].abs().sum() == 0
    assert pm.grad[0, 4, 0, 0] == pytest.approx(sig(1.0) - target, rel=1e-5)


def test_yolov2_head_defaults():
    head = _head('YOLOV2Head')
    assert head.rescore is True and head.cls_sigmoid is False
    assert head.assigner.ignore_iou_thr == 0.6
    default = registry.build('head', dict(type='YOLOV2Head', num_classes=3), key='model.bbox_head')
    assert default.anchor_generator.num_base_anchors == 5 and default.anchor_generator.strides == (32,)
    assert default.convs_pred[0].out_channels == 5 * (5 + 3)
    assert default.convs_bridge[0][0].in_channels == 1280
    with pytest.raises(ValueError, match='rescore must be True or False'):
        _head('YOLOV3Head', rescore='yes')
