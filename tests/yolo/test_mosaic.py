"""Mosaic (YOLOv4, section 3.3): on hand-made images with hand-computed boxes, every box still
visible is kept, cut exactly to the visible part of its image, and moved; the others are dropped
with their labels. Then the dataset side: the pipeline draws three more samples and runs them
through the transforms before Mosaic.

The worked layout (``img_scale=(8, 8)``: a 16 x 16 canvas, centre (cx, cy) = (10, 6))::

    image  size (h, w)  ratio  placed (h, w)  top-left corner  visible part (x, y)
    A      8 x 8        1      8 x 8          (2, -2)          [2, 10) x [0, 6)
    B      4 x 16       0.5    2 x 8          (10, 4)          [10, 16) x [4, 6)
    C      16 x 16      0.5    8 x 8          (2, 6)           [2, 10) x [6, 14)
    D      8 x 8        1      8 x 8          (10, 6)          [10, 16) x [6, 14)
"""
import os

import pytest
import torch
from torchvision import tv_tensors
from torchvision.io import write_png

from registry import ConfigError, build
from zoo.datasets import BaseDetDataset, DatasetError, DatasetWarning
from zoo.transforms import Compose, Mosaic

CENTER = (10, 6)


def sample(img, boxes, labels, flags=None):
    h, w = img.shape[-2:]
    return dict(img=tv_tensors.Image(img),
                gt_bboxes=tv_tensors.BoundingBoxes(torch.tensor(boxes, dtype=torch.float32),
                                                   format='XYXY', canvas_size=(h, w)),
                gt_labels=torch.tensor(labels, dtype=torch.int64),
                gt_ignore_flags=torch.tensor(flags or [False] * len(labels)),
                img_path=f'{labels[0]}.png', img_id=labels[0], ori_shape=(h, w), img_shape=(h, w),
                scale_factor=(1.0, 1.0), flip=False, flip_direction=None, instances=[])


def gradient(h, w, base):
    """A (3, h, w) uint8 image whose pixel (y, x) is base + 10 y + x: crops can be located."""
    ys, xs = torch.meshgrid(torch.arange(h), torch.arange(w), indexing='ij')
    return (base + 10 * ys + xs).to(torch.uint8).expand(3, h, w).clone()


def four_samples():
    a = sample(gradient(8, 8, 0),
               [[0, 0, 4, 4],     # -> (2, -2, 6, 2): cut at the top to (2, 0, 6, 2)
                [0, 0, 1, 1],     # -> (2, -2, 3, -1): above the canvas, dropped
                [4, 4, 8, 8]],    # -> (6, 2, 10, 6): fully visible
               [0, 1, 2], [False, False, True])
    b = sample(torch.full((3, 4, 16), 200, dtype=torch.uint8),
               [[0, 0, 16, 4],    # x0.5 -> (0, 0, 8, 2) -> (10, 4, 18, 6): cut to (10, 4, 16, 6)
                [12, 0, 16, 4],   # -> (6, 0, 8, 2) -> (16, 4, 18, 6): right of the canvas, dropped
                [8, 0, 12, 4]],   # -> (4, 0, 6, 2) -> (14, 4, 16, 6): fully visible
               [10, 11, 12])
    c = sample(torch.full((3, 16, 16), 50, dtype=torch.uint8),
               [[0, 0, 16, 16],   # x0.5 -> (0, 0, 8, 8) -> (2, 6, 10, 14)
                [2, 2, 3, 3]],    # -> (1, 1, 1.5, 1.5) -> (3, 7, 3.5, 7.5): 0.5 px, below min size 1
               [20, 21])
    d = sample(gradient(8, 8, 100),
               [[5, 1, 8, 3],     # -> (15, 7, 18, 9): cut to (15, 7, 16, 9), 1 px wide: kept
                [6, 6, 8, 8]],    # -> (16, 12, 18, 14): right of the canvas, dropped
               [30, 31])
    return a, [b, c, d]


EXPECTED = {0: [2, 0, 6, 2], 2: [6, 2, 10, 6], 10: [10, 4, 16, 6], 12: [14, 4, 16, 6],
            20: [2, 6, 10, 14], 30: [15, 7, 16, 9]}


