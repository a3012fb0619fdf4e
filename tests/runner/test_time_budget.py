"""``zoo train --time-budget MINUTES``: training stops cleanly once the budget is spent, on the tiny
BCCD recipe. The budget's clock is replaced by one that advances 10 s per reading, so that with a
budget of 0.5 min the stop falls exactly after the third iteration: the start is read at the
first iteration (0 s), then after iterations 1, 2, 3 (10, 20, 30 s: spent)."""
import glob
import json
import os

import pytest

import registry
from zoo.cli.main import main
from zoo.config import load_config
from zoo.detectors.builder import build_detector
from zoo.runner import time_budget
from zoo.runner.checkpoint import load_checkpoint_file
from zoo.runner.workdir import read_record

from conftest import write_tiny_config


@pytest.fixture
def fake_clock(monkeypatch):
    """The budget's clock advances 10 s each time it is read."""
    readings = []

    def now():
        readings.append(len(readings) * 10.0)
        return readings[-1]
    monkeypatch.setattr(time_budget, '_now', now)
    return readings


def _last_checkpoint(work) -> str:
    with open(os.path.join(work, 'last_checkpoint')) as f:
        return f.read().strip()


def _check_loadable(cfg_path: str, ckpt_path: str) -> dict:
    ckpt = load_checkpoint_file(ckpt_path)
    registry.discover()
    model = build_detector(load_config(cfg_path).model)
    model.load_state_dict(ckpt['state_dict'], strict=True)  # every weight present and fitting
    return ckpt['meta']


def test_epoch_loop_stops_after_the_iteration_that_spends_the_budget(tmp_path, fake_clock, capsys):
    # 2 images per epoch, 3 epochs (6 iterations), validation only at epoch 3 by the config
    cfg = write_tiny_config(tmp_path, train_images=2, val_images=1, epochs=3)
    work = tmp_path / 'work'
    assert main(['train', cfg, '--work-dir', str(work), '--time-budget', '0.5']) == 0
    assert 'stopped at its time budget (0.5 min) after epoch 2, iter 3' in capsys.readouterr().out

    record = read_record(str(work))
    assert record['state'] == 'stopped_at_budget'
    assert record['time_budget_min'] == 0.5
    stop = record['budget_stop']
    assert (stop['epoch'], stop['iter'], stop['minutes']) == (2, 3, 0.5)
    assert stop['configured'] == {'max_epochs': 3}
    assert stop['elapsed_s'] >= 30.0
    # the rest of epoch 2 and epoch 3 did not run; epoch 2 is the last checkpoint
    ckpt = str(work / 'epoch_2.pth')
    assert stop['checkpoint'] == ckpt and _last_checkpoint(work) == ckpt
    assert not os.path.exists(work / 'epoch_3.pth')
    meta = _check_loadable(cfg, ckpt)
    assert (meta['epoch'], meta['iter']) == (2, 3)
    # the final validation ran at the stop (the config validates at epoch 3 only): its best
    # checkpoint is epoch 2's
    assert [os.path.basename(p) for p in glob.glob(str(work / 'best_*.pth'))] == [
        'best_coco_bbox_mAP_50_epoch_2.pth']
    assert json.loads((work / 'zoo_run.json').read_text())['state'] == 'stopped_at_budget'
    # --resume (no budget) continues the configured schedule at the next epoch: epoch 3 of 3,
    # its 2 iterations after the 3 done (the rest of epoch 2 is not trained)
    assert main(['train', cfg, '--work-dir', str(work), '--resume']) == 0
    record = read_record(str(work))
    assert record['state'] == 'finished' and record['budget_stop'] is None
    ckpt = str(work / 'epoch_3.pth')
    assert _last_checkpoint(work) == ckpt
    meta = _check_loadable(cfg, ckpt)
    assert (meta['epoch'], meta['iter']) == (3, 5)


def test_iter_loop_without_save_last_still_leaves_the_last_checkpoint(tmp_path, fake_clock):
    extra = '''
        train_cfg = dict(_delete_=True, type='IterBasedTrainLoop', max_iters=6, val_interval=100)
        default_hooks = dict(checkpoint=dict(by_epoch=False, interval=100, save_last=False,
                                             save_best=None))
        log_processor = dict(by_epoch=False)
    '''
    cfg = write_tiny_config(tmp_path, train_images=2, val_images=1, extra=extra)
    work = tmp_path / 'work'
    assert main(['train', cfg, '--work-dir', str(work), '--time-budget', '0.5']) == 0
    record = read_record(str(work))
    assert record['state'] == 'stopped_at_budget'
    stop = record['budget_stop']
    assert stop['iter'] == 3 and 'epoch' not in stop and stop['configured'] == {'max_iters': 6}
    ckpt = str(work / 'iter_3.pth')
    assert stop['checkpoint'] == ckpt and _last_checkpoint(work) == ckpt
    assert sorted(os.path.basename(p) for p in glob.glob(str(work / '*.pth'))) == ['iter_3.pth']
    assert _check_loadable(cfg, ckpt)['iter'] == 3


