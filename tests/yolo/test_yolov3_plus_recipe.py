"""configs/yolo/yolov3_plus_bccd.py: YOLOv3 with Mosaic, multi-scale training, the IoU-valued
objectness and CIoU. ``zoo describe`` shows the two new transforms; the recipe holds what its
name promises; it trains two iterations through ``zoo train`` (tiny sizes given as
``--cfg-options``) with a mosaic made for every image and every batch resized to a multiple of 32
drawn from the range."""
import os

from mmengine.config import Config

import registry
from zoo.cli.main import main
from zoo.detectors.builder import build_detector
from zoo.transforms import BatchSyncRandomResize, Mosaic, RandomAffine

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RECIPE = os.path.join(ROOT, 'configs/yolo/yolov3_plus_bccd.py')


def test_zoo_describe_shows_mosaic_and_batch_sync_random_resize(capsys):
    assert main(['describe', 'Mosaic']) == 0
    out = capsys.readouterr().out
    assert out.startswith('Mosaic  [transform]')
    for word in ('img_scale', 'center_ratio_range', 'pad_val', 'min_bbox_size', 'YOLOv4'):
        assert word in out
    assert main(['describe', 'BatchSyncRandomResize']) == 0
    out = capsys.readouterr().out
    assert out.startswith('BatchSyncRandomResize  [transform]')
    for word in ('random_size_range', 'interval', 'size_divisor', 'Multi-Scale Training'):
        assert word in out


def test_the_recipe_holds_its_parts():
    registry.discover()
    cfg = Config.fromfile(RECIPE)
    registry.validate_types(cfg.to_dict())
    model = build_detector(cfg.model)
    aug, = model.data_preprocessor.batch_augments
    assert isinstance(aug, BatchSyncRandomResize)
    assert (aug.random_size_range, aug.interval, aug.size_divisor) == ((320, 608), 10, 32)
    assert model.bbox_head.rescore is True
    assert type(model.bbox_head.loss_bbox).__name__ == 'CIoULoss'
    assert [t['type'] for t in cfg.train_dataloader.dataset.pipeline][:3] == [
        'LoadImageFromFile', 'Mosaic', 'RandomAffine']
    affine = cfg.train_dataloader.dataset.pipeline[2]
    assert affine['border'] == (-208, -208)  # the 832 x 832 canvas cropped back to 416 x 416
    assert cfg.val_dataloader.dataset.pipeline == cfg.test_pipeline  # tests at one scale


TINY = ['train_dataloader.batch_size=2', 'train_dataloader.num_workers=0',
        'train_dataloader.persistent_workers=False', 'train_dataloader.dataset.indices=4',
        'train_dataloader.dataset.pipeline.1.img_scale=(80,80)',
        'train_dataloader.dataset.pipeline.2.border=(-40,-40)',
        'model.data_preprocessor.batch_augments.0.random_size_range=(96,192)',
        'model.data_preprocessor.batch_augments.0.interval=1',
        'val_dataloader.num_workers=0', 'val_dataloader.persistent_workers=False',
        'val_dataloader.dataset.indices=1', 'val_dataloader.dataset.pipeline.1.scale=(160,120)',
        'train_cfg.max_epochs=1', 'default_hooks.logger.interval=1', 'randomness.seed=0']


def test_the_recipe_trains_two_iterations_with_mosaic_and_multi_scale(tmp_path, capsys,
                                                                      monkeypatch):
    mosaics, crops, sizes = [], [], []
    mosaic, resize, warp = Mosaic.mosaic, BatchSyncRandomResize.__call__, RandomAffine.warp

    def spy_mosaic(self, results, mix, center):
        out = mosaic(self, results, mix, center)
        mosaics.append(tuple(out['img'].shape))
        return out

    def spy_resize(self, inputs, data_samples=None):
        inputs, data_samples = resize(self, inputs, data_samples)
        sizes.append(tuple(inputs.shape[-2:]))
        return inputs, data_samples

    def spy_warp(self, results, scale, tx, ty):
        out = warp(self, results, scale, tx, ty)
        crops.append(tuple(out['img'].shape))
        return out

    monkeypatch.setattr(Mosaic, 'mosaic', spy_mosaic)
    monkeypatch.setattr(RandomAffine, 'warp', spy_warp)
    monkeypatch.setattr(BatchSyncRandomResize, '__call__', spy_resize)
    work = tmp_path / 'work'
    assert main(['train', RECIPE, '--work-dir', str(work), '--cfg-options', *TINY]) == 0
    assert 'training finished' in capsys.readouterr().out
    assert mosaics == [(3, 160, 160)] * 4                   # every training image, 2 x img_scale
    assert crops == [(3, 80, 80)] * 4                       # cropped back to img_scale
    assert len(sizes) == 2
    assert all(h == w and h % 32 == 0 and 96 <= h <= 192 for h, w in sizes)
    logs = ''.join(open(p).read() for p in work.glob('*/*.log'))
    assert 'Epoch(train) [1][2/2]' in logs and 'Epoch(train) [1][3/' not in logs
    assert 'loss_conf' in logs and 'loss_bbox' in logs and 'coco/bbox_mAP_50' in logs
