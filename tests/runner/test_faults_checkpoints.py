"""Checkpoint identity, one run per work dir, and atomic checkpoint writes, on one tiny run."""
import os
import signal
import subprocess
import sys
import textwrap

import pytest
import torch

import registry
from registry import ConfigError
from zoo.cli.main import main
from zoo.config import load_config
from zoo.detectors.builder import build_detector
from zoo.runner.atomic import AtomicLocalBackend
from zoo.runner.checkpoint import load_checkpoint_file
from zoo.identity import check_checkpoint, model_identity
from zoo.runner.workdir import check_work_dir, remove_artifacts

from conftest import ROOT, write_tiny_config


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    """One finished tiny run: (config path, work dir)."""
    base = tmp_path_factory.mktemp('trained')
    cfg = write_tiny_config(base, train_images=1, val_images=1)
    work = base / 'work'
    assert main(['train', cfg, '--work-dir', str(work)]) == 0
    return cfg, work


def other_model_checkpoint(tmp_path, with_identity=True, with_state=True):
    """A checkpoint of another model: the tiny recipe with a wider box head (fc 32, not 64)."""
    cfg = load_config(write_tiny_config(tmp_path, name='other',
                                        extra='model = dict(roi_head=dict(bbox_head=dict('
                                              'fc_out_channels=32)))\n'))
    registry.discover()
    ckpt = {'state_dict': build_detector(cfg.model).state_dict()}
    if with_identity:
        ckpt['meta'] = dict(epoch=1, iter=2, zoo_model=model_identity(cfg))
    path = tmp_path / 'other.pth'
    torch.save(ckpt if with_state else ckpt['state_dict'], path)
    return str(path)


def test_a_checkpoint_records_the_model_it_holds(trained):
    cfg, work = trained
    record = load_checkpoint_file(str(work / 'epoch_1.pth'))['meta']['zoo_model']
    assert record['detector'] == 'FasterRCNN'
    assert record['classes'] == ['RBC', 'WBC', 'Platelets']
    assert record['architecture']['roi_head']['bbox_head']['fc_out_channels'] == 64
    assert 'train_cfg' not in record['architecture'] and record['zoo_version']
    assert record['fingerprint'] == model_identity(load_config(cfg))['fingerprint']


def test_another_models_checkpoint_is_refused_everywhere(trained, tmp_path, capsys):
    cfg, work = trained
    other = other_model_checkpoint(tmp_path)
    both = 'model.roi_head.bbox_head.fc_out_channels: 32 in the checkpoint, 64 in the config'
    image = os.path.join(ROOT, 'data/BCCD/JPEGImages/BloodImage_00001.jpg')
    commands = {
        'test': ['test', cfg, other],
        'infer': ['infer', cfg, other, image, '--out-dir', str(tmp_path / 'i')],
        'load_from': ['train', cfg, '--work-dir', str(tmp_path / 'a'), '--cfg-options',
                      f'load_from={other}'],
        'resume': ['train', cfg, '--work-dir', str(tmp_path / 'b'), '--resume', other],
    }
    for name, argv in commands.items():
        assert main(argv) == 2, name
        err = capsys.readouterr().err
        assert f"checkpoint {other!r} does not match {cfg}" in err, (name, err)
        assert both in err, (name, err)
    assert not list((tmp_path / 'a').glob('*.pth')) and not list((tmp_path / 'b').glob('*.pth'))


def test_a_foreign_state_dict_is_refused_by_its_shapes_and_cannot_be_resumed(trained, tmp_path, capsys):
    cfg, _ = trained
    bare = other_model_checkpoint(tmp_path, with_identity=False, with_state=False)
    assert main(['test', cfg, bare]) == 2
    err = capsys.readouterr().err
    assert 'the weights do not fit the model' in err
    assert 'roi_head.bbox_head.fc_cls.weight: (4, 32) in the file vs (4, 64) in the model' in err
    assert main(['train', cfg, '--work-dir', str(tmp_path / 'r'), '--resume', bare]) == 2
    assert 'holds no training state' in capsys.readouterr().err  # was KeyError: 'epoch'


def test_partial_loading_loads_what_fits_and_lists_what_it_skipped(tmp_path):
    cfg = load_config(write_tiny_config(tmp_path))
    model = build_detector(cfg.model)
    other = other_model_checkpoint(tmp_path)
    with pytest.raises(ConfigError):
        check_checkpoint(load_checkpoint_file(other), cfg, model, other)
    with pytest.warns(UserWarning, match=r'partial load of .*other\.pth: \d+ tensor\(s\) loaded; '
                                         r'skipped 0 unknown to the model and 6 of another shape '
                                         r'\(roi_head\.bbox_head\.fc6\.weight, .*fc_reg\.weight\); '
                                         r'0 weight\(s\) of the model keep their initial values$'):
        state = check_checkpoint(load_checkpoint_file(other), cfg, model, other, partial=True)
    assert 'backbone.conv1.weight' in state and 'roi_head.bbox_head.fc7.weight' not in state
    with pytest.raises(ConfigError, match='cannot be used with --resume'):
        check_checkpoint(load_checkpoint_file(other), cfg, model, other, partial=True, resume=True)