def test_boxes_are_cut_to_the_visible_part_moved_and_the_invisible_dropped():
    results, mix = four_samples()
    out = Mosaic(img_scale=(8, 8)).mosaic(results, mix, CENTER)
    assert out['gt_labels'].tolist() == [0, 2, 10, 12, 20, 30]
    expected = torch.tensor([EXPECTED[k] for k in out['gt_labels'].tolist()], dtype=torch.float32)
    torch.testing.assert_close(out['gt_bboxes'].as_subclass(torch.Tensor), expected, rtol=0, atol=0)
    assert out['gt_ignore_flags'].tolist() == [False, True, False, False, False, False]
    assert isinstance(out['gt_bboxes'], tv_tensors.BoundingBoxes)
    assert tuple(out['gt_bboxes'].canvas_size) == (16, 16)
    assert out['img_shape'] == out['ori_shape'] == (16, 16) and out['scale_factor'] == (1.0, 1.0)
    assert [i['bbox'] for i in out['instances']] == expected.tolist()
    assert [i['bbox_label'] for i in out['instances']] == [0, 2, 10, 12, 20, 30]


def test_min_bbox_size_zero_keeps_every_visible_sliver_and_still_drops_the_empty():
    results, mix = four_samples()
    out = Mosaic(img_scale=(8, 8), min_bbox_size=0).mosaic(results, mix, CENTER)
    assert out['gt_labels'].tolist() == [0, 2, 10, 12, 20, 21, 30]
    assert out['gt_bboxes'][5].tolist() == [3.0, 7.0, 3.5, 7.5]
    out = Mosaic(img_scale=(8, 8), min_bbox_size=2).mosaic(*four_samples(), CENTER)
    assert out['gt_labels'].tolist() == [0, 2, 10, 12, 20]  # (15, 7, 16, 9) is 1 px wide


def test_the_pixels_of_each_tile_are_where_its_boxes_went():
    results, mix = four_samples()
    img = Mosaic(img_scale=(8, 8), pad_val=114).mosaic(results, mix, CENTER)['img']
    assert img.shape == (3, 16, 16) and img.dtype == torch.uint8
    a, d = gradient(8, 8, 0), gradient(8, 8, 100)
    assert torch.equal(img[:, 0:6, 2:10], a[:, 2:8, 0:8])      # A's bottom six rows
    assert (img[:, 4:6, 10:16] == 200).all()                    # B, 2 x 8, cut at x = 16
    assert (img[:, 6:14, 2:10] == 50).all()                     # C, 8 x 8
    assert torch.equal(img[:, 6:14, 10:16], d[:, 0:8, 0:6])     # D's left six columns
    assert (img[:, 0:4, 10:16] == 114).all() and (img[:, 14:, :] == 114).all()
    assert (img[:, :, 0:2] == 114).all()


def test_call_draws_the_centre_in_range_and_needs_the_three_other_samples():
    torch.manual_seed(0)
    m = Mosaic(img_scale=(8, 8), center_ratio_range=(0.5, 1.5))
    centres = [m.draw_center() for _ in range(200)]
    assert all(4 <= cx <= 12 and 4 <= cy <= 12 for cx, cy in centres)
    assert len(set(centres)) > 20
    fixed = Mosaic(img_scale=(8, 8), center_ratio_range=(1.25, 1.25))
    assert fixed.draw_center() == (10, 10)
    with pytest.raises(ValueError, match='mix_results'):
        m(four_samples()[0])
    with pytest.raises(ValueError, match='proposals'):
        results, mix = four_samples()
        mix[1]['proposals'] = results['gt_bboxes']
        m.mosaic(results, mix, CENTER)


@pytest.mark.parametrize('args', [dict(img_scale=(0, 8)), dict(img_scale=8),
                                  dict(center_ratio_range=(0.5, 2.5)), dict(prob=1.5),
                                  dict(pad_val=300), dict(min_bbox_size=-1)])
def test_bad_arguments_are_config_errors_naming_the_key(args):
    with pytest.raises(ConfigError, match=r'pipeline\.1 \(Mosaic\): Mosaic: `' + next(iter(args))):
        build('transform', dict(type='Mosaic', **args), key='pipeline.1')


