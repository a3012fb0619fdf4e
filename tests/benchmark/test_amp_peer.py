"""torchvision's Faster R-CNN under the zoo's float32 regions (zoo.benchmark.reference.
float32_regions), the peer of ``benchmarks/vs_torchvision.py --amp``: in float32 nothing
changes bit for bit; under CPU bfloat16 autocast it runs, with float32 anchors, RoIAlign,
decoding and NMS, and agrees with its float32 self within the stated tolerance."""
import os

import pytest
import torch
from torchvision.io import decode_image, read_file

from zoo.benchmark.agreement import match_detections
from zoo.benchmark.reference import float32_regions, reference_torchvision_model

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
IMAGE = os.path.join(ROOT, 'data', 'BCCD', 'JPEGImages', 'BloodImage_00007.jpg')
BF16 = dict(device_type='cpu', dtype=torch.bfloat16)


@pytest.fixture(scope='module')
def peer():
    img = decode_image(read_file(IMAGE))
    tv = reference_torchvision_model(img, min_size=160, max_size=300, size_divisible=64)
    tv.rpn._pre_nms_top_n['testing'] = tv.rpn._post_nms_top_n['testing'] = 300  # a quicker test
    x = img.float() / 255
    with torch.no_grad():
        before = tv([x])[0]
    return tv, x, before


def test_float32_outputs_unchanged_bit_for_bit(peer):
    tv, x, before = peer
    assert float32_regions(tv) is tv and float32_regions(tv) is tv  # wraps once
    with torch.no_grad():
        after = tv([x])[0]
    assert before['boxes'].shape[0] > 20
    for key in ('boxes', 'scores', 'labels'):
        assert torch.equal(before[key], after[key])


def test_bfloat16_autocast_runs_in_float32_where_the_zoo_does(peer):
    tv, x, before = peer
    float32_regions(tv)
    seen = {}
    tv.roi_heads.box_head.register_forward_hook(
        lambda m, args, out: seen.update(pooled=args[0].dtype, head=out.dtype))
    with torch.no_grad(), torch.autocast(**BF16):
        low = tv([x])[0]
    # RoIAlign ran in float32, the box head's layers in bfloat16, the detections in float32
    assert seen == dict(pooled=torch.float32, head=torch.bfloat16)
    assert low['boxes'].dtype == torch.float32 and low['scores'].dtype == torch.float32
    # the anchors stay float32 (torchvision would cache them in the feature maps' dtype)
    assert all(a.dtype == torch.float32 for a in tv.rpn.anchor_generator.cell_anchors)
    m = match_detections([before], [low])
    assert m.reference > 20 and m.candidate > 20
    # bfloat16 moves scores (about 1e-2 relative) and boxes: random weights give many
    # detections of near-equal scores, which then trade places (0.6 here at IoU 0.9)
    assert m.share > 0.45, m
