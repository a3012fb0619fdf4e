"""The parts of ``zoo export`` that need no onnxruntime: the in-graph preprocessing against the
test pipeline (torchvision's uint8 resize, bit for bit) and the detection matching on
hand-made cases."""
from __future__ import annotations

import glob
import os

import pytest
import torch
from torchvision.io import decode_image
from torchvision.transforms.v2 import functional as F

from registry import ConfigError
from zoo.export.check import match_detections
from zoo.export.preprocess import GraphPreprocess, resize_params

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
IMAGE = sorted(glob.glob(os.path.join(ROOT, 'data', 'BCCD', 'JPEGImages', '*.jpg')))[0]


@pytest.mark.parametrize('scale', [(416, 416), (1000, 600), (640, 480)])
def test_graph_preprocess_equals_the_test_pipeline(scale):
    """Resize (keep ratio, sizes rounded half up, uint8 antialiased bilinear), normalization
    and padding: the same numbers as torchvision's resize and the data preprocessor."""
    img = decode_image(IMAGE)
    pre = GraphPreprocess(dict(scale=scale, scale_factor=None, keep_ratio=True),
                          [123.675, 116.28, 103.53], [58.395, 57.12, 57.375], 32)
    for crop in (img, img[:, :401, :517]):
        h, w = crop.shape[-2:]
        f = min(max(scale) / max(h, w), min(scale) / min(h, w))
        nh, nw = int(h * f + 0.5), int(w * f + 0.5)
        ref = F.resize(crop, [nh, nw], antialias=True).float()
        ref = (ref - torch.tensor([123.675, 116.28, 103.53]).view(3, 1, 1)) / \
            torch.tensor([58.395, 57.12, 57.375]).view(3, 1, 1)
        inputs, hw, sf, ori = pre(crop.permute(1, 2, 0).contiguous())
        assert hw.tolist() == [nh, nw] and ori.tolist() == [h, w]
        assert sf.tolist() == pytest.approx([nw / w, nh / h])
        assert inputs.shape == (1, 3, -(-nh // 32) * 32, -(-nw // 32) * 32)
        assert torch.equal(inputs[0, :, :nh, :nw], ref)
        assert (inputs[0, :, nh:, :] == 0).all() and (inputs[0, :, :, nw:] == 0).all()


def test_resize_params_refuses_what_the_graph_cannot_do():
    assert resize_params([dict(type='LoadImageFromFile'), dict(type='PackDetInputs')]) is None
    with pytest.raises(ConfigError, match=r'pipeline\[1\]\.type = .RandomFlip'):
        resize_params([dict(type='LoadImageFromFile'), dict(type='RandomFlip', prob=0.5)])
    with pytest.raises(ConfigError, match='bilinear antialiased'):
        resize_params([dict(type='Resize', scale=(10, 10), interpolation='nearest')])


def _dets(boxes, scores, labels):
    return dict(boxes=torch.tensor(boxes, dtype=torch.float32),
                scores=torch.tensor(scores), labels=torch.tensor(labels))


def test_match_detections_by_hand():
    ref = _dets([[0, 0, 100, 100], [200, 200, 300, 300], [5, 5, 50, 50]], [0.9, 0.5, 0.04], [0, 1, 2])
    # the same, in another order, moved by 0.2 px (IoU 0.996) and 5e-4 in score
    same = _dets([[200, 200, 300, 300], [0.2, 0, 100.2, 100]], [0.5005, 0.9], [1, 0])
    r = match_detections(ref, same)
    assert r.ok and r.checked == 4  # the 0.04 detection is under the threshold
    # intersection 99.8 x 100, union 2 x 100 x 100 - 99.8 x 100
    assert r.min_iou == pytest.approx(9980 / 10020, abs=1e-6)
    assert r.max_score_diff == pytest.approx(5e-4, abs=1e-6)
    # a box moved by 2 px: IoU 0.96 < 0.99
    moved = _dets([[2, 0, 102, 100], [200, 200, 300, 300]], [0.9, 0.5], [0, 1])
    r = match_detections(ref, moved)
    assert not r.ok and len(r.problems) == 2  # missing on both sides
    assert 'best IoU 0.961' in r.problems[0]
    # another class, and a score off by 0.01
    assert not match_detections(ref, _dets([[0, 0, 100, 100], [200, 200, 300, 300]],
                                           [0.9, 0.5], [2, 1])).ok
    assert not match_detections(ref, _dets([[0, 0, 100, 100], [200, 200, 300, 300]],
                                           [0.9, 0.51], [0, 1])).ok
    # a detection within score_atol of the threshold may be missing on the other side
    near = _dets([[0, 0, 10, 10]], [0.0505], [0])
    assert match_detections(near, _dets([], [], [])).ok
    assert not match_detections(_dets([[0, 0, 10, 10]], [0.052], [0]), _dets([], [], [])).ok


def test_match_detections_at_the_cap():
    """Lists cut at max_per_img: detections within score_atol of the cut are not required."""
    ref = _dets([[0, 0, 10, 10], [20, 20, 30, 30]], [0.9, 0.3], [0, 0])
    cand = _dets([[0, 0, 10, 10], [40, 40, 50, 50]], [0.9, 0.3002], [0, 0])
    assert not match_detections(ref, cand).ok
    assert match_detections(ref, cand, max_per_img=2).ok
