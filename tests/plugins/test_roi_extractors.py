"""RoI layers and SingleRoIExtractor against torchvision (roi_pool, roi_align, MultiScaleRoIAlign)."""
from __future__ import annotations

import math
from collections import OrderedDict
from types import SimpleNamespace

import pytest
import torch
from torchvision.ops import MultiScaleRoIAlign, roi_align, roi_pool

import plugins  # noqa: F401
from plugins.roi_extractors import RoIAlign, RoIPool, SingleRoIExtractor
from registry import ROI_EXTRACTORS, AssemblyError, ConfigError, build, check_link

FPN_STRIDES = [4, 8, 16, 32]


def random_boxes(n: int, image: int, generator: torch.Generator) -> torch.Tensor:
    """Boxes of assorted sizes inside the image: sqrt(area) log-uniform in [4, image], aspect
    ratio log-uniform in [1/2, 2] (sides clipped to the image)."""
    scale = torch.exp(torch.empty(n).uniform_(math.log(4), math.log(image), generator=generator))
    ratio = torch.exp(torch.empty(n).uniform_(-math.log(2), math.log(2), generator=generator))
    side = torch.stack([scale * ratio.sqrt(), scale / ratio.sqrt()], dim=1).clamp(max=image)
    xy = torch.rand(n, 2, generator=generator) * (image - side)
    return torch.cat([xy, xy + side], dim=1)


