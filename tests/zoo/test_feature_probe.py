"""The probe forward that measures what a backbone and a neck produce (zoo.detectors.probe)."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from registry import AssemblyError
from zoo.detectors.probe import FeatureProbe, probe_features


class Unpadded(nn.Module):
    """ZF-like: unpadded convolutions and pooling, stride 16 overall, loses cells at the borders
    (H / 16 would be wrong by one or two cells)."""

    out_channels, strides = (8,), (16,)

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(3, 4, 7, stride=2), nn.MaxPool2d(3, 2),
                                  nn.Conv2d(4, 8, 5, stride=2), nn.MaxPool2d(3, 2))

    def forward(self, x):
        return (self.body(x),)


class NoMetaKernel(nn.Module):
    """Goes through NumPy (no meta kernel there), has batch norm, produces stride 4 while it
    declares 8."""

    out_channels, strides = (6,), (8,)

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 6, 3, stride=4, padding=1)
        self.bn = nn.BatchNorm2d(6)

    def forward(self, x):
        y = torch.from_numpy(self.conv(x).numpy())
        return (self.bn(y),)


class Neck(nn.Module):
    out_channels, strides = (4,), (16,)

    def __init__(self, in_channels):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, 4, 1)

    def forward(self, feats):
        return (self.conv(feats[0]),)


def _at(part, path):
    part._zoo_key_path, part._zoo_type = path, type(part).__name__
    return part


def test_the_probe_measures_unpadded_strides_exactly():
    probe = FeatureProbe(16)
    assert probe.shape == (1, 3, 64, 96)
    net = Unpadded()
    (out,) = net(probe.image('cpu'))
    assert tuple(out.shape[-2:]) == (2, 4)  # 64 / 16 = 4 rows expected, 2 real: the difference
    assert probe.measure(net, (out,)).strides == (16,)
    spec = probe_features(_at(Unpadded(), 'model.backbone'), None)
    assert (spec.channels, spec.strides) == ((8,), (16,))


def test_a_part_without_meta_kernels_is_measured_for_real_and_left_as_it_was():
    net = _at(NoMetaKernel(), 'model.backbone')
    net.train()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    state = torch.random.get_rng_state()
    with pytest.raises(AssemblyError) as info:
        probe_features(net, None)
    assert str(info.value).startswith(
        'model.backbone.strides = [8], but model.backbone (NoMetaKernel) produces strides [4] '
        '(measured by a probe forward of a 1x3x32x48 input).')
    assert net.training and net.bn.training  # train mode restored
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())  # BN stats kept
    assert torch.equal(state, torch.random.get_rng_state())  # no random number drawn


def test_a_neck_that_fails_on_the_backbone_features_is_named():
    backbone = _at(Unpadded(), 'model.backbone')
    neck = _at(Neck(in_channels=5), 'model.neck')  # 8 channels come, 5 expected, no consumes()
    with pytest.raises(AssemblyError) as info:
        probe_features(backbone, neck)
    msg = str(info.value)
    assert msg.startswith('model.neck (Neck) fails on the features of model.backbone (Unpadded) '
                          '(channels [8] at strides [16]): RuntimeError: ')
    assert 'expected input[1, 8, 2, 4] to have 5 channels' in msg
