"""Transforms on the results dict: loading, resize, flip, photometric distortion, sanitizing,
packing, and the pipeline builder."""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision import tv_tensors

from registry import ConfigError, UnknownPartError
from zoo.datasets import DatasetWarning, VOCDataset
from zoo.structures import DetDataSample
from zoo.transforms import (Compose, LoadImageFromFile, PackDetInputs, PhotoMetricDistortion,
                            RandomFlip, Resize, SanitizeBoxes, rescale_size)

BCCD = Path(__file__).resolve().parents[2] / 'data' / 'BCCD'
CLASSES = ('RBC', 'WBC', 'Platelets')


@pytest.fixture(scope='module')
def dataset():
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', DatasetWarning)
        return VOCDataset(str(BCCD), classes=CLASSES, split='val', indices=3)


@pytest.fixture
def loaded(dataset):
    """The results dict of the first val image, image loaded."""
    return LoadImageFromFile()(dataset.prepare_results(0))


def test_load_image(loaded):
    img = loaded['img']
    assert isinstance(img, tv_tensors.Image)
    assert img.dtype == torch.uint8 and img.shape == (3, 480, 640)
    assert loaded['img_shape'] == loaded['ori_shape'] == (480, 640)
    # RGB channel order and the same pixels as PIL's decoder, up to libjpeg's rounding
    pil = np.array(Image.open(loaded['img_path']).convert('RGB'))
    ref = torch.from_numpy(pil).permute(2, 0, 1)
    assert (img.as_subclass(torch.Tensor).float() - ref.float()).abs().mean() < 1.0


def test_rescale_size_rule():
    assert rescale_size((480, 640), (1000, 600)) == (600, 800)  # short side -> 600
    assert rescale_size((480, 640), (600, 1000)) == (600, 800)  # order of scale is free
    assert rescale_size((200, 800), (1000, 600)) == (250, 1000)  # long side capped at 1000
    assert rescale_size((333, 500), (1000, 600)) == (600, 901)  # 500 * 600/333 = 900.9 -> 901


def test_resize_bccd_to_800x600(loaded):
    boxes_before = loaded['gt_bboxes'].clone()
    out = Resize(scale=(1000, 600), keep_ratio=True)(loaded)
    assert out['img'].shape == (3, 600, 800) and out['img'].dtype == torch.uint8
    assert out['img_shape'] == (600, 800) and out['ori_shape'] == (480, 640)
    assert out['scale_factor'] == (1.25, 1.25)
    assert isinstance(out['gt_bboxes'], tv_tensors.BoundingBoxes)
    assert tuple(out['gt_bboxes'].canvas_size) == (600, 800)
    torch.testing.assert_close(out['gt_bboxes'].as_subclass(torch.Tensor),
                               boxes_before.as_subclass(torch.Tensor) * 1.25)
    # the metrics' ground truth stays in original pixels
    assert [i['bbox'] for i in out['instances']] == boxes_before.tolist()


def test_resize_by_factor_and_exact(loaded):
    out = Resize(scale_factor=0.5)(dict(loaded))
    assert out['img_shape'] == (240, 320) and out['scale_factor'] == (0.5, 0.5)
    out = Resize(scale=(320, 100), keep_ratio=False)(out)  # (w, h)
    assert out['img'].shape == (3, 100, 320)
    assert out['scale_factor'] == (0.5, 100 / 480)  # always relative to ori_shape
    box0 = torch.tensor(out['instances'][0]['bbox'])
    torch.testing.assert_close(out['gt_bboxes'][0].as_subclass(torch.Tensor),
                               box0 * torch.tensor([0.5, 100 / 480, 0.5, 100 / 480]))
    with pytest.raises(ConfigError, match='exactly one'):
        Resize(scale=(1000, 600), scale_factor=2.0)
    with pytest.raises(ConfigError, match='scale_factor'):
        Resize(scale=None, scale_factor=-1)


def test_flip_maps_x1_to_w_minus_x2(loaded):
    before = loaded['gt_bboxes'].as_subclass(torch.Tensor).clone()
    img_before = loaded['img'].clone()
    out = RandomFlip(prob=1.0)(loaded)
    after = out['gt_bboxes'].as_subclass(torch.Tensor)
    w = 640
    torch.testing.assert_close(after[:, 0], w - before[:, 2])
    torch.testing.assert_close(after[:, 2], w - before[:, 0])
    torch.testing.assert_close(after[:, 1::2], before[:, 1::2])
    assert torch.equal(out['img'], img_before.flip(-1))
    assert out['flip'] is True and out['flip_direction'] == 'horizontal'
    out = RandomFlip(prob=0.0)(out)
    assert out['flip'] is False and out['flip_direction'] is None
    with pytest.raises(ConfigError, match='prob'):
        RandomFlip(prob=1.5)


def test_flip_probability_is_seeded(dataset):
    flip = RandomFlip(prob=0.5)
    torch.manual_seed(0)
    first = [flip(dataset.prepare_results(0) | {'img': torch.zeros(3, 4, 4)})['flip']
             for _ in range(200)]
    torch.manual_seed(0)
    again = [flip(dataset.prepare_results(0) | {'img': torch.zeros(3, 4, 4)})['flip']
             for _ in range(200)]
    assert first == again and 70 < sum(first) < 130


