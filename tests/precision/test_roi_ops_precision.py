"""RoI operations and mixed precision: the threaded RoIPool is torchvision's ``roi_pool`` bit for
bit (outputs and input gradients); under CPU bfloat16 autocast the RoI layers and the extractor
run in float32 (torchvision has no bfloat16 CPU kernel) and return what float32 returns; the
``force_fp32`` decorator casts only inside autocast."""
from __future__ import annotations

import pytest
import torch
from torchvision.ops import roi_pool

import plugins  # noqa: F401
from plugins.roi_extractors import RoIAlign, RoIPool
from plugins.roi_extractors.threaded import MIN_ROIS, threaded_roi_pool
from registry import build
from zoo.api import force_fp32

BF16 = dict(device_type='cpu', dtype=torch.bfloat16)


def _rois(g: torch.Generator) -> torch.Tensor:
    """Four images: 90 RoIs, 9 RoIs (some reaching or lying outside the map, some degenerate),
    none, 3; in input pixels of a 160 x 192 image (stride 4: a 40 x 48 map)."""
    def boxes(n, lo=-40.0, hi=230.0):
        xy = torch.empty(n, 2).uniform_(lo, hi, generator=g)
        wh = torch.empty(n, 2).uniform_(0.0, 80.0, generator=g)
        return torch.cat([xy, xy + wh], 1)
    outside = torch.tensor([[200., 170., 260., 220.], [-50., -50., -10., -5.], [30., 30., 30., 30.],
                            [100., 60., 90., 50.]])  # beyond the map, before it, a point, inverted
    per_image = [boxes(90), torch.cat([boxes(5), outside]), torch.zeros(0, 4), boxes(3, 0.0, 100.0)]
    return torch.cat([torch.cat([torch.full((len(b), 1), float(i)), b], 1) for i, b in enumerate(per_image)])


@pytest.mark.parametrize('interleaved', [False, True])
@pytest.mark.parametrize('channels_last', [False, True])
def test_threaded_roi_pool_is_bitwise_torchvisions(interleaved, channels_last):
    g = torch.Generator().manual_seed(5)
    feat = torch.randn(4, 16, 40, 48, generator=g)
    if channels_last:
        feat = feat.contiguous(memory_format=torch.channels_last)
    feat.requires_grad_()
    rois = _rois(g)
    if interleaved:  # else grouped by image, as the detectors make them
        rois = rois[torch.randperm(len(rois), generator=g)]
    assert len(rois) >= MIN_ROIS
    old = torch.get_num_threads()
    torch.set_num_threads(2)  # the threaded path needs more than one thread
    try:
        ours = threaded_roi_pool(feat, rois, 6, 0.25)
        upstream = torch.linspace(-1, 1, ours.numel()).view_as(ours)
        (ours_grad,) = torch.autograd.grad(ours, feat, upstream)
    finally:
        torch.set_num_threads(old)
    ref = roi_pool(feat, rois, 6, 0.25)
    (ref_grad,) = torch.autograd.grad(ref, feat, upstream)
    assert torch.equal(ours, ref)
    assert torch.equal(ours_grad, ref_grad)
    assert ours_grad[2].abs().sum() == 0 and ours_grad[0].abs().sum() > 0  # image 2 has no RoI


def test_threaded_roi_pool_without_rois():
    feat = torch.randn(2, 4, 10, 10, requires_grad=True)
    out = threaded_roi_pool(feat, torch.zeros(0, 5), 7, 1 / 16)
    assert out.shape == (0, 4, 7, 7)


@pytest.mark.parametrize('layer', [dict(type='RoIPool', output_size=6, spatial_scale=0.25),
                                   dict(type='RoIAlign', output_size=7, spatial_scale=0.25, sampling_ratio=2),
                                   dict(type='RoIAlign', output_size=7, spatial_scale=0.25, aligned=True)],
                         ids=['RoIPool', 'RoIAlign', 'RoIAlign-aligned'])
def test_roi_layers_under_bfloat16_autocast_run_in_float32(layer):
    g = torch.Generator().manual_seed(7)
    module = build('roi_extractor', layer)
    feat32 = torch.randn(4, 8, 40, 48, generator=g)
    feat16 = feat32.bfloat16()  # what a convolution under autocast hands the layer
    rois = _rois(g)
    with torch.autocast(**BF16):
        out = module(feat16, rois)
    assert out.dtype == torch.float32  # the later layers autocast again
    assert torch.equal(out, module(feat16.float(), rois))  # the float32 computation, exactly


def test_the_extractor_under_autocast_returns_float32_as_float32_does():
    g = torch.Generator().manual_seed(2)
    ext = build('roi_extractor', dict(type='SingleRoIExtractor', out_channels=8,
                                      featmap_strides=[4, 8, 16, 32],
                                      roi_layer=dict(type='RoIAlign', output_size=7, sampling_ratio=2)))
    feats = tuple(torch.randn(4, 8, 160 // s, 192 // s, generator=g).bfloat16() for s in (4, 8, 16, 32))
    rois = _rois(g)
    with torch.autocast(**BF16):
        out = ext(feats, rois)
    assert out.dtype == torch.float32
    assert torch.equal(out, ext(tuple(f.float() for f in feats), rois))


def test_force_fp32_casts_only_inside_autocast():
    seen = []

    @force_fp32
    def f(x, pair, named=None, n=3):
        seen.append((x.dtype, [t.dtype for t in pair], named['a'].dtype, torch.is_autocast_enabled('cpu'), n))
        return x @ x

    x = torch.randn(4, 4).bfloat16()
    ints = torch.arange(3)
    assert f(x, (x, ints), named={'a': x}).dtype == torch.bfloat16  # no autocast: untouched
    assert seen[-1] == (torch.bfloat16, [torch.bfloat16, torch.int64], torch.bfloat16, False, 3)
    with torch.autocast(**BF16):
        assert f(x, (x, ints), named={'a': x}, n=4).dtype == torch.float32
        assert torch.is_autocast_enabled('cpu')  # restored after the call
    assert seen[-1] == (torch.float32, [torch.float32, torch.int64], torch.float32, False, 4)
    x32 = torch.randn(4, 4)
    assert f(x32, [x32], named={'a': x32}) is not None and seen[-1][0] == torch.float32


def test_roi_modules_are_the_threaded_ones():
    """RoIPool and RoIAlign go through the threaded wrappers (same numbers, all cores)."""
    g = torch.Generator().manual_seed(1)
    feat, rois = torch.randn(4, 8, 40, 48, generator=g), _rois(g)
    old = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        assert torch.equal(RoIPool(6, 0.25)(feat, rois), roi_pool(feat, rois, 6, 0.25))
        assert RoIAlign(7, 0.25)(feat, rois).shape == (len(rois), 8, 7, 7)
    finally:
        torch.set_num_threads(old)
