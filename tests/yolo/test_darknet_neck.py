"""Darknet backbones and the YOLOv3 neck: the architecture of YOLOv3's table 1 (parameter count
from the table's layers), output channels and strides, and their assembly contracts."""
import pytest
import torch

import plugins  # noqa: F401
from plugins.backbones import Darknet
from plugins.necks import YOLOV3Neck
from registry import AssemblyError, FeatureSpec, build, check_link


def conv_bn(cin, cout, k):
    """Parameters of a bias-free k x k convolution and its batch norm (weight and bias)."""
    return cin * cout * k * k + 2 * cout


def darknet53_params():
    """YOLOv3 table 1, up to the last residual block (no avgpool/fc): a 3x3 conv of 32, then per
    stage a stride-2 3x3 conv doubling the channels and n blocks of (1x1 to c/2, 3x3 to c)."""
    total, c = conv_bn(3, 32, 3), 32
    for n in (1, 2, 8, 8, 4):
        total += conv_bn(c, 2 * c, 3)
        c *= 2
        total += n * (conv_bn(c, c // 2, 1) + conv_bn(c // 2, c, 3))
    return total


def test_darknet53_matches_table_1():
    net = Darknet(depth=53, out_indices=(0, 1, 2, 3, 4, 5))
    assert sum(p.numel() for p in net.parameters()) == darknet53_params() == 40_584_928
    # 52 convolutions (53 with the classifier's fully connected layer)
    assert sum(isinstance(m, torch.nn.Conv2d) for m in net.modules()) == 52
    assert net.out_channels == (32, 64, 128, 256, 512, 1024)
    assert net.strides == (1, 2, 4, 8, 16, 32)
    net.eval()
    with torch.no_grad():
        outs = net(torch.zeros(1, 3, 64, 96))
    assert [tuple(o.shape[1:]) for o in outs] == [(c, 64 // s, 96 // s)
                                                  for c, s in zip(net.out_channels, net.strides)]


def test_tiny_darknet_is_yolov3_tiny_and_widens():
    net = Darknet(depth='tiny')
    assert net.out_channels == (128, 256, 1024) and net.strides == (8, 16, 32)
    # yolov3-tiny.cfg's backbone: 3x3 convs of 16, 32, 64, 128, 256, 512, 1024 (7 convolutions)
    convs = [m for m in net.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [c.out_channels for c in convs] == [16, 32, 64, 128, 256, 512, 1024]
    half = Darknet(depth='tiny', widen_factor=0.5, out_indices=(3, 4, 5))
    assert half.out_channels == (64, 128, 512)
    outs = half(torch.zeros(2, 3, 96, 128))
    assert [tuple(o.shape) for o in outs] == [(2, 64, 12, 16), (2, 128, 6, 8), (2, 512, 3, 4)]


def test_frozen_stages_and_norm_eval():
    net = Darknet(depth='tiny', widen_factor=0.25, frozen_stages=2, norm_eval=True)
    frozen = [all(not p.requires_grad for p in s.parameters()) for s in net.stages]
    assert frozen == [True, True, True, False, False, False]
    net.train()
    assert all(not m.training for m in net.modules() if isinstance(m, torch.nn.BatchNorm2d))


@pytest.mark.parametrize('kwargs, word', [
    (dict(depth=21), 'depth'), (dict(widen_factor=0), 'widen_factor'),
    (dict(out_indices=(5, 3)), 'out_indices'), (dict(out_indices=(6,)), 'out_indices'),
    (dict(frozen_stages=7), 'frozen_stages'), (dict(norm='ln'), 'norm'),
])
def test_darknet_bad_arguments(kwargs, word):
    with pytest.raises(ValueError, match=word):
        Darknet(**kwargs)


def test_yolov3_neck_top_down_path():
    neck = YOLOV3Neck(in_channels=[256, 512, 1024], out_channels=[128, 256, 512],
                      in_strides=[8, 16, 32])
    assert neck.strides == (8, 16, 32) and neck.out_channels == (128, 256, 512)
    # darknet's yolov3.cfg: the 1x1 before each upsampling halves the coarser output, the
    # detection block of a finer level takes it concatenated with the backbone level
    assert [lat[0].in_channels for lat in neck.lateral] == [256, 512]
    assert [lat[0].out_channels for lat in neck.lateral] == [128, 256]
    assert [blk[0][0].in_channels for blk in neck.detect] == [256 + 128, 512 + 256, 1024]
    feats = [torch.randn(1, c, 32 // s * 2, 32 // s * 3) for c, s in ((256, 1), (512, 2), (1024, 4))]
    outs = neck(feats)
    assert [tuple(o.shape) for o in outs] == [(1, 128, 64, 96), (1, 256, 32, 48), (1, 512, 16, 24)]


def test_neck_is_checked_against_the_backbone():
    backbone = build('backbone', dict(type='Darknet', depth='tiny'), key='model.backbone')
    neck = build('neck', dict(type='YOLOV3Neck', in_channels=[128, 256, 512], in_strides=[8, 16, 32]),
                 key='model.neck')
    with pytest.raises(AssemblyError, match=r'model\.neck\.in_channels = \[128, 256, 512\], but '
                                            r'model\.backbone \(Darknet\) produces channels '
                                            r'\[128, 256, 1024\]'):
        check_link(backbone, neck)
    good = YOLOV3Neck(in_channels=[128, 256, 1024], in_strides=[8, 16, 32])
    check_link(backbone, good)
    assert FeatureSpec.of(good) == FeatureSpec((128, 256, 512), (8, 16, 32))


@pytest.mark.parametrize('kwargs, word', [
    (dict(in_channels=[8, 16], out_channels=[4, 8], in_strides=[8, 32]), 'twice'),
    (dict(in_channels=[8, 16], out_channels=[4, 8], in_strides=None), 'in_strides is None'),
    (dict(in_channels=[8, 16], in_strides=[8, 16], out_channels=[4]), 'one entry per level'),
    (dict(in_channels=[8, 0], out_channels=[4, 8], in_strides=[8, 16]), 'in_channels'),
    (dict(in_channels=[8, 16], out_channels=[4, 8], in_strides=[8, 16], norm='ln'), 'norm'),
])
def test_neck_bad_arguments(kwargs, word):
    with pytest.raises(ValueError, match=word):
        YOLOV3Neck(**kwargs)