class SquaresDataset(BaseDetDataset):
    """Four 8 x 8 PNG images, image i of grey level 40 (i + 1) with one box (1, 1, 7, 7) of
    label i."""

    def __init__(self, root, **kwargs):
        self.root = root
        super().__init__(classes=('a', 'b', 'c', 'd'), **kwargs)

    def load_data_list(self):
        records = []
        for i in range(4):
            path = os.path.join(self.root, f'{i}.png')
            write_png(torch.full((3, 8, 8), 40 * (i + 1), dtype=torch.uint8), path)
            records.append(dict(img_id=i, img_path=path, ann_path=path, width=8, height=8,
                                instances=[dict(bbox=[1, 1, 7, 7], bbox_label=i,
                                                ignore_flag=0)]))
        return records


def test_a_dataset_pipeline_draws_three_samples_through_the_transforms_before_mosaic(tmp_path):
    pipeline = [dict(type='LoadImageFromFile'),
                dict(type='Mosaic', img_scale=(8, 8), center_ratio_range=(1.0, 1.0)),
                dict(type='PackDetInputs')]
    ds = SquaresDataset(str(tmp_path), pipeline=pipeline)
    torch.manual_seed(0)
    drawn = []
    for _ in range(5):
        out = ds[2]
        img, gt = out['inputs'], out['data_samples'].gt_instances
        assert img.shape == (3, 16, 16)
        # centre (8, 8): every image fills its quadrant, every box is whole and moved
        assert gt.labels[0] == 2 and len(gt.labels) == 4
        for (qx, qy), label, box in zip([(0, 0), (8, 0), (0, 8), (8, 8)], gt.labels.tolist(),
                                        gt.bboxes.tolist()):
            assert box == [qx + 1, qy + 1, qx + 7, qy + 7]
            assert (img[:, qy:qy + 8, qx:qx + 8] == 40 * (label + 1)).all()
        drawn.append(tuple(gt.labels[1:].tolist()))
    assert len(set(drawn)) > 1  # other samples each time


def test_prob_zero_loads_nothing_more_and_leaves_the_sample_alone(tmp_path):
    ds = SquaresDataset(str(tmp_path), pipeline=[
        dict(type='LoadImageFromFile'), dict(type='Mosaic', img_scale=(8, 8), prob=0.0),
        dict(type='PackDetInputs')])
    out = ds[1]
    assert out['inputs'].shape == (3, 8, 8)
    assert out['data_samples'].gt_instances.bboxes.tolist() == [[1, 1, 7, 7]]


def test_mosaic_outside_a_dataset_pipeline_is_a_config_error():
    pipeline = Compose([dict(type='Mosaic')])
    assert isinstance(build('transform', dict(type='Mosaic')), Mosaic)
    with pytest.raises(ConfigError, match="dataset's pipeline"):
        pipeline(four_samples()[0])


def test_an_unreadable_image_drawn_for_a_mosaic_is_skipped_or_named(tmp_path):
    pipeline = [dict(type='LoadImageFromFile'),
                dict(type='Mosaic', img_scale=(8, 8), center_ratio_range=(1.0, 1.0)),
                dict(type='PackDetInputs')]
    os.makedirs(tmp_path / 'a')
    strict = SquaresDataset(str(tmp_path / 'a'), pipeline=pipeline)
    os.remove(tmp_path / 'a' / '3.png')
    strict.pipeline.transforms[1].get_indexes = lambda dataset: [3, 3, 3]
    with pytest.raises(DatasetError, match='3.png'):
        strict[0]
    os.makedirs(tmp_path / 'b')
    lenient = SquaresDataset(str(tmp_path / 'b'), pipeline=pipeline, skip_bad_samples=True)
    os.remove(tmp_path / 'b' / '3.png')
    lenient.pipeline.transforms[1].get_indexes = lambda dataset: [3, 3, 3]
    with pytest.warns(DatasetWarning, match='skipping sample 3'):
        out = lenient[1]
    # sample 3 is recorded as bad, and sample 0 (the next one) mixed in instead, three times
    assert out['data_samples'].gt_instances.labels.tolist() == [1, 0, 0, 0]
    assert [b.index for b in lenient.bad_samples] == [3]