def test_a_finished_work_dir_is_not_trained_into_again(trained, capsys):
    cfg, work = trained
    stamp = {p.name: p.stat().st_mtime_ns for p in work.glob('*.pth')}
    assert main(['train', cfg, '--work-dir', str(work)]) == 2
    err = capsys.readouterr().err
    assert f"work dir {str(work)!r} already holds a finished run of {os.path.abspath(cfg)}" in err
    assert '--resume' in err and '--overwrite' in err
    assert {p.name: p.stat().st_mtime_ns for p in work.glob('*.pth')} == stamp


def test_overwrite_removes_only_what_a_run_wrote(tmp_path):
    work = tmp_path / 'w'
    (work / '20260101_120000').mkdir(parents=True)
    for name in ('epoch_1.pth', 'best_x_epoch_1.pth', 'last_checkpoint', 'zoo_run.json',
                 'config.py', 'notes.txt'):
        (work / name).write_text('x')
    with pytest.raises(ConfigError, match='already holds a run'):
        check_work_dir(str(work), 'c.py', resume=False, overwrite=False)
    assert check_work_dir(str(work), 'c.py', resume=True, overwrite=False) == []
    remove_artifacts(check_work_dir(str(work), 'c.py', resume=False, overwrite=True))
    assert sorted(os.listdir(work)) == ['config.py', 'notes.txt']


def test_a_crash_while_writing_leaves_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / 'best.pth'
    AtomicLocalBackend().put(b'old and complete', str(path))

    def crash(fd):
        raise OSError(28, 'No space left on device')
    monkeypatch.setattr(os, 'fsync', crash)  # the new bytes are half on their way
    with pytest.raises(OSError, match='No space left'):
        AtomicLocalBackend().put(b'new' * 1000, str(path))
    assert path.read_bytes() == b'old and complete'
    assert os.listdir(tmp_path) == ['best.pth']  # no temporary file left behind


STALLING_CHILD = '''
import glob, os, sys, time
from mmengine.evaluator import BaseMetric
from mmengine.hooks import Hook
from mmengine.registry import HOOKS, METRICS

@METRICS.register_module()
class _RisingMetric(BaseMetric):
    """1, 2, 3, ... at each validation, so that every validation makes a new best."""
    calls = 0
    def process(self, data_batch, data_samples):
        self.results.append(0)
    def compute_metrics(self, results):
        type(self).calls += 1
        return {'rising': float(type(self).calls)}

@HOOKS.register_module()
class _StallSecondBestSave(Hook):
    def before_save_checkpoint(self, runner, checkpoint):
        if 'optimizer' not in checkpoint and glob.glob(os.path.join(runner.work_dir, 'best_*.pth')):
            print('SAVING-SECOND-BEST', flush=True)
            time.sleep(600)

from zoo.cli.main import main
sys.exit(main(sys.argv[1:]))
'''


def test_a_process_killed_while_saving_the_best_keeps_the_previous_best(tmp_path):
    cfg = write_tiny_config(tmp_path, train_images=1, val_images=1, epochs=2, extra='''
        train_cfg = dict(max_epochs=2, val_interval=1)
        val_evaluator = [dict(type='_RisingMetric')]
        test_evaluator = val_evaluator
        default_hooks = dict(logger=dict(interval=1),
                             checkpoint=dict(save_best='rising', rule='greater'))
        custom_hooks = [dict(type='_StallSecondBestSave')]
    ''')
    script = tmp_path / 'child.py'
    script.write_text(textwrap.dedent(STALLING_CHILD))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([ROOT, os.environ.get('PYTHONPATH', '')]))
    work = tmp_path / 'w'
    child = subprocess.Popen([sys.executable, str(script), 'train', cfg, '--work-dir', str(work)],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    lines = []
    for line in child.stdout:
        lines.append(line)
        if 'SAVING-SECOND-BEST' in line:
            child.send_signal(signal.SIGKILL)
            break
    child.stdout.close()
    child.wait()
    assert child.returncode == -signal.SIGKILL, ''.join(lines[-30:])
    best = work / 'best_rising_epoch_1.pth'
    assert best.is_file() and not (work / 'best_rising_epoch_2.pth').exists()
    state = load_checkpoint_file(str(best))['state_dict']
    assert state and all(torch.isfinite(v).all() for v in state.values() if v.is_floating_point())
