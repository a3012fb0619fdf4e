"""A config outside the repository inherits a shipped recipe through ``zoo::``, builds, trains two
iterations on BCCD, and ``zoo test`` keeps its logs in the work dir it is given."""
from __future__ import annotations

import os

import pytest

from registry import ConfigError
from zoo.cli.main import main
from zoo.config import load_config

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# two images a batch, four images: two iterations; one small image to validate and test on
TINY = ['train_dataloader.dataset.indices=[0,1,2,3]', 'train_dataloader.num_workers=0',
        'train_dataloader.persistent_workers=False',
        'train_dataloader.dataset.pipeline.1.scale=(160,120)', 'train_cfg.max_epochs=1',
        'val_dataloader.dataset.indices=[0]', 'val_dataloader.num_workers=0',
        'val_dataloader.persistent_workers=False',
        'val_dataloader.dataset.pipeline.1.scale=(160,120)', 'default_hooks.logger.interval=1']
TEST = ['test_dataloader.dataset.indices=[0]', 'test_dataloader.num_workers=0',
        'test_dataloader.persistent_workers=False',
        'test_dataloader.dataset.pipeline.1.scale=(160,120)']


@pytest.fixture
def elsewhere(tmp_path, monkeypatch):
    """A folder outside the repository, as the working directory, with a config inheriting the
    ZF recipe through ``zoo::``."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / 'my_zf.py').write_text("_base_ = 'zoo::faster_rcnn/faster_rcnn_zf_bccd.py'\n"
                                       'model = dict(roi_head=dict(bbox_head=dict('
                                       'fc_out_channels=256)))\n')
    return tmp_path


def test_zoo_prefix_reaches_the_shipped_recipe_and_its_data(elsewhere):
    cfg = load_config('my_zf.py')
    assert cfg.model.backbone.type == 'ZFNet'
    assert cfg.model.roi_head.bbox_head.fc_out_channels == 256  # the child's own setting
    data_root = cfg.train_dataloader.dataset.data_root
    assert os.path.samefile(data_root, os.path.join(ROOT, 'data', 'BCCD'))
    shipped = load_config('zoo::faster_rcnn/faster_rcnn_zf_bccd.py')  # as a command's argument
    assert shipped.model.roi_head.bbox_head.fc_out_channels == 1024
    with pytest.raises(ConfigError, match=r"zoo::faster_rcnn/no_such\.py: no such shipped config"):
        load_config('zoo::faster_rcnn/no_such.py')


def test_a_config_inheriting_a_shipped_recipe_builds_and_trains_from_anywhere(elsewhere, capsys):
    assert main(['config', 'my_zf.py', '--build']) == 0
    assert 'assembly checks passed' in capsys.readouterr().out
    work = elsewhere / 'run'
    assert main(['train', 'my_zf.py', '--work-dir', str(work), '--cfg-options', *TINY]) == 0
    logs = list(work.glob('*/*.log'))
    assert len(logs) == 1
    text = logs[0].read_text()
    assert 'Epoch(train) [1][2/2]' in text and 'Epoch(train) [1][3/' not in text
    assert (work / 'epoch_1.pth').is_file()

    assert main(['test', 'my_zf.py', str(work), '--cfg-options', *TEST]) == 0
    assert len(list(work.glob('*/*.log'))) == 2  # the test's log is in the work dir given
    assert not (elsewhere / 'work_dirs').exists()
