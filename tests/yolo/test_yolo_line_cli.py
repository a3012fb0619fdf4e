"""The YOLOv2 and YOLOv3-SPP parts and recipes through the CLI: ``zoo describe`` shows the new
parts, and each new recipe trains two iterations through ``zoo train`` (tiny settings given as
``--cfg-options``: two images of 160 x 120, one per batch, one validation image; ``-m slow``)."""
import os

import pytest

from zoo.cli.main import main

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NEW_RECIPES = ['yolov2_bccd.py', 'yolov3_spp_bccd.py']


@pytest.mark.parametrize('name, kind, words', [
    ('YOLOV2Head', 'head', ['rescore', "YOLOv2's dense head"]),
    ('YOLOV2Neck', 'neck', ['passthrough_channels', 'in_strides']),
    ('Darknet', 'backbone', ['Darknet-19', "``19``, ``53`` or ``'tiny'``"]),
    ('YOLOV3Head', 'head', ['rescore']),
    ('YOLOV3Neck', 'neck', ['spp_kernel_sizes', 'YOLOv3-SPP']),
])
def test_zoo_describe_shows_the_new_parts(name, kind, words, capsys):
    assert main(['describe', name]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f'{name}  [{kind}]')
    for w in words:
        assert w in out


TINY = ['train_dataloader.batch_size=1', 'train_dataloader.num_workers=0',
        'train_dataloader.persistent_workers=False', 'train_dataloader.dataset.indices=2',
        'train_dataloader.dataset.pipeline.1.scale=(160,120)',
        'val_dataloader.num_workers=0', 'val_dataloader.persistent_workers=False',
        'val_dataloader.dataset.indices=1', 'val_dataloader.dataset.pipeline.1.scale=(160,120)',
        'train_cfg.max_epochs=1', 'default_hooks.logger.interval=1', 'randomness.seed=0']


@pytest.mark.slow  # about 15 s each; tests/yolo/test_yolo_recipes.py builds and trains them by default
@pytest.mark.parametrize('recipe', NEW_RECIPES)
def test_new_recipe_trains_two_iterations_through_zoo_train(recipe, tmp_path, capsys):
    work = tmp_path / 'work'
    assert main(['train', os.path.join(ROOT, 'configs/yolo', recipe), '--work-dir', str(work),
                 '--cfg-options', *TINY]) == 0
    assert 'training finished' in capsys.readouterr().out
    assert (work / 'epoch_1.pth').is_file()
    logs = ''.join(open(p).read() for p in work.glob('*/*.log'))
    assert 'Epoch(train) [1][2/2]' in logs and 'Epoch(train) [1][3/' not in logs
    assert 'loss_conf' in logs and 'loss_bbox' in logs and 'coco/bbox_mAP_50' in logs
