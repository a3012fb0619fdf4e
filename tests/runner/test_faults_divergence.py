"""The divergence guard: with lr=1e6 the loss stays finite one step longer than the gradients;
the run must stop before a NaN reaches a weight or a checkpoint, exit non-zero, and name a
checkpoint verified finite."""
import math
from types import SimpleNamespace

import pytest
import torch
from torch import nn

from zoo.cli.main import main
from zoo.runner.checkpoint import load_checkpoint_file
from zoo.runner.nonfinite import (NonFiniteGradientError, NonFiniteGuardHook, NonFiniteWeightError,
                                  last_finite_checkpoint)


def _all_finite(path) -> bool:
    state = load_checkpoint_file(str(path))['state_dict']
    return all(torch.isfinite(v).all() for v in state.values() if v.is_floating_point())


def test_lr_1e6_stops_with_every_checkpoint_finite(tiny_config, tmp_path, capsys):
    cfg = tiny_config(epochs=2, val_images=1, extra='optim_wrapper = dict(optimizer=dict(lr=1e6))\n'
                                      'train_cfg = dict(max_epochs=2, val_interval=1)\n')
    work = tmp_path / 'w'
    status = main(['train', cfg, '--work-dir', str(work)])
    err = capsys.readouterr().err
    assert status == 1, err
    # the loss of iteration 3 is finite, its gradients are not: stopped before the step
    assert 'NonFiniteGradientError' in err and 'iteration 3 (epoch 2): gradient norm = nan' in err
    assert 'first non-finite gradient: backbone.conv1.weight' in err
    checkpoints = sorted(work.glob('*.pth'))
    assert [p.name for p in checkpoints if p.name.startswith('epoch_')] == ['epoch_1.pth']
    assert all(_all_finite(p) for p in checkpoints)
    assert f'the newest checkpoint with finite weights (verified) is {work / "epoch_1.pth"}' in err
    assert 'training finished' not in capsys.readouterr().out


class _Runner(SimpleNamespace):
    pass


def _runner(model, optimizer):
    return _Runner(model=model, optim_wrapper=SimpleNamespace(optimizer=optimizer), iter=6)


def test_a_nan_gradient_stops_before_the_step_naming_the_parameter():
    model = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 1))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    hook = NonFiniteGuardHook()
    hook.before_train(_runner(model, opt))
    model(torch.ones(1, 2)).sum().backward()
    model[1].weight.grad[0, 1] = float('nan')
    before = [p.detach().clone() for p in model.parameters()]
    with pytest.raises(NonFiniteGradientError, match=r'gradient norm = nan; first non-finite '
                                                     r'gradient: 1\.weight \(nan\)'):
        opt.step()
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))
    hook.after_train(None)  # the pre-hook is removed: the optimizer steps again
    model[1].weight.grad.zero_()
    opt.step()


def test_a_weight_made_infinite_by_the_step_is_named():
    model = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))
    hook = NonFiniteGuardHook()
    hook.after_train_iter(_runner(model, None), 0)  # finite: passes
    model[1].running_var[1] = math.inf  # a buffer counts too
    with pytest.raises(NonFiniteWeightError, match=r'iteration 7.*weight 1\.running_var holds inf'):
        hook.after_train_iter(_runner(model, None), 0)


def test_last_finite_checkpoint_skips_a_newer_nan_one(tmp_path):
    import os
    torch.save({'state_dict': {'w': torch.ones(2)}}, tmp_path / 'epoch_1.pth')
    torch.save({'state_dict': {'w': torch.tensor([1.0, math.nan])}}, tmp_path / 'epoch_2.pth')
    os.utime(tmp_path / 'epoch_1.pth', (1, 1))  # epoch_2 is the newer
    assert last_finite_checkpoint(str(tmp_path)) == str(tmp_path / 'epoch_1.pth')
    (tmp_path / 'epoch_1.pth').unlink()
    assert last_finite_checkpoint(str(tmp_path)) is None