def fpn_levels(batch: int, channels: int, image: int, strides=FPN_STRIDES):
    return tuple(torch.randn(batch, channels, image // s, image // s) for s in strides)


def test_multi_level_roi_align_equals_torchvision_multiscale_roi_align():
    g = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    # a 512 x 512 image: level 3 (k = 5) needs sqrt(area) >= 448, beyond a 256 image
    feats = fpn_levels(2, 8, 512)
    boxes = [random_boxes(60, 512, g), random_boxes(40, 512, g)]
    boxes[1] = torch.cat([boxes[1], torch.tensor([[0., 0, 512, 512], [10, 30, 500, 490]])])
    rois = torch.cat([torch.cat([torch.full((len(b), 1), float(i)), b], dim=1)
                      for i, b in enumerate(boxes)])

    ours = build('roi_extractor', dict(type='SingleRoIExtractor',
                                       roi_layer=dict(type='RoIAlign', output_size=7, sampling_ratio=2),
                                       out_channels=8, featmap_strides=FPN_STRIDES))
    tv = MultiScaleRoIAlign(['0', '1', '2', '3'], 7, 2)
    expected = tv(OrderedDict((str(i), f) for i, f in enumerate(feats)), boxes, [(512, 512)] * 2)
    out = ours(feats + (torch.randn(2, 8, 8, 8),), rois)  # a 5th level (P6) is ignored
    assert out.shape == (102, 8, 7, 7)
    assert torch.equal(out, expected)
    assert set(ours.map_roi_levels(rois).tolist()) == {0, 1, 2, 3}  # every level exercised
    assert ours.output_size == 7 and ours.featmap_strides == (4, 8, 16, 32)
    assert [layer.spatial_scale for layer in ours.roi_layers] == [1 / 4, 1 / 8, 1 / 16, 1 / 32]


def test_map_roi_levels_by_hand():
    # FPN eq. (1): k = floor(4 + log2(sqrt(wh) / 224)), clamped to [2, 5] for strides 4..32,
    # index k - 2
    ext = SingleRoIExtractor(dict(type='RoIAlign', output_size=7), 8, FPN_STRIDES)
    # (223.5: with py-faster-rcnn's "+1" widths it would be 224.5 -> index 2)
    sides = [224, 112, 448, 56, 16, 223.5, 1000, 0]
    expected = [2, 1, 3, 0, 0, 1, 3, 0]
    rois = torch.tensor([[0, 10, 20, 10 + s, 20 + s] for s in sides], dtype=torch.float32)
    assert ext.map_roi_levels(rois).tolist() == expected
    # area w * h without "+1": a 112 x 448 box has sqrt(area) 224 -> level k = 4 -> index 2
    assert ext.map_roi_levels(torch.tensor([[0., 0, 0, 112, 448]])).tolist() == [2]


def test_single_level_roi_pool_equals_torchvision_roi_pool():
    g = torch.Generator().manual_seed(1)
    feat = torch.randn(2, 16, 14, 18)  # conv5 of a 224 x 288 input at stride 16
    rois = torch.cat([torch.randint(0, 2, (30, 1), generator=g).float(), random_boxes(30, 224, g)], 1)
    layer = RoIPool(output_size=7, spatial_scale=1 / 16)
    assert torch.equal(layer(feat, rois), roi_pool(feat, rois, 7, 1 / 16))
    ext = build('roi_extractor', dict(type='SingleRoIExtractor',
                                      roi_layer=dict(type='RoIPool', output_size=6),
                                      out_channels=16, featmap_strides=[16]))
    assert torch.equal(ext((feat,), rois), roi_pool(feat, rois, 6, 1 / 16))


def test_switching_roi_pool_and_roi_align_is_only_the_type():
    g = torch.Generator().manual_seed(2)
    feat = torch.randn(1, 4, 16, 16)
    rois = torch.cat([torch.zeros(10, 1), random_boxes(10, 256, g)], 1)
    expected = {'RoIPool': roi_pool(feat, rois, 7, 1 / 16),
                'RoIAlign': roi_align(feat, rois, 7, 1 / 16, 0, False)}
    for kind in ('RoIPool', 'RoIAlign'):
        cfg = dict(type='SingleRoIExtractor', roi_layer=dict(type=kind, output_size=7),
                   out_channels=4, featmap_strides=[16])
        ext = build('roi_extractor', cfg, key='model.roi_head.bbox_roi_extractor')
        assert type(ext.roi_layers[0]) is ROI_EXTRACTORS.get(kind)
        assert ext.roi_layers[0]._zoo_key_path == 'model.roi_head.bbox_roi_extractor.roi_layer'
        assert torch.equal(ext((feat,), rois), expected[kind])


def test_roi_align_module_equals_torchvision_roi_align():
    g = torch.Generator().manual_seed(3)
    feat = torch.randn(2, 3, 20, 20)
    rois = torch.cat([torch.tensor([[0.], [1.], [1.]]), random_boxes(3, 160, g)], 1)
    for kwargs in (dict(sampling_ratio=0, aligned=False), dict(sampling_ratio=2, aligned=True)):
        layer = RoIAlign(5, spatial_scale=1 / 8, **kwargs)
        assert torch.equal(layer(feat, rois), roi_align(feat, rois, 5, 1 / 8, **kwargs))


def test_extractor_declares_what_it_consumes():
    ext = SingleRoIExtractor(dict(type='RoIAlign', output_size=7, sampling_ratio=2), 256, FPN_STRIDES)
    ext._zoo_key_path = 'model.roi_head.bbox_roi_extractor'
    fpn = SimpleNamespace(out_channels=(256,) * 5, strides=(4, 8, 16, 32, 64))
    check_link(fpn, ext)
    with pytest.raises(AssemblyError,
                       match=r'bbox_roi_extractor\.out_channels = 256, but .* channels \[512\]'):
        check_link(SimpleNamespace(out_channels=(512,), strides=(16,)), ext)
    with pytest.raises(AssemblyError, match=r'bbox_roi_extractor\.featmap_strides = \[4, 8, 16, 32\]'):
        check_link(SimpleNamespace(out_channels=(256,), strides=(16,)), ext)


def test_extractor_gradients_and_empty_rois():
    feats = tuple(f.requires_grad_() for f in fpn_levels(1, 4, 64))
    ext = SingleRoIExtractor(dict(type='RoIAlign', output_size=2, sampling_ratio=2), 4, FPN_STRIDES)
    # sqrt(area) 8 -> k = floor(4 + log2(8/224)) = -1 -> clamped to 2 (index 0);
    # 120 -> floor(4 - 0.9) = 3 (index 1)
    rois = torch.tensor([[0., 0, 0, 8, 8], [0, 0, 0, 120, 120]])
    assert ext.map_roi_levels(rois).tolist() == [0, 1]
    ext(feats, rois).sum().backward()
    assert feats[0].grad.abs().sum() > 0 and feats[1].grad.abs().sum() > 0
    assert feats[2].grad.abs().sum() == 0 and feats[3].grad.abs().sum() == 0
    assert ext(feats, torch.zeros(0, 5)).shape == (0, 4, 2, 2)


@pytest.mark.parametrize('kwargs, word', [
    (dict(roi_layer=dict(type='RoIAlign', output_size=7, spatial_scale=0.25)), 'spatial_scale'),
    (dict(featmap_strides=[4, 8, 32]), 'consecutive powers of two'),
    (dict(featmap_strides=[6, 12]), 'consecutive powers of two'),
    (dict(featmap_strides=[]), 'non-empty'),
    (dict(out_channels=0), 'out_channels'),
    (dict(roi_layer='RoIAlign'), 'config dict'),
    (dict(roi_layer=dict(type='RoIAlign', output_size=(7, 7))), 'output_size'),
])
def test_extractor_rejects_bad_arguments(kwargs, word):
    args = dict(roi_layer=dict(type='RoIAlign', output_size=7), out_channels=8,
                featmap_strides=FPN_STRIDES)
    with pytest.raises(ValueError, match=word):
        SingleRoIExtractor(**dict(args, **kwargs))


def test_unknown_roi_layer_type_names_the_key_path():
    with pytest.raises(ConfigError, match=r'bbox_roi_extractor\.roi_layer\.type'):
        build('roi_extractor', dict(type='SingleRoIExtractor', roi_layer=dict(type='RoIAlgin', output_size=7),
                                    out_channels=8, featmap_strides=[16]), key='roi_head.bbox_roi_extractor')


def test_bad_inputs():
    ext = SingleRoIExtractor(dict(type='RoIAlign', output_size=7), 8, FPN_STRIDES)
    feats = fpn_levels(1, 8, 64)
    with pytest.raises(ValueError, match=r'\(K, 5\)'):
        ext(feats, torch.zeros(3, 4))
    with pytest.raises(ValueError, match='needs 4'):
        ext(feats[:2], torch.zeros(3, 5))
    with pytest.raises(ValueError, match='out_channels'):
        ext(fpn_levels(1, 4, 64), torch.zeros(3, 5))
    with pytest.raises(ValueError, match=r'\(K, 5\)'):
        RoIPool(7, 1 / 16)(feats[0], torch.zeros(3, 4))
    with pytest.raises(ValueError, match='spatial_scale'):
        RoIAlign(7, spatial_scale=0)


@pytest.mark.parametrize('interleaved', [False, True])
@pytest.mark.parametrize('aligned', [False, True])
def test_threaded_roi_align_is_bitwise_torchvisions(aligned, interleaved):
    from plugins.roi_extractors.threaded import MIN_ROIS, threaded_roi_align
    g = torch.Generator().manual_seed(3)
    torch.manual_seed(3)
    # three images: many RoIs, few RoIs, none; channels-last features as the R50-FPN makes them
    feat = torch.randn(3, 16, 40, 48).contiguous(memory_format=torch.channels_last)
    feat.requires_grad_()
    boxes = [random_boxes(150, 160, g), random_boxes(7, 160, g)]
    rois = torch.cat([torch.cat([torch.full((len(b), 1), float(i)), b], dim=1)
                      for i, b in enumerate(boxes)])
    if interleaved:  # else grouped by image, as the detectors make them
        rois = rois[torch.randperm(len(rois), generator=g)]
    assert len(rois) >= MIN_ROIS
    old = torch.get_num_threads()
    torch.set_num_threads(2)  # the threaded path needs more than one thread
    try:
        ours = threaded_roi_align(feat, rois, 7, 0.25, 2, aligned)
        (ours_grad,) = torch.autograd.grad(ours, feat, torch.linspace(-1, 1, ours.numel()).view_as(ours))
    finally:
        torch.set_num_threads(old)
    ref = roi_align(feat, rois, 7, 0.25, 2, aligned)
    (ref_grad,) = torch.autograd.grad(ref, feat, torch.linspace(-1, 1, ref.numel()).view_as(ref))
    assert torch.equal(ours, ref)
    assert torch.equal(ours_grad, ref_grad)
    assert ours_grad[2].abs().sum() == 0  # the image without RoIs
