"""``PipelineSwitchHook``: the training pipeline replaced for the last epochs (the mosaic turned off
at the end, YOLOX's and Ultralytics' ``close_mosaic``), checked on the tiny BCCD recipe by a
transform that writes its tag for every sample it sees, in the data-loader worker."""
import os
import subprocess
import sys

import pytest
from mmengine.registry import HOOKS

from registry import TRANSFORMS
from registry.errors import ConfigError
from zoo.cli.main import main
from zoo.runner import time_budget
from zoo.runner.pipeline_switch import PipelineSwitchHook

from conftest import write_tiny_config


@TRANSFORMS.register_module(force=True)
class WriteTagForTest:
    """Appends ``tag`` to the file ``path`` for every sample; the results pass unchanged."""

    def __init__(self, tag: str, path: str):
        self.tag, self.path = tag, path

    def __call__(self, results):
        with open(self.path, 'a') as f:
            f.write(self.tag + '\n')
        return results


def _pipeline(tag: str, path) -> str:
    return (f"[dict(type='LoadImageFromFile'), dict(type='WriteTagForTest', tag={tag!r}, "
            f"path={str(path)!r}), dict(type='Resize', scale=(160, 120)), "
            f"dict(type='PackDetInputs')]")


def _config(tmp_path, hook: str, workers: int = 1, epochs: int = 3) -> str:
    tags = tmp_path / 'tags.txt'
    # (this assignment replaces the tiny config's train_dataloader: the same file, no merge)
    extra = f'''
train_dataloader = dict(num_workers={workers}, persistent_workers={workers > 0},
                        dataset=dict(indices=2, pipeline={_pipeline('mosaic', tags)}))
custom_hooks = [dict(type='PipelineSwitchHook', {hook}, switch_pipeline={_pipeline('plain', tags)})]
'''
    return write_tiny_config(tmp_path, extra=extra, train_images=2, val_images=1, epochs=epochs)


def _tags(tmp_path) -> list:
    return (tmp_path / 'tags.txt').read_text().split()


@pytest.mark.parametrize('workers', [0, 1])
def test_last_epoch_trains_with_the_switched_pipeline(tmp_path, workers):
    # 3 epochs of 2 images, the last one switched: with a persistent worker, the worker holds
    # its own copy of the dataset and must be restarted for the switch to reach it
    cfg = _config(tmp_path, 'num_last_epochs=1', workers=workers)
    assert main(['train', cfg, '--work-dir', str(tmp_path / 'work')]) == 0
    assert _tags(tmp_path) == ['mosaic'] * 4 + ['plain'] * 2


def test_switch_epoch_names_a_fixed_epoch(tmp_path):
    cfg = _config(tmp_path, 'switch_epoch=1')
    assert main(['train', cfg, '--work-dir', str(tmp_path / 'work')]) == 0
    assert _tags(tmp_path) == ['mosaic'] * 2 + ['plain'] * 4


def test_last_epochs_follow_the_schedule_fitted_to_the_budget(tmp_path, monkeypatch):
    # the clock advances 10 s a reading: the fit after the first epoch (two readings) says
    # 20 s an epoch, so a 1.5 min budget holds 4 epochs instead of the configured 8; with
    # num_last_epochs=2 the switch comes before epoch 3 of the fitted 4, not before epoch 7
    readings = []

    def now():
        readings.append(len(readings) * 10.0)
        return readings[-1]
    monkeypatch.setattr(time_budget, '_now', now)
    cfg = _config(tmp_path, 'num_last_epochs=2', workers=0, epochs=8)
    assert main(['train', cfg, '--work-dir', str(tmp_path / 'work'), '--time-budget', '1.5',
                 '--fit-schedule']) == 0
    tags = _tags(tmp_path)
    assert len(tags) == 8  # 4 epochs of 2 images
    assert tags == ['mosaic'] * 4 + ['plain'] * 4


@pytest.mark.parametrize('kwargs, message', [
    (dict(), 'exactly one of num_last_epochs'),
    (dict(num_last_epochs=1, switch_epoch=2), 'exactly one of num_last_epochs'),
    (dict(num_last_epochs=-1), 'num_last_epochs must be an integer >= 0, got -1'),
    (dict(switch_epoch=1.5), 'switch_epoch must be an integer >= 0, got 1.5'),
])
def test_bad_arguments_are_config_errors(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        PipelineSwitchHook(switch_pipeline=[dict(type='LoadImageFromFile')], **kwargs)


def test_bad_pipeline_names_its_key():
    with pytest.raises(ConfigError, match='switch_pipeline must be a non-empty list'):
        PipelineSwitchHook(switch_pipeline=dict(type='LoadImageFromFile'), num_last_epochs=1)
    with pytest.raises(ConfigError, match=r'PipelineSwitchHook\.switch_pipeline\.1'):
        PipelineSwitchHook(switch_pipeline=[dict(type='LoadImageFromFile'),
                                            dict(type='NoSuchTransform')], num_last_epochs=1)


def test_registered_for_configs():
    import zoo.runner.build  # noqa: F401  (registers the runner's hooks)
    assert HOOKS.get('PipelineSwitchHook') is PipelineSwitchHook


def test_zoo_config_checks_a_recipe_that_uses_it_in_a_fresh_process():
    """``zoo config`` checks every ``type`` before anything has imported the runner: the hook
    must be registered by then (a fresh interpreter, not this test process)."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    recipe = os.path.join(root, 'configs/retinanet/retinanet_darknet_tiny_fpn_mosaic_bccd.py')
    out = subprocess.run([sys.executable, '-c', 'import sys; from zoo.cli.main import main; '
                          'sys.exit(main(sys.argv[1:]))', 'config', recipe],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "type='PipelineSwitchHook'" in out.stdout