def test_budget_spent_at_the_last_iteration_is_a_finished_run(tmp_path, fake_clock):
    # 2 iterations in all; a budget of 18 s is spent after iteration 2 (20 s), where the
    # schedule ends
    cfg = write_tiny_config(tmp_path, train_images=2, val_images=1, epochs=1)
    work = tmp_path / 'work'
    assert main(['train', cfg, '--work-dir', str(work), '--time-budget', '0.3']) == 0
    record = read_record(str(work))
    assert record['state'] == 'finished' and record['budget_stop'] is None


def test_unspent_budget_is_a_finished_run(tmp_path):
    cfg = write_tiny_config(tmp_path, train_images=1, val_images=1, epochs=1,
                            extra='time_budget_min = 1000\n')
    work = tmp_path / 'work'
    assert main(['train', cfg, '--work-dir', str(work)]) == 0
    record = read_record(str(work))
    assert record['state'] == 'finished' and record['budget_stop'] is None
    assert record['time_budget_min'] == 1000


@pytest.mark.parametrize('args,extra,message', [
    (['--time-budget', '0'], '', '--time-budget=0.0'),
    (['--time-budget', '-3'], '', '--time-budget=-3.0'),
    (['--time-budget', 'nan'], '', '--time-budget=nan'),
    ([], "time_budget_min = 'ten'\n", "time_budget_min='ten'"),
])
def test_bad_budget_is_a_config_error(tmp_path, capsys, args, extra, message):
    cfg = write_tiny_config(tmp_path, train_images=1, val_images=1, extra=extra)
    assert main(['train', cfg, '--work-dir', str(tmp_path / 'w'), *args]) == 2
    err = capsys.readouterr().err
    assert message in err and 'expected a number of minutes greater than 0' in err


def test_check_budget():
    assert time_budget.check_budget(5) == 5.0
    assert time_budget.check_budget('1.5') == 1.5
    for bad in (0, -1, float('inf'), None, True, 'x'):
        with pytest.raises(registry.ConfigError, match='time_budget_min'):
            time_budget.check_budget(bad)


# --- --fit-schedule ------------------------------------------------------------------------------
def _cosine_steps(lr0, eta_min, fits):
    """mmengine's chainable cosine, stepped once per epoch, with T_max changed as ``fits`` says
    ({step after which: new T_max}); the value of every epoch (hand formula, not mmengine)."""
    import math
    values, t_max, v = [lr0], fits.get(0), lr0
    for step in range(1, max(fits.values()) + 1):
        v = eta_min + (v - eta_min) * (1 + math.cos(math.pi * step / t_max)) / (
            1 + math.cos(math.pi * (step - 1) / t_max))
        values.append(v)
        t_max = fits.get(step, t_max)
    return values


