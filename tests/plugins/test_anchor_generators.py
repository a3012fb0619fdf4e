"""Anchor schemes against their references: torchvision's AnchorGenerator and py-faster-rcnn."""
import numpy as np
import pytest
import torch
from torchvision.models.detection.anchor_utils import AnchorGenerator as TVAnchorGenerator
from torchvision.models.detection.image_list import ImageList

from plugins.anchor_generators import AnchorGenerator, LegacyAnchorGenerator
from registry import ANCHOR_GENERATORS, AssemblyError, FeatureSpec, build, check_link

FPN_STRIDES = [4, 8, 16, 32, 64]
FPN_SIZES = ((32,), (64,), (128,), (256,), (512,))


def torchvision_anchors(tv_gen, strides, top_size):
    """torchvision's anchors for an image of top_size * strides[-1] pixels (one per level)."""
    h, w = (s * strides[-1] for s in top_size)
    sizes = [(h // s, w // s) for s in strides]
    image = ImageList(torch.zeros(1, 3, h, w), [(h, w)])
    feats = [torch.zeros(1, 1, fh, fw) for fh, fw in sizes]
    return tv_gen(image, feats)[0], sizes


# --- AnchorGenerator ------------------------------------------------------------------------
@pytest.mark.parametrize('top_size', [(1, 1), (2, 3), (5, 4), (13, 21)])
@pytest.mark.parametrize('form', ['sizes', 'scales'])
def test_fpn_anchors_equal_torchvision(top_size, form):
    tv = TVAnchorGenerator(FPN_SIZES, ((0.5, 1.0, 2.0),) * 5)
    expected, sizes = torchvision_anchors(tv, FPN_STRIDES, top_size)
    gen = (AnchorGenerator(FPN_STRIDES, sizes=FPN_SIZES) if form == 'sizes'
           else AnchorGenerator(FPN_STRIDES, scales=(8,)))
    ours = gen.grid_priors(sizes)
    assert [p.shape[0] for p in ours] == [h * w * 3 for h, w in sizes]
    assert torch.equal(torch.cat(ours), expected)


def test_several_sizes_per_level_keep_torchvision_order():
    # RetinaNet-style: 3 sizes x 3 ratios; checks the ratio-major order of torchvision.
    sizes = tuple((x, int(x * 2 ** (1 / 3)), int(x * 2 ** (2 / 3))) for x in (32, 64, 128))
    tv = TVAnchorGenerator(sizes, ((0.5, 1.0, 2.0),) * 3)
    expected, fsizes = torchvision_anchors(tv, [8, 16, 32], (3, 5))
    gen = AnchorGenerator([8, 16, 32], sizes=sizes)
    assert gen.num_base_anchors == 9
    assert torch.equal(torch.cat(gen.grid_priors(fsizes)), expected)


def test_base_anchors_by_hand_and_index_formula():
    gen = AnchorGenerator([4, 8], scales=(8,))
    # size 32, ratio h/w 0.5: w = 32 / sqrt(.5) = 45.25, h = 22.63; halves 22.63, 11.31 -> round
    assert gen.base_anchors[0].tolist() == [[-23, -11, 23, 11], [-16, -16, 16, 16],
                                            [-11, -23, 11, 23]]
    level0, level1 = gen.grid_priors([(2, 3), (1, 2)])
    # anchor (y=1, x=2, a=1) at stride 4: index (1 * 3 + 2) * 3 + 1 = 16, shifted by (8, 4)
    assert level0[16].tolist() == [-16 + 8, -16 + 4, 16 + 8, 16 + 4]
    # level 1: size 64, anchor (y=0, x=1, a=2): index 5, shifted by (8, 0)
    assert level1[5].tolist() == [-23 + 8, -45, 23 + 8, 45]


def test_grid_priors_cache_dtype_device():
    gen = AnchorGenerator(FPN_STRIDES, sizes=FPN_SIZES)
    sizes = [(8, 8), (4, 4), (2, 2), (1, 1), (1, 1)]
    first = gen.grid_priors(sizes)
    second = gen.grid_priors([torch.Size(s) for s in sizes], device=torch.device('cpu'))
    assert all(a is b for a, b in zip(first, second))  # the cached tensors themselves
    doubles = gen.grid_priors(sizes, dtype=torch.float64)
    assert doubles[0].dtype == torch.float64 and doubles[0] is not first[0]
    assert torch.equal(doubles[0].float(), first[0])
    for i in range(gen.cache_size + 1):  # evicts the oldest entry
        gen.grid_priors([(i + 9, 1)] + sizes[1:])
    assert gen.grid_priors(sizes)[0] is not first[0]
    assert len(gen._cache) <= gen.cache_size


def test_consumes_strides_checked_by_registry():
    gen = build('anchor_generator', dict(type='AnchorGenerator', strides=[8, 16], scales=[4]),
                key='rpn_head.anchor_generator')
    check_link(None, gen, spec=FeatureSpec((256, 256), (8, 16)))
    with pytest.raises(AssemblyError, match='rpn_head.anchor_generator.strides'):
        check_link(None, gen, spec=FeatureSpec((256, 256, 256), (8, 16, 32)))
    assert ANCHOR_GENERATORS.get('AnchorGenerator') is AnchorGenerator


@pytest.mark.parametrize('kwargs, match', [
    (dict(strides=[4, 8]), 'got neither'),
    (dict(strides=[4, 8], sizes=((32,), (64,)), scales=(8,)), 'not both'),
    (dict(strides=[4, 8], sizes=((32,), (64,)), base_sizes=(4, 8)), 'base_sizes'),
    (dict(strides=[4, 8], sizes=((32,),)), 'one sequence of sizes per level'),
    (dict(strides=[4, 8], sizes=((32, 40), (64,))), r'different numbers .*\[6, 3\]'),
    (dict(strides=[4, 8], scales=(8,), base_sizes=(4,)), 'base_sizes must have one entry'),
    (dict(strides=[4, 8], scales=(-8,)), 'scales must be'),
    (dict(strides=[4, 8], scales=(8,), ratios=(0.5, 0)), 'ratios must be'),
    (dict(strides=[4, 8.5], scales=(8,)), 'strides must be'),
    (dict(strides=[], scales=(8,)), 'strides must be'),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        AnchorGenerator(**kwargs)


def test_grid_priors_wrong_levels():
    gen = AnchorGenerator([4, 8], scales=(8,))
    with pytest.raises(ValueError, match='featmap_sizes has 1 levels'):
        gen.grid_priors([(2, 2)])
    with pytest.raises(ValueError, match='pair of ints'):
        gen.grid_priors([(2, 2), 3])


# --- LegacyAnchorGenerator: py-faster-rcnn ------------------------------------------------------
# py-faster-rcnn's lib/rpn/generate_anchors.py, printed output of generate_anchors() (its
# __main__ block); the known answer of the paper's code.
PY_FASTER_RCNN_ANCHORS = [[-84, -40, 99, 55], [-176, -88, 191, 103], [-360, -184, 375, 199],
                          [-56, -56, 71, 71], [-120, -120, 135, 135], [-248, -248, 263, 263],
                          [-36, -80, 51, 95], [-80, -168, 95, 183], [-168, -344, 183, 359]]


def pfr_generate_anchors(base_size=16, ratios=(0.5, 1, 2), scales=(8, 16, 32)):
    """py-faster-rcnn's generate_anchors.py, verbatim but for the helper layout."""
    def _whctrs(anchor):
        w = anchor[2] - anchor[0] + 1
        h = anchor[3] - anchor[1] + 1
        return w, h, anchor[0] + 0.5 * (w - 1), anchor[1] + 0.5 * (h - 1)

    def _mkanchors(ws, hs, x_ctr, y_ctr):
        ws, hs = ws[:, np.newaxis], hs[:, np.newaxis]
        return np.hstack((x_ctr - 0.5 * (ws - 1), y_ctr - 0.5 * (hs - 1),
                          x_ctr + 0.5 * (ws - 1), y_ctr + 0.5 * (hs - 1)))

    def _ratio_enum(anchor, ratios):
        w, h, x_ctr, y_ctr = _whctrs(anchor)
        size_ratios = w * h / np.asarray(ratios, dtype=float)
        ws = np.round(np.sqrt(size_ratios))
        hs = np.round(ws * np.asarray(ratios, dtype=float))
        return _mkanchors(ws, hs, x_ctr, y_ctr)

    def _scale_enum(anchor, scales):
        w, h, x_ctr, y_ctr = _whctrs(anchor)
        return _mkanchors(w * np.asarray(scales), h * np.asarray(scales), x_ctr, y_ctr)

    base_anchor = np.array([1, 1, base_size, base_size]) - 1
    ratio_anchors = _ratio_enum(base_anchor, ratios)
    return np.vstack([_scale_enum(ratio_anchors[i, :], scales)
                      for i in range(ratio_anchors.shape[0])])


def pfr_shift(anchors, height, width, feat_stride):
    """py-faster-rcnn's anchor_target_layer.py / proposal_layer.py grid, verbatim."""
    shift_x = np.arange(0, width) * feat_stride
    shift_y = np.arange(0, height) * feat_stride
    shift_x, shift_y = np.meshgrid(shift_x, shift_y)
    shifts = np.vstack((shift_x.ravel(), shift_y.ravel(),
                        shift_x.ravel(), shift_y.ravel())).transpose()
    A, K = anchors.shape[0], shifts.shape[0]
    all_anchors = (anchors.reshape((1, A, 4)) + shifts.reshape((1, K, 4)).transpose((1, 0, 2)))
    return all_anchors.reshape((K * A, 4))


def test_legacy_base_anchors_are_the_papers():
    gen = LegacyAnchorGenerator()
    assert gen.strides == (16,) and gen.num_levels == 1 and gen.num_base_anchors == 9
    assert gen.base_anchors[0].tolist() == PY_FASTER_RCNN_ANCHORS
    # the paper's areas 128^2, 256^2, 512^2, up to generate_anchors' rounding of the ratio
    # boxes to whole pixels (23 x 12 for ratio 0.5 of 16 x 16: sqrt(276) / 16 = 1.038), in
    # py-faster-rcnn's +1 convention
    wh = gen.base_anchors[0][:, 2:] - gen.base_anchors[0][:, :2] + 1
    areas = (wh[:, 0] * wh[:, 1]).sqrt().view(3, 3)
    assert torch.allclose(areas, torch.tensor([128., 256., 512.]).expand(3, 3), rtol=0.04)


def test_legacy_grid_shift_2x3():
    gen = LegacyAnchorGenerator()
    (anchors,) = gen.grid_priors([(2, 3)])
    assert anchors.shape == (2 * 3 * 9, 4)
    base = torch.tensor(PY_FASTER_RCNN_ANCHORS, dtype=torch.float32)
    for y in range(2):
        for x in range(3):
            block = anchors[(y * 3 + x) * 9:(y * 3 + x + 1) * 9]
            assert torch.equal(block, base + torch.tensor([16. * x, 16. * y] * 2))
    expected = pfr_shift(np.array(PY_FASTER_RCNN_ANCHORS, dtype=float), 2, 3, 16)
    assert np.array_equal(anchors.numpy(), expected)


@pytest.mark.parametrize('base_size, ratios, scales', [
    (16, (0.5, 1, 2), (8, 16, 32)), (8, (0.5, 1, 2), (2, 4, 8)),
    (16, (0.25, 0.5, 1, 2, 4), (2, 4)), (10, (1 / 3, 3), (3, 5)),
])
def test_legacy_matches_generate_anchors_py(base_size, ratios, scales):
    gen = LegacyAnchorGenerator(strides=[base_size], ratios=ratios, scales=scales)
    expected = pfr_generate_anchors(base_size, ratios, scales)
    assert np.array_equal(gen.base_anchors[0].numpy(), expected.astype(np.float32))
    (anchors,) = gen.grid_priors([(4, 5)])
    assert np.allclose(anchors.numpy(), pfr_shift(expected, 4, 5, base_size), atol=0)


def test_legacy_consumes_and_errors():
    gen = LegacyAnchorGenerator()
    check_link(None, gen, spec=FeatureSpec((512,), (16,)))
    with pytest.raises(AssemblyError):
        check_link(None, gen, spec=FeatureSpec((512,), (32,)))
    with pytest.raises(ValueError, match='base_sizes must have one entry'):
        LegacyAnchorGenerator(strides=[16, 32], base_sizes=[16])
    with pytest.raises(ValueError, match='scales must be'):
        LegacyAnchorGenerator(scales=())
