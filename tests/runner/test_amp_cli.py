"""Mixed precision through the command line on a machine without CUDA: ``zoo train --amp`` and
``zoo test --amp`` run (bfloat16 autocast on the CPU) instead of refusing; ``amp = True`` in a
config means the same; the optimizer wrapper autocasts on the CPU without loss scaling."""
import glob
import json

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import OptimWrapper

from registry import ConfigError
from zoo.cli.main import main
from zoo.runner.amp_optim_wrapper import AutocastOptimWrapper
from zoo.runner.precision import apply_amp, autocast, autocast_dtype

cpu_only = pytest.mark.skipif(torch.cuda.is_available(), reason='the CPU path (bfloat16, no loss scaling)')


@cpu_only
def test_train_and_test_with_amp_on_the_cpu(tiny_config, tmp_path, capsys, monkeypatch):
    from zoo.detectors.base import BaseDetector
    seen = []  # (training, autocast on, weight-cast cache on) at each feature extraction
    extract = BaseDetector.extract_feat

    def spy(self, inputs):
        seen.append((self.training, torch.is_autocast_enabled('cpu'), torch.is_autocast_cache_enabled()))
        return extract(self, inputs)
    monkeypatch.setattr(BaseDetector, 'extract_feat', spy)
    cfg = tiny_config(extra="model['test_cfg']['rcnn'] = dict(score_thr=0.0)\n")
    work = tmp_path / 'w'
    assert main(['train', cfg, '--work-dir', str(work), '--amp']) == 0
    # training keeps autocast's cache (the backward pass reuses the casts); validation has none
    assert {s for s in seen if s[0]} == {(True, True, True)}
    assert {s for s in seen if not s[0]} == {(False, True, False)}
    assert torch.is_autocast_cache_enabled()  # restored after validation
    assert 'training finished' in capsys.readouterr().out
    dumped = Config.fromfile(glob.glob(str(work / '*/vis_data/config.py'))[0])  # what ran
    assert dumped.optim_wrapper.type == 'AutocastOptimWrapper' and dumped.val_cfg.fp16 is True
    scalars = glob.glob(str(work / '*/vis_data/scalars.json'))[0]
    losses = [json.loads(line)['loss'] for line in open(scalars) if '"loss"' in line]
    assert len(losses) == 2 and all(0 < v < 100 for v in losses)  # two finite training steps
    results = tmp_path / 'r.json'
    seen.clear()
    assert main(['test', cfg, str(work / 'epoch_1.pth'), '--amp', '--out', str(results)]) == 0
    assert seen and set(seen) == {(False, True, False)} and torch.is_autocast_cache_enabled()
    dets = json.loads(results.read_text())
    assert dets and all(0 < d['score'] <= 1 for d in dets)


def _step_dtypes(wrapper, model):
    seen = {}

    def hook(module, args, out):
        seen['dtype'] = out.dtype
    model.register_forward_hook(hook)
    with wrapper.optim_context(model):
        loss = model(torch.randn(4, 8)).float().pow(2).mean()
    wrapper.update_params(loss)
    return seen['dtype']


@cpu_only
def test_the_wrapper_autocasts_to_bfloat16_on_the_cpu_without_a_scaler():
    torch.manual_seed(0)
    model = torch.nn.Linear(8, 3)
    before = model.weight.detach().clone()
    wrapper = AutocastOptimWrapper(optimizer=torch.optim.SGD(model.parameters(), lr=0.1))
    assert _step_dtypes(wrapper, model) == torch.bfloat16
    assert model.weight.dtype == torch.float32 and not torch.equal(model.weight, before)  # stepped
    assert wrapper.loss_scaler is None and 'loss_scaler' not in wrapper.state_dict()
    # a CUDA float16 run's checkpoint (with its scaler state) resumes on the CPU
    state = dict(wrapper.state_dict(), loss_scaler={'scale': 65536.0})
    wrapper.load_state_dict(state)
    with pytest.raises(ConfigError, match='bfloat16'):
        AutocastOptimWrapper(optimizer=torch.optim.SGD(model.parameters(), lr=0.1), dtype='float16')
    with pytest.raises(ConfigError, match='no CUDA GPU'):
        AutocastOptimWrapper(optimizer=torch.optim.SGD(model.parameters(), lr=0.1), device='cuda')
    plain = OptimWrapper(optimizer=torch.optim.SGD(model.parameters(), lr=0.1))
    assert _step_dtypes(plain, model) == torch.float32  # without amp nothing changes


def test_amp_in_the_config_means_the_same_as_the_flag():
    base = dict(optim_wrapper=dict(type='OptimWrapper', optimizer=dict(type='SGD', lr=0.01)),
                val_cfg=dict(type='ValLoop'), test_cfg=dict(type='TestLoop'))
    off = Config(base)
    assert apply_amp(off) is False and off.optim_wrapper.type == 'OptimWrapper'
    assert 'fp16' not in off.val_cfg
    for cfg, flag in ((Config(dict(base, amp=True)), False), (Config(base), True)):
        assert apply_amp(cfg, flag) is True
        assert cfg.optim_wrapper.type == 'AutocastOptimWrapper' and cfg.amp is True
        assert cfg.val_cfg.fp16 is True and cfg.test_cfg.fp16 is True
    with pytest.raises(ConfigError, match='amp: expected True or False'):
        apply_amp(Config(dict(base, amp='yes')))
    with pytest.raises(ConfigError, match="optim_wrapper.type = 'MyWrapper'"):
        apply_amp(Config(dict(base, optim_wrapper=dict(type='MyWrapper'))), True)


def test_autocast_dtype_per_device():
    assert autocast_dtype('cpu') == torch.bfloat16 and autocast_dtype('cuda') == torch.float16
    with pytest.raises(ValueError, match="'mps'"):
        autocast_dtype('mps')
    with autocast('cpu'):
        assert torch.is_autocast_enabled('cpu') and torch.get_autocast_dtype('cpu') == torch.bfloat16
