"""FPN against torchvision's FeaturePyramidNetwork + LastLevelMaxPool, and the key layout that
maps torchvision's fasterrcnn_resnet50_fpn backbone onto our ResNet + FPN."""
from __future__ import annotations

from collections import OrderedDict
from types import SimpleNamespace

import pytest
import torch
import torchvision
from torch import nn
from torchvision.ops import FeaturePyramidNetwork
from torchvision.ops.feature_pyramid_network import LastLevelMaxPool

import plugins  # noqa: F401
from plugins.backbones import ResNet
from plugins.necks import FPN
from registry import NECKS, AssemblyError, build, check_link

R50_CHANNELS = [256, 512, 1024, 2048]
R50_STRIDES = [4, 8, 16, 32]


def randomize(module: nn.Module) -> None:
    for p in module.parameters():
        nn.init.normal_(p, std=0.05)  # biases too (torchvision initializes them to 0)


def c2_c5(batch: int = 2, size: int = 64, channels=R50_CHANNELS, strides=R50_STRIDES):
    return tuple(torch.randn(batch, c, size // s, size // s) for c, s in zip(channels, strides))


def test_fpn_equals_torchvision_with_the_same_weights():
    torch.manual_seed(0)
    tv = FeaturePyramidNetwork(R50_CHANNELS, 256, extra_blocks=LastLevelMaxPool())
    randomize(tv)
    neck = build('neck', dict(type='FPN', in_channels=R50_CHANNELS, out_channels=256),
                 key='neck', default_args=dict(in_strides=R50_STRIDES))
    assert isinstance(neck, FPN) and NECKS.get('FPN') is FPN
    neck.fpn.load_state_dict(tv.state_dict())
    feats = c2_c5()
    outs = neck(feats)
    expected = list(tv(OrderedDict((str(i), f) for i, f in enumerate(feats))).values())
    assert len(outs) == 5
    for o, e in zip(outs, expected):
        assert torch.equal(o, e)
    assert [tuple(o.shape[-2:]) for o in outs] == [(16, 16), (8, 8), (4, 4), (2, 2), (1, 1)]
    assert neck.strides == (4, 8, 16, 32, 64) and neck.out_channels == (256,) * 5


def test_fpn_without_extra_level():
    neck = FPN([64, 128], out_channels=32, in_strides=[8, 16], add_extra_max_pool=False)
    outs = neck(c2_c5(1, 64, [64, 128], [8, 16]))
    assert [tuple(o.shape) for o in outs] == [(1, 32, 8, 8), (1, 32, 4, 4)]
    assert neck.strides == (8, 16) and neck.out_channels == (32, 32)


def test_fpn_consumes_the_backbones_channels_and_strides():
    neck = FPN(R50_CHANNELS, in_strides=R50_STRIDES)
    neck._zoo_key_path = 'model.neck'
    check_link(SimpleNamespace(out_channels=(256, 512, 1024, 2048), strides=(4, 8, 16, 32)), neck)
    with pytest.raises(AssemblyError, match=r'model\.neck\.in_channels = \[256, 512, 1024, 2048\]'):
        check_link(SimpleNamespace(out_channels=(64, 128, 256, 512), strides=(4, 8, 16, 32)), neck)
    with pytest.raises(AssemblyError, match=r'model\.neck\.in_strides'):
        check_link(SimpleNamespace(out_channels=(256, 512, 1024, 2048), strides=(8, 16, 32, 64)), neck)


@pytest.mark.parametrize('kwargs, word', [
    (dict(in_channels=R50_CHANNELS), 'in_strides is None'),
    (dict(in_channels=R50_CHANNELS, in_strides=[4, 8, 16]), 'one entry per input level'),
    (dict(in_channels=R50_CHANNELS, in_strides=[32, 16, 8, 4]), 'increase'),
    (dict(in_channels=[256, 0], in_strides=[4, 8]), 'positive ints'),
    (dict(in_channels=R50_CHANNELS, in_strides=R50_STRIDES, out_channels=0), 'out_channels'),
])
def test_fpn_rejects_bad_arguments(kwargs, word):
    with pytest.raises(ValueError, match=word):
        FPN(**kwargs)


def test_fpn_rejects_features_that_do_not_fit():
    neck = FPN(R50_CHANNELS, in_strides=R50_STRIDES)
    with pytest.raises(ValueError, match='got 3 feature levels, expected 4'):
        neck(c2_c5()[:3])
    with pytest.raises(ValueError, match='channels'):
        neck(c2_c5(1, 64, [256, 512, 1024, 1024]))


def test_torchvision_fasterrcnn_r50_fpn_keys_map_onto_resnet_and_fpn():
    """backbone.body.<k> -> ResNet <k>; backbone.fpn.<k> -> FPN fpn.<k>; same outputs."""
    torch.manual_seed(0)
    tv = torchvision.models.detection.fasterrcnn_resnet50_fpn(weights=None, weights_backbone=None)
    tv = tv.backbone.eval()  # with weights=None torchvision uses nn.BatchNorm2d: eval = running stats
    for m in tv.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.normal_(0, 0.1)
            m.running_mean.normal_(0, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    randomize(tv.fpn)
    state = {f'backbone.{k}': v for k, v in tv.state_dict().items()}  # the detector's keys

    backbone = ResNet(depth=50, frozen_stages=-1).eval()
    neck = FPN(R50_CHANNELS, 256, in_strides=backbone.strides).eval()
    body = {k[len('backbone.body.'):]: v for k, v in state.items() if k.startswith('backbone.body.')}
    fpn = {'fpn.' + k[len('backbone.fpn.'):]: v for k, v in state.items() if k.startswith('backbone.fpn.')}
    assert len(body) + len(fpn) == len(state)
    backbone.load_state_dict(body, strict=True)  # FrozenBatchNorm2d drops num_batches_tracked
    neck.load_state_dict(fpn, strict=True)

    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        outs = neck(backbone(x))
        expected = list(tv(x).values())
    assert len(outs) == len(expected) == 5
    for o, e in zip(outs, expected):
        # FrozenBatchNorm2d (x * scale + shift) vs BatchNorm2d.eval rounds differently; through 50
        # random layers the activations grow, so compare relative to the level's largest value
        assert o.shape == e.shape
        assert (o - e).abs().max() <= 1e-5 * e.abs().max()
