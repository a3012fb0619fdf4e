"""YOLOv3-SPP's spatial pyramid pooling: the block's shape and its max-pool values on a hand-made
map (the padding never wins), its place in YOLOV3Neck, and the plain neck unchanged without it."""
import pytest
import torch

import registry
from plugins.necks.spp import SPP


def setup_module():
    registry.discover()


def test_spp_shape_and_values_by_hand():
    # a 6 x 6 map of -1 with a 3 at (0, 0) and a 5 at (5, 5)
    x = torch.full((1, 1, 6, 6), -1.0)
    x[0, 0, 0, 0], x[0, 0, 5, 5] = 3.0, 5.0
    out = SPP((5, 9, 13))(x)
    assert out.shape == (1, 4, 6, 6)
    assert torch.equal(out[:, :1], x)                           # the input comes first
    p5, p9, p13 = out[0, 1], out[0, 2], out[0, 3]
    # pool 5 at (i, j) sees rows i-2..i+2, columns j-2..j+2 of the map (padding is never the max:
    # a border cell seeing only -1 stays -1, not 0)
    assert [p5[0, 0], p5[2, 2], p5[3, 3], p5[5, 5]] == [3.0, 3.0, 5.0, 5.0]
    assert [p5[2, 3], p5[3, 2], p5[0, 3], p5[0, 5], p5[5, 0]] == [-1.0] * 5
    # pool 9: rows/columns i-4..i+4
    assert [p9[0, 0], p9[0, 3], p9[3, 0], p9[2, 3], p9[4, 4], p9[1, 1]] == [3.0, 3.0, 3.0, 5.0, 5.0, 5.0]
    assert p9[0, 5] == -1.0 and p9[5, 0] == -1.0   # (0, 5): rows 0-4, cols 1-5: neither peak
    # pool 13 sees the whole 6 x 6 map from everywhere
    assert torch.equal(p13, torch.full((6, 6), 5.0))
    assert SPP((5, 9, 13))(torch.randn(2, 3, 7, 5)).shape == (2, 12, 7, 5)


@pytest.mark.parametrize('sizes', [(), (4,), (5, 0), 'abc', (5.0,)])
def test_spp_refuses_sizes_that_cannot_keep_the_map(sizes):
    with pytest.raises(ValueError, match='odd positive ints'):
        SPP(sizes)


def _neck(**kw):
    return registry.build('neck', dict(type='YOLOV3Neck', in_channels=[8, 16, 32], in_strides=[8, 16, 32],
                                       out_channels=[4, 8, 16], **kw), key='model.neck')


def test_the_spp_block_sits_in_the_coarsest_detection_block():
    neck = _neck(spp_kernel_sizes=[5, 9, 13])
    coarse = neck.detect[-1]
    assert [type(m).__name__ for m in coarse] == ['ConvNormAct'] * 3 + ['SPP'] + ['ConvNormAct'] * 3
    assert coarse[4][0].in_channels == 4 * 16 and coarse[3].kernel_sizes == (5, 9, 13)
    assert all(len(block) == 5 for block in neck.detect[:-1])
    feats = [torch.randn(1, 8, 16, 16), torch.randn(1, 16, 8, 8), torch.randn(1, 32, 4, 4)]
    outs = neck(feats)
    assert [tuple(o.shape) for o in outs] == [(1, 4, 16, 16), (1, 8, 8, 8), (1, 16, 4, 4)]
    with pytest.raises(ValueError, match='spp_kernel_sizes'):
        _neck(spp_kernel_sizes=[4])


def test_the_plain_neck_is_unchanged():
    plain = _neck()
    assert plain.spp_kernel_sizes is None
    assert all(len(block) == 5 for block in plain.detect)
    assert not any(isinstance(m, SPP) for m in plain.modules())
