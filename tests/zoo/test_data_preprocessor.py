"""DetDataPreprocessor: normalize + pad equals torchvision's GeneralizedRCNNTransform."""
from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import torch
from mmengine.dataset import pseudo_collate
from torchvision.models.detection.transform import GeneralizedRCNNTransform

from registry import TRANSFORMS, ConfigError, build
from zoo.datasets import DatasetWarning, VOCDataset
from zoo.transforms import DetDataPreprocessor

BCCD = Path(__file__).resolve().parents[2] / 'data' / 'BCCD'
TV_MEAN, TV_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


@pytest.fixture(scope='module')
def batch():
    """Two BCCD images resized to different sizes, packed and collated as mmengine does."""
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', DatasetWarning)
        ds = VOCDataset(str(BCCD), classes=('RBC', 'WBC', 'Platelets'), split='val', indices=2)
    items = []
    for i, factor in ((0, 0.5), (1, (0.37, 0.41))):
        ds.pipeline = build('transform', dict(type='Compose', transforms=[
            dict(type='LoadImageFromFile'), dict(type='Resize', scale_factor=factor),
            dict(type='PackDetInputs')]))
        items.append(ds[i])
    return pseudo_collate(items)


def test_equals_torchvision_normalize_and_batch_images(batch):
    pre = DetDataPreprocessor(mean=[255 * m for m in TV_MEAN], std=[255 * s for s in TV_STD],
                              pad_size_divisor=32)
    out = pre(batch)
    tv = GeneralizedRCNNTransform(min_size=600, max_size=1000, image_mean=TV_MEAN,
                                  image_std=TV_STD)
    ref = tv.batch_images([tv.normalize(img.float() / 255) for img in batch['inputs']],
                          size_divisible=32)
    assert [tuple(i.shape) for i in batch['inputs']] == [(3, 240, 320), (3, 197, 237)]
    assert out['inputs'].shape == ref.shape == (2, 3, 256, 320)
    assert out['inputs'].dtype == torch.float32
    torch.testing.assert_close(out['inputs'], ref, rtol=0, atol=1e-5)
    assert torch.all(out['inputs'][1, :, 197:, :] == 0)  # padding is exactly zero
    assert torch.all(out['inputs'][1, :, :, 237:] == 0)


def test_metainfo_and_defaults(batch):
    pre = DetDataPreprocessor()  # mmdet's ImageNet mean/std on the 0..255 scale
    out = pre(batch)
    samples = out['data_samples']
    assert [s.batch_input_shape for s in samples] == [(256, 320), (256, 320)]
    assert [s.pad_shape for s in samples] == [(256, 320), (224, 256)]  # per image, mmdet's meaning
    img = batch['inputs'][0].float()
    mean = torch.tensor([123.675, 116.28, 103.53]).view(3, 1, 1)
    std = torch.tensor([58.395, 57.12, 57.375]).view(3, 1, 1)
    torch.testing.assert_close(out['inputs'][0, :, :240, :320], (img - mean) / std)
    assert samples[0].gt_instances.bboxes.device == out['inputs'].device


def test_stacked_input_pad_value_and_registry():
    pre = build('transform', dict(type='DetDataPreprocessor', mean=None, std=None,
                                  pad_size_divisor=8, pad_value=-1.0))
    assert TRANSFORMS.get('DetDataPreprocessor') is DetDataPreprocessor
    x = torch.randint(0, 256, (2, 3, 10, 12), dtype=torch.uint8)
    out = pre(dict(inputs=x))
    assert out['inputs'].shape == (2, 3, 16, 16) and out['data_samples'] is None
    torch.testing.assert_close(out['inputs'][:, :, :10, :12], x.float())
    assert torch.all(out['inputs'][:, :, 10:, :] == -1)
    assert torch.all(out['inputs'][:, :, :, 12:] == -1)


def test_bad_input():
    pre = DetDataPreprocessor()
    with pytest.raises(ValueError, match=r'inputs\[1\] must be a \(3, H, W\) tensor'):
        pre(dict(inputs=[torch.zeros(3, 4, 4, dtype=torch.uint8), torch.zeros(4, 4)]))
    with pytest.raises(ValueError, match='2 images but 1 data samples'):
        pre(dict(inputs=[torch.zeros(3, 4, 4)] * 2, data_samples=[None]))
    with pytest.raises(ConfigError, match='zero'):
        DetDataPreprocessor(std=(1, 0, 1))
    with pytest.raises(ConfigError, match='both'):
        DetDataPreprocessor(mean=None)


@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs CUDA')
def test_moves_batch_to_cuda(batch):
    pre = DetDataPreprocessor().cuda()
    out = pre(batch)
    assert out['inputs'].is_cuda and out['data_samples'][0].gt_instances.bboxes.is_cuda
    torch.testing.assert_close(out['inputs'].cpu(), DetDataPreprocessor()(batch)['inputs'])