def test_fit_schedule_stretches_epochs_and_cosine_to_the_budget(tmp_path, fake_clock, capsys):
    # 2 iterations per epoch; the clock is read at the first iteration, after each iteration and
    # after each epoch: 30 s an epoch. A 3-minute budget fits 6 epochs, not the configured 3.
    extra = '''
        param_scheduler = [
            dict(type='LinearLR', start_factor=0.5, by_epoch=False, begin=0, end=1),
            dict(type='CosineAnnealingLR', by_epoch=True, begin=0, end=3, T_max=3, eta_min=0.0)]
    '''
    cfg = write_tiny_config(tmp_path, train_images=2, val_images=1, epochs=3, extra=extra)
    work = tmp_path / 'work'
    assert main(['train', cfg, '--work-dir', str(work), '--time-budget', '3', '--fit-schedule']) == 0
    assert 'schedule fitted to the time budget: 6 epochs (configured 3), 30.0 s per epoch' in \
        capsys.readouterr().out
    record = read_record(str(work))
    assert record['state'] == 'finished' and record['budget_stop'] is None
    assert record['schedule_fit'] == dict(configured_epochs=3, fitted_epochs=6, mean_epoch_s=30.0,
                                          after_epoch=6)
    assert _last_checkpoint(work) == str(work / 'epoch_6.pth')
    assert _check_loadable(cfg, str(work / 'epoch_6.pth'))['epoch'] == 6
    # the learning rate of each epoch: the cosine of T_max 3 for the first step, then stretched to
    # end at eta_min after epoch 6 (the warm-up, ending at iteration 1, is not stretched)
    scalars = sorted(glob.glob(str(work / '*' / 'vis_data' / 'scalars.json')))[-1]
    lrs = [json.loads(line)['lr'] for line in open(scalars) if '"lr"' in line]
    assert len(lrs) == 12
    lr0 = lrs[2]  # epoch 2's first iteration: the cosine's first step from the base rate
    base = lr0 / 0.75  # (1 + cos(pi / 3)) / 2
    expected = _cosine_steps(base, 0.0, {0: 3, 1: 6})
    for epoch in range(1, 6):
        assert lrs[2 * epoch] == pytest.approx(expected[epoch], rel=1e-6)
        assert lrs[2 * epoch + 1] == pytest.approx(expected[epoch], rel=1e-6)
    assert expected[6] == pytest.approx(0.0, abs=1e-12)
    # resumed with a fresh 1-minute budget: 2 more epochs (30 s each) on top of the 6 done
    assert main(['train', cfg, '--work-dir', str(work), '--resume', '--time-budget', '1',
                 '--fit-schedule']) == 0
    record = read_record(str(work))
    assert record['state'] == 'finished'
    assert record['schedule_fit']['fitted_epochs'] == 8
    assert _last_checkpoint(work) == str(work / 'epoch_8.pth')


def test_fit_schedule_shrinks_to_the_budget(tmp_path, fake_clock, capsys):
    # 30 s an epoch, a 1-minute budget: 2 of the configured 5 epochs, a finished run
    cfg = write_tiny_config(tmp_path, train_images=2, val_images=1, epochs=5)
    work = tmp_path / 'work'
    assert main(['train', cfg, '--work-dir', str(work), '--time-budget', '1', '--fit-schedule']) == 0
    record = read_record(str(work))
    assert record['state'] == 'finished'
    assert record['schedule_fit']['fitted_epochs'] == 2
    assert _last_checkpoint(work) == str(work / 'epoch_2.pth')
    assert not os.path.exists(work / 'epoch_3.pth')


def test_fit_schedule_needs_a_budget_and_an_epoch_loop(tmp_path, capsys):
    cfg = write_tiny_config(tmp_path, train_images=1, val_images=1)
    assert main(['train', cfg, '--work-dir', str(tmp_path / 'w'), '--fit-schedule']) == 2
    assert '--fit-schedule fits the schedule to a time budget' in capsys.readouterr().err
    extra = '''
        train_cfg = dict(_delete_=True, type='IterBasedTrainLoop', max_iters=2, val_interval=100)
        log_processor = dict(by_epoch=False)
    '''
    cfg = write_tiny_config(tmp_path, train_images=1, val_images=1, extra=extra, name='iter')
    assert main(['train', cfg, '--work-dir', str(tmp_path / 'w2'), '--time-budget', '5',
                 '--fit-schedule']) == 2
    assert 'needs an EpochBasedTrainLoop' in capsys.readouterr().err


def test_fit_schedulers_scales_what_runs_to_the_end():
    import torch
    from mmengine.optim.scheduler import CosineAnnealingLR, LinearLR, MultiStepLR
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    warm = LinearLR(opt, start_factor=0.1, by_epoch=False, begin=0, end=50)
    cos = CosineAnnealingLR(opt, by_epoch=True, begin=0, end=12, T_max=12)
    late = CosineAnnealingLR(opt, by_epoch=True, begin=4, end=12, T_max=8)
    steps = MultiStepLR(opt, by_epoch=True, begin=0, end=12, milestones=[8, 11])
    changed = time_budget.fit_schedulers([warm, cos, late, steps], 12, 24, by_epoch=True)
    assert changed == ['CosineAnnealingLR', 'CosineAnnealingLR', 'MultiStepLR']
    assert (warm.end, cos.end, cos.T_max, late.end, late.T_max) == (50, 24, 24, 24, 20)
    assert sorted(steps.milestones.elements()) == [16, 22] and steps.end == 24
    # iteration-based ones are fitted only in iterations
    assert time_budget.fit_schedulers({'a': [warm]}, 50, 100, by_epoch=False) == ['LinearLR']
    assert warm.end == 100
