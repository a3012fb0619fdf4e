"""cast_autocast_weights: after one pass under autocast the layers that ran there hold their
weights in autocast's dtype, and later passes give bit for bit what casting per call gave;
layers that ran in a float32 region, or whose weights are read without their forward, stay
float32. (Every recipe: tests/precision/test_recipes_bfloat16.py; zoo.Detector(amp=True):
tests/runner/test_inference_api.py.)"""
import pytest
import torch
from torch import nn
from torchvision.ops import FrozenBatchNorm2d

from plugins.backbones.frozen_bn_fold import conv_frozen_bn
from zoo.api import force_fp32
from zoo.inference.low_precision_weights import cast_autocast_weights
from zoo.runner.precision import autocast


class _Toy(nn.Module):
    """A convolution under autocast, a linear layer inside a float32 region, one that runs in
    both, and a frozen batch-norm folded into a convolution whose forward never runs (the ResNet
    backbone's way)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.folded = nn.Conv2d(8, 8, 1)
        self.bn = FrozenBatchNorm2d(8)
        self.bn.running_var.uniform_(0.5, 2.0)
        self.bn.weight.uniform_(0.5, 2.0)
        self.head = nn.Linear(8, 4)
        self.shared = nn.Linear(8, 8)

    @force_fp32
    def decode(self, v):
        return self.head(self.shared(v))

    def forward(self, x):
        feat = conv_frozen_bn(self.folded, self.bn, self.conv(x))
        return self.decode(self.shared(feat.mean((2, 3))))


def test_layers_of_float32_regions_and_folded_convolutions_stay_float32():
    torch.manual_seed(0)
    toy = _Toy().eval()
    x = torch.randn(2, 3, 16, 16)

    def run():
        with torch.no_grad(), autocast('cpu', cache_enabled=False):
            return toy(x)
    want = run()
    with cast_autocast_weights(toy) as report:
        run()
    assert report['cast'] == ['conv'] and report['kept'] == ['head', 'shared']
    assert toy.conv.weight.dtype == toy.conv.bias.dtype == torch.bfloat16
    # in bfloat16 they would fail on the float32 inputs of the float32 region
    assert toy.head.weight.dtype == toy.shared.weight.dtype == torch.float32
    assert toy.folded.weight.dtype == torch.float32  # folded in float32, as before
    assert torch.equal(run(), want)


def test_nothing_is_cast_outside_autocast_or_when_the_pass_fails():
    toy = _Toy().eval()
    with torch.no_grad(), cast_autocast_weights(toy) as report:
        toy(torch.randn(1, 3, 8, 8))
    assert report['cast'] == [] and report['dtype'] is None
    assert report['kept'] == ['conv', 'head', 'shared']
    with pytest.raises(RuntimeError, match='boom'):
        with torch.no_grad(), autocast('cpu'), cast_autocast_weights(toy):
            toy(torch.randn(1, 3, 8, 8))
            raise RuntimeError('boom')
    assert all(p.dtype == torch.float32 for p in toy.parameters())
    # no hook is left behind
    assert not any(m._forward_pre_hooks for m in toy.modules())