def test_photometric_distortion(loaded):
    boxes = loaded['gt_bboxes'].clone()
    original = loaded['img'].clone()
    torch.manual_seed(1)
    out = PhotoMetricDistortion(prob=1.0)(loaded)
    assert out['img'].dtype == torch.uint8 and out['img'].shape == original.shape
    assert not torch.equal(out['img'], original)
    assert torch.equal(out['gt_bboxes'], boxes)
    same = PhotoMetricDistortion(prob=0.0)(dict(loaded, img=original.clone()))
    assert torch.equal(same['img'], original)
    with pytest.raises(ConfigError, match='hue'):
        PhotoMetricDistortion(hue=0.7)


def test_sanitize_keeps_labels_and_flags_aligned():
    boxes = tv_tensors.BoundingBoxes(torch.tensor([[0., 0., 10., 10.], [5., 5., 5.5, 20.],
                                                   [20., 20., 40., 30.], [30., 0., 50., 10.]]),
                                     format='XYXY', canvas_size=(40, 45))
    results = dict(gt_bboxes=boxes, gt_labels=torch.tensor([0, 1, 2, 1]),
                   gt_ignore_flags=torch.tensor([False, False, True, False]),
                   instances=[{'bbox': [0, 0, 1, 1]}])
    out = SanitizeBoxes(min_size=1)(results)
    # box 1 is 0.5 px wide; box 3 reaches x = 50 > 45, outside the image
    assert out['gt_bboxes'].tolist() == [[0., 0., 10., 10.], [20., 20., 40., 30.]]
    assert out['gt_labels'].tolist() == [0, 2]
    assert out['gt_ignore_flags'].tolist() == [False, True]
    assert isinstance(out['gt_bboxes'], tv_tensors.BoundingBoxes)
    assert len(out['instances']) == 1
    with pytest.raises(ConfigError, match='min_size'):
        SanitizeBoxes(min_size=0.5)


def test_pack_det_inputs(dataset):
    pipeline = Compose([dict(type='LoadImageFromFile'), dict(type='Resize', scale=(1000, 600)),
                        dict(type='RandomFlip', prob=1.0), dict(type='SanitizeBoxes'),
                        dict(type='PackDetInputs')])
    results = dataset.prepare_results(1)
    n = len(results['instances'])
    out = pipeline(results)
    assert isinstance(pipeline.transforms[-1], PackDetInputs)
    assert set(out) == {'inputs', 'data_samples'}
    inputs, sample = out['inputs'], out['data_samples']
    assert type(inputs) is torch.Tensor and inputs.dtype == torch.uint8
    assert inputs.shape == (3, 600, 800)
    assert isinstance(sample, DetDataSample)
    gt = sample.gt_instances
    assert gt.bboxes.dtype == torch.float32 and gt.bboxes.shape == (n, 4)
    assert type(gt.bboxes) is torch.Tensor
    assert gt.labels.dtype == torch.int64 and gt.ignore_flags.dtype == torch.bool
    meta = sample.metainfo
    assert meta['img_id'] == dataset.data_list[1]['img_id']
    assert meta['img_path'].endswith(f"{meta['img_id']}.jpg")
    assert meta['ori_shape'] == (480, 640) and meta['img_shape'] == (600, 800)
    assert meta['scale_factor'] == (1.25, 1.25) and meta['flip'] is True
    assert meta['instances'] == dataset.data_list[1]['instances']
    # boxes in transformed pixels map back to the original ones
    x1, y1, x2, y2 = meta['instances'][0]['bbox']
    torch.testing.assert_close(gt.bboxes[0], torch.tensor([800 - 1.25 * x2, 1.25 * y1,
                                                           800 - 1.25 * x1, 1.25 * y2]))


def test_dataset_with_pipeline_and_pseudo_collate(dataset):
    from mmengine.dataset import pseudo_collate
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', DatasetWarning)
        ds = VOCDataset(str(BCCD), classes=CLASSES, split='val', indices=2, pipeline=[
            dict(type='LoadImageFromFile'), dict(type='Resize', scale_factor=0.25),
            dict(type='PackDetInputs')])
    batch = pseudo_collate([ds[0], ds[1]])
    assert isinstance(batch['inputs'], list) and len(batch['inputs']) == 2
    assert batch['inputs'][0].shape == (3, 120, 160)
    assert all(isinstance(s, DetDataSample) for s in batch['data_samples'])


def test_compose_errors_name_the_key_path():
    with pytest.raises(UnknownPartError, match=r'pipeline\.1\.type = .Rezise.*Resize'):
        Compose([dict(type='LoadImageFromFile'), dict(type='Rezise')])
    with pytest.raises(ConfigError, match=r'pipeline\.0 \(Resize\).*scael'):
        Compose([dict(type='Resize', scael=(1, 2))])
    with pytest.raises(ConfigError, match=r'pipeline\.0 must be a transform config'):
        Compose([42])
    assert Compose([lambda r: None, lambda r: 1 / 0])({}) is None  # None stops the pipeline
