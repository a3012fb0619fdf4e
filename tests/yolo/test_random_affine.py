"""RandomAffine (scale and translate into an output of a chosen size; the crop after Mosaic), on a
hand-made image: a 40 x 60 (h x w) black image with a white rectangle x in [10, 20), y in [8, 16),
whose box is (10, 8, 20, 16). With ``border=(-15, -10)`` the output is 20 x 30 (h x w)."""
import pytest
import torch
from torchvision import tv_tensors

from registry import ConfigError, build
from zoo.transforms import RandomAffine


def sample(boxes, labels):
    img = torch.zeros((3, 40, 60), dtype=torch.uint8)
    img[:, 8:16, 10:20] = 255
    return dict(img=tv_tensors.Image(img),
                gt_bboxes=tv_tensors.BoundingBoxes(torch.tensor(boxes, dtype=torch.float32),
                                                   format='XYXY', canvas_size=(40, 60)),
                gt_labels=torch.tensor(labels), gt_ignore_flags=torch.tensor([False] * len(labels)),
                img_shape=(40, 60), ori_shape=(40, 60), scale_factor=(1.0, 1.0), flip=False)


def test_scale_one_crops_the_centre_and_keeps_what_is_visible_enough():
    t = RandomAffine(border=(-15, -10))
    # the input's centre (30, 20) goes to the output's centre (15, 10): offset (-15, -10)
    out = t.warp(sample([[10, 8, 20, 16],    # -> (-5, -2, 5, 6), clipped (0, 0, 5, 6): 30/80 visible
                         [40, 30, 44, 34],   # -> (25, 20, 29, 24): clipped to zero height, dropped
                         [5, 5, 16, 12],     # -> (-10, -5, 1, 2), clipped (0, 0, 1, 2): 1 px wide, dropped
                         [0, 0, 28, 12],     # -> clipped (0, 0, 13, 2): 26/336 < 0.1 visible, dropped
                         [30, 20, 40, 26]],  # -> (15, 10, 25, 16), inside
                        [0, 1, 2, 3, 4]), 1.0, 15.0, 10.0)
    assert out['img'].shape == (3, 20, 30) and out['img_shape'] == (20, 30)
    assert out['gt_bboxes'].tolist() == [[0, 0, 5, 6], [15, 10, 25, 16]]
    assert out['gt_bboxes'].canvas_size == (20, 30)
    assert out['gt_labels'].tolist() == [0, 4] and out['gt_ignore_flags'].tolist() == [False, False]
    assert [i['bbox'] for i in out['instances']] == [[0, 0, 5, 6], [15, 10, 25, 16]]
    # the pixels moved with the box: output (y, x) is input (y + 10, x + 15)
    white = (out['img'][0] == 255).nonzero()
    assert white[:, 0].min() == 0 and white[:, 0].max() == 5   # y in [0, 6)
    assert white[:, 1].min() == 0 and white[:, 1].max() == 4   # x in [0, 5)
    assert int((out['img'][0] == 255).sum()) == 30


def test_scale_half_shrinks_about_the_centre_and_pads_the_rest():
    t = RandomAffine(border=(-15, -10), pad_val=114)
    # resized to 20 x 30, pasted at (round(20 - 15), round(10 - 10)) = (5, 0)
    out = t.warp(sample([[10, 8, 20, 16]], [0]), 0.5, 20.0, 10.0)
    assert out['gt_bboxes'].tolist() == [[10, 4, 15, 8]]
    img = out['img'][0]
    assert (img[:, :5] == 114).all()                  # left of the pasted image: the fill
    assert (img[5:7, 11:14] == 255).all()             # inside the box: white
    assert (img[:, 5:][img[:, 5:] == 114].numel()) == 0  # the pasted part holds no fill


def test_draw_stays_in_range_and_follows_the_torch_seed():
    t = RandomAffine(scaling_ratio_range=(0.5, 1.5), max_translate_ratio=0.1, border=(-15, -10))
    torch.manual_seed(0)
    draws = [t.draw(40, 60) for _ in range(200)]
    for s, tx, ty in draws:
        assert 0.5 <= s <= 1.5 and 0.4 * 30 <= tx <= 0.6 * 30 and 0.4 * 20 <= ty <= 0.6 * 20
    torch.manual_seed(0)
    assert t.draw(40, 60) == draws[0]
    out = t(sample([[10, 8, 20, 16]], [0]))
    assert out['img'].shape == (3, 20, 30)


@pytest.mark.parametrize('args', [dict(scaling_ratio_range=(0, 1)), dict(max_translate_ratio=0.7),
                                  dict(border=(1.5, 0)), dict(pad_val=-1), dict(min_area_ratio=1),
                                  dict(max_aspect_ratio=1)])
def test_bad_arguments_are_config_errors_naming_the_key(args):
    with pytest.raises(ConfigError, match=r'pipeline\.2 \(RandomAffine\): RandomAffine: `'
                       + next(iter(args))):
        build('transform', dict(type='RandomAffine', **args), key='pipeline.2')


def test_a_border_that_leaves_nothing_is_named():
    with pytest.raises(ValueError, match=r'border \(-30, -10\) leaves no output for an image of 60 x 40'):
        RandomAffine(border=(-30, -10)).warp(sample([[10, 8, 20, 16]], [0]), 1.0, 0.0, 0.0)
