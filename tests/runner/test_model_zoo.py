"""`zoo model-zoo`: the table of docs/model_zoo.md from two tiny work dirs, one with everything
recorded (zoo test's metrics, commands: known numbers) and one read from its last validation;
a run made before the commands were recorded (shown as not recorded, never reconstructed),
trained from another checkout's recipe and under amp, profiled without writing into its work
dir; a recipe changed since its run (marked) or only in precision (a note on the command);
unfinished runs are refused. A real run's row: tests/runner/test_cli_train_test_infer.py."""
import functools
import json
import os
import shutil

import registry
import torch
from zoo.ablation import profile as profiling
from zoo.ablation.model_zoo import PLACEHOLDER, model_zoo_markdown, model_zoo_row, recipe_name
from zoo.ablation.recipe_changes import recipe_changes
from zoo.cli.main import main
from zoo.config import load_config
from zoo.detectors.builder import build_detector
from zoo.identity import model_identity

from conftest import ROOT

ZF = os.path.join(ROOT, 'configs/faster_rcnn/faster_rcnn_zf_bccd.py')


def _work_dir(path, model_files, record, profile=None, scalars=(), saved='config.py', config=None):
    """A finished run's work dir; its saved training config is ``config`` (a Config) when
    given, else the tiny model's config file of ``model_files``."""
    cfg, ckpt = model_files
    path.mkdir()
    if config is not None:
        (path / saved).write_text(config.pretty_text)
    else:
        shutil.copy(cfg, path / saved)
    shutil.copy(ckpt, path / 'epoch_1.pth')
    (path / 'last_checkpoint').write_text(str(path / 'epoch_1.pth'))
    (path / 'zoo_run.json').write_text(json.dumps(record))
    if profile:
        (path / 'profile.json').write_text(json.dumps(profile))
    if scalars:
        (path / '20260101_120000' / 'vis_data').mkdir(parents=True)
        (path / '20260101_120000' / 'vis_data' / 'scalars.json').write_text(
            ''.join(json.dumps(s) + '\n' for s in scalars))
    return str(path)


def _val(ap, ap50, ap75, step):
    """A validation entry of mmengine's scalars.json."""
    return {'coco/bbox_mAP': ap, 'coco/bbox_mAP_50': ap50, 'coco/bbox_mAP_75': ap75, 'step': step}


def _rows(text):
    return [[c.strip() for c in line.strip('|').split(' | ')] for line in text.splitlines()
            if line.startswith('| `')]


def _zf_as_run(**changes):
    """The ZF recipe as a float32 run of it saved its config, with ``changes`` (dotted keys)."""
    cfg = load_config(ZF)
    cfg.amp = False
    cfg.merge_from_dict(changes)
    return cfg


def test_the_table_of_two_work_dirs(model_files, tmp_path, capsys):
    a = _work_dir(tmp_path / 'a', model_files, config=_zf_as_run(), record=dict(
        config=ZF, state='finished', started=1000.0, finished=1150.0,
        command='zoo train configs/faster_rcnn/faster_rcnn_zf_bccd.py --work-dir a',
        test=dict(command='zoo test configs/faster_rcnn/faster_rcnn_zf_bccd.py a | tee log',
                  metrics={'coco/bbox_mAP': 0.51234, 'coco/bbox_mAP_50': 0.8,
                           'coco/bbox_mAP_75': -1.0})),
        profile=dict(params=1234567, gflops=12.345, input_size=[128, 160], latency_ms=45.67,
                     latency_runs=10, device='cpu', threads=2))
    b = _work_dir(tmp_path / 'b', model_files, dict(config=model_files[0], state='finished',
                                                    started=0.0, finished=60.0,
                                                    resumed_by=['zoo train b.py --resume']),
                  profile=dict(params=4932888, gflops=1.376, input_size=[128, 160], latency_ms=8.04,
                               latency_runs=10, device='cpu', threads=2),
                  scalars=[dict(loss=1.0, lr=0.01, step=1), _val(0.1, 0.2, 0.05, 1),
                           _val(0.25, 0.5, 0.125, 2)])
    out = tmp_path / 'docs' / 'model_zoo.md'
    assert main(['model-zoo', a, b, '--out', str(out)]) == 0
    assert '2 run(s) written' in capsys.readouterr().out
    text = out.read_text()
    assert text.startswith('# Model zoo') and 'zoo model-zoo work_dirs/zf' in text
    row_a, row_b = _rows(text)
    assert row_a == ['`zoo::faster_rcnn/faster_rcnn_zf_bccd.py`', '0.512', '0.800', 'n/a', '1.23',
                     '12.3 (128x160)', '45.7', '2.5',
                     '`zoo train configs/faster_rcnn/faster_rcnn_zf_bccd.py --work-dir a`<br>'
                     '`zoo test configs/faster_rcnn/faster_rcnn_zf_bccd.py a \\| tee log`'
                     # a trained in float32; the ZF recipe sets amp now
                     '<br>(trained in float32; the recipe sets `amp = True` now: repeat with '
                     '`--cfg-options amp=False`)']
    # b: its last validation, marked; resumed: the time of its last part; no commands recorded
    assert row_b == [f'`{model_files[0]}`', '0.250 (val)', '0.500 (val)', '0.125 (val)', '4.93',
                     '1.4 (128x160)', '8.0', '1.0 (last part)', 'not recorded<br>not recorded']
    assert 'Measured on cpu, 2 threads' in text  # the first row's device


def test_an_unfinished_run_is_refused_and_nothing_is_written(model_files, tmp_path, capsys):
    # stopped after a validation: metrics in its logs, but the run is not finished
    a = _work_dir(tmp_path / 'a', model_files, dict(config=ZF, state='running', started=0.0),
                  scalars=[_val(0.1, 0.2, 0.05, 1)])
    out = tmp_path / 'model_zoo.md'
    assert main(['model-zoo', a, '--out', str(out)]) == 2
    err = capsys.readouterr().err
    assert f"'{a}' holds no finished run (state: running" in err
    assert not out.exists()
    assert main(['model-zoo', a, '--out', str(tmp_path / 'table.txt')]) == 2
    assert 'expected a Markdown file name' in capsys.readouterr().err


def test_the_note_on_a_recipe_whose_precision_changed_since_the_run():
    row = dict(recipe='zoo::r.py', AP=0.5, AP50=0.8, AP75=0.4, params=1e6, gflops=1.0,
               input_size=[64, 64], latency_ms=1.0, train_time_s=60.0, metrics_from='zoo test',
               train_command='zoo train r.py', test_command='zoo test r.py w')

    def commands(**kw):
        return _rows(model_zoo_markdown([dict(row, **kw)]))[0][8]
    plain = '`zoo train r.py`<br>`zoo test r.py w`'
    assert commands(amp=True, recipe_amp=False) == (
        plain + '<br>(trained with amp; this command trains in float32 now: repeat with `--amp`)')
    assert commands(amp=False, recipe_amp=True).endswith('repeat with `--cfg-options amp=False`)')
    assert commands(amp=True, recipe_amp=True) == commands(amp=False, recipe_amp=False) == plain
    assert commands(amp=True, recipe_amp=None) == plain  # not a shipped recipe
    # the recorded command already sets the run's precision: nothing to add
    assert commands(amp=True, recipe_amp=False, train_command='zoo train r.py --amp') \
        == '`zoo train r.py --amp`<br>`zoo test r.py w`'
    fp32 = 'zoo train r.py --cfg-options model.x=1 amp=False --seed 0'
    assert commands(amp=False, recipe_amp=True, train_command=fp32) == f'`{fp32}`<br>`zoo test r.py w`'
    assert commands(amp=True, recipe_amp=True, train_command=fp32).endswith('repeat with `--amp`)')
    assert commands(amp=True, recipe_amp=False, train_command=None) == 'not recorded<br>`zoo test r.py w`'


def test_a_recipe_changed_since_the_run_is_marked(model_files, tmp_path):
    # trained before the recipe's lr and training scale changed (the profile saved: no model run)
    run = _zf_as_run(**{'optim_wrapper.optimizer.lr': 0.005,
                        'train_dataloader.dataset.pipeline.1.scale': (320, 240)})
    profile = dict(params=1, gflops=1.0, input_size=[64, 64], latency_ms=1.0, device='cpu')
    a = _work_dir(tmp_path / 'a', model_files, config=run, profile=profile, record=dict(
        config=ZF, state='finished', started=0.0, finished=60.0,
        test=dict(metrics={'coco/bbox_mAP': 0.5, 'coco/bbox_mAP_50': 0.8, 'coco/bbox_mAP_75': 0.4})))
    row = model_zoo_row(a)
    assert row['recipe_changes'] == ['optim_wrapper.optimizer.lr',
                                     'train_dataloader.dataset.pipeline[1].scale[0]',
                                     'train_dataloader.dataset.pipeline[1].scale[1]']
    assert _rows(model_zoo_markdown([row]))[0][0] == (
        '`zoo::faster_rcnn/faster_rcnn_zf_bccd.py` (the recipe changed since the run: '
        '`optim_wrapper.optimizer.lr`, `train_dataloader.dataset.pipeline`)')


def test_recipe_changes_leave_out_precision_layout_and_data_location():
    recipe = load_config(ZF)  # amp = True, channels_last
    run = _zf_as_run(**{'model.channels_last': False, 'train_dataloader.dataset.data_root': '/x'})
    assert run.optim_wrapper.get('type', 'OptimWrapper') == 'OptimWrapper'
    assert recipe_changes(run, recipe) == []  # float32 against the recipe's amp: not counted
    run.model.rpn_head.anchor_generator.scales = [4, 8]
    run.param_scheduler = run.param_scheduler[:1]
    run.test_evaluator = dict(type='VOCMetric')
    # a list of another length (or a dict for a list) differs as a whole
    assert recipe_changes(run, recipe) == ['model.rpn_head.anchor_generator.scales',
                                           'param_scheduler', 'test_evaluator']
    many = [f'model.x{i}[0]' for i in range(5)]
    assert _rows(model_zoo_markdown([dict(
        recipe='zoo::r.py', recipe_changes=many, AP=0.5, AP50=0.8, AP75=0.4, params=1e6,
        gflops=1.0, latency_ms=1.0, train_time_s=60.0, metrics_from='zoo test',
        train_command=None, test_command=None)]))[0][0] == (
        '`zoo::r.py` (the recipe changed since the run: `model.x0`, `model.x1`, `model.x2` and 2 more)')


def test_no_row_leaves_the_placeholder():
    text = model_zoo_markdown([])
    assert text.splitlines()[-1] == PLACEHOLDER and '| recipe | AP |' in text


def _tree(path):
    """Every file under ``path`` with its size and modification time."""
    return {os.path.join(d, f): (os.path.getsize(os.path.join(d, f)), os.path.getmtime(os.path.join(d, f)))
            for d, _, files in os.walk(path) for f in files}


def test_a_run_without_recorded_commands_from_another_checkout(model_files, tmp_path, monkeypatch):
    # one timed run per measurement: the latency's value is not checked here, only where it goes
    fast = functools.partial(profiling.profile_model, warmup=0, runs=1)
    monkeypatch.setattr(profiling, 'profile_model', fast)
    # as a run of an older zoo leaves it: no command lines, no zoo test in its record; trained
    # from another checkout's copy of the ZF recipe (the same model: the same fingerprint), --amp
    other = str(tmp_path / 'checkout' / 'configs' / 'faster_rcnn' / 'faster_rcnn_zf_bccd.py')
    a = _work_dir(tmp_path / 'a', model_files, dict(
        config=other, state='finished', started=100.0, finished=700.0, detector='FasterRCNN',
        fingerprint=model_identity(load_config(ZF))['fingerprint']),
        scalars=[_val(0.1, 0.2, 0.05, 1), _val(0.25, 0.5, 0.125, 2)], saved='faster_rcnn_zf_bccd.py')
    # the training's config (amp = True) is in its log folder; a later `zoo test` without --amp
    # rewrote the config dumped at the top of the work dir and left a log folder without scalars
    logged = tmp_path / 'a' / '20260101_120000' / 'vis_data' / 'config.py'
    logged.write_text(open(model_files[0]).read() + 'amp = True\n')
    (tmp_path / 'a' / '20260101_130000' / 'vis_data').mkdir(parents=True)
    shutil.copy(model_files[0], tmp_path / 'a' / '20260101_130000' / 'vis_data' / 'config.py')
    before = _tree(a)
    profiles = tmp_path / 'profiles'
    out = tmp_path / 'model_zoo.md'
    argv = ['model-zoo', a, '--out', str(out), '--profile-dir', str(profiles), '--device', 'cpu']
    assert main(argv) == 0
    assert _tree(a) == before  # nothing written into the work dir
    [saved] = profiles.iterdir()
    profile = json.loads(saved.read_text())
    assert profile['checkpoint'] == os.path.realpath(os.path.join(a, 'epoch_1.pth'))
    registry.discover()
    assert profile['params'] == sum(p.numel() for p in build_detector(
        load_config(model_files[0]).model).parameters())  # the tiny model's, not the recipe's
    text = out.read_text()
    [row] = _rows(text)
    # the tiny model trained here is not the ZF recipe's: marked as changed (in its model)
    mark = ' (the recipe changed since the run: `model.'
    assert row[0].startswith('`zoo::faster_rcnn/faster_rcnn_zf_bccd.py`' + mark)
    assert row[1:] == ['0.250 (val)', '0.500 (val)',
                   '0.125 (val)', f'{profile["params"] / 1e6:.2f}',
                   f'{profile["gflops"]:.1f} ({profile["input_size"][0]}x{profile["input_size"][1]})',
                   f'{profile["latency_ms"]:.1f} (bf16)', '10.0 (amp)', 'not recorded<br>not recorded']
    assert profile['precision'] == 'bfloat16'  # measured as the run runs: under amp
    assert 'This file was written by:\n\n```bash\nzoo model-zoo ' + a in text
    load = profile['load_avg_1min']
    assert f'1-minute load average of the machine just after measuring: {load:.1f} (other' in text
    # measured once per checkpoint: the saved profile is read back ...
    saved.write_text(json.dumps(dict(profile, latency_ms=123.456)))
    assert main(argv) == 0 and _rows(out.read_text())[0][6] == '123.5 (bf16)'
    # ... unless it was measured in float32 (as profiles were before they recorded it) ...
    old = {k: v for k, v in profile.items() if k != 'precision'}
    saved.write_text(json.dumps(dict(old, latency_ms=123.456)))
    assert main(argv) == 0 and _rows(out.read_text())[0][6].endswith(' (bf16)')
    assert json.loads(saved.read_text())['latency_ms'] != 123.456
    saved.write_text(json.dumps(dict(profile, latency_ms=123.456)))
    # ... or the checkpoint changes: then it is measured again
    os.utime(os.path.join(a, 'epoch_1.pth'), (1e9, 1e9))
    assert main(argv) == 0 and _rows(out.read_text())[0][6] != '123.5 (bf16)'
    assert json.loads(saved.read_text())['checkpoint_mtime'] == 1e9 and set(_tree(a)) == set(before)


def test_the_recipe_is_named_only_when_it_is_the_same_model(tmp_path):
    fingerprint = model_identity(load_config(ZF))['fingerprint']
    assert recipe_name(ZF) == 'zoo::faster_rcnn/faster_rcnn_zf_bccd.py'
    other = str(tmp_path / 'configs' / 'faster_rcnn' / 'faster_rcnn_zf_bccd.py')
    assert recipe_name(other, fingerprint) == 'zoo::faster_rcnn/faster_rcnn_zf_bccd.py'
    assert recipe_name(other, '0' * 16) == other  # another model under the same name
    assert recipe_name(other) == other  # no fingerprint recorded: nothing to check it by
    mine = str(tmp_path / 'configs' / 'mine.py')
    assert recipe_name(mine, fingerprint) == mine and recipe_name(None) == 'n/a'


def test_the_profile_runs_in_the_configs_precision(model_files, monkeypatch):
    """amp = True: predict under bfloat16 autocast with the weights cast once (as zoo.Detector
    and zoo infer run it), recorded as the profile's precision; else float32."""
    from zoo.detectors import builder
    built = []
    load = builder.load_model
    monkeypatch.setattr(builder, 'load_model', lambda *a, **k: built.append(load(*a, **k)) or built[-1])
    cfg_path, ckpt = model_files
    registry.discover()
    convs = []
    for amp in (False, True):
        cfg = load_config(cfg_path)
        cfg.amp = amp
        prof = profiling.profile_model(cfg, ckpt, 'cpu', warmup=0, runs=1)
        assert prof['precision'] == ('bfloat16' if amp else 'float32')
        convs.append({n: m.weight.dtype for n, m in built[-1].named_modules()
                      if n.startswith('backbone.') and isinstance(m, torch.nn.Conv2d)})
    # (layers that run in a float32 region keep float32 weights: the backbone's all run cast)
    assert set(convs[0].values()) == {torch.float32} and set(convs[1].values()) == {torch.bfloat16}
    assert len(convs[1]) == 5  # ZF's conv1-conv5
    # amp=False overrides the config's amp
    assert profiling.profile_model(cfg, ckpt, 'cpu', warmup=0, runs=1, amp=False)['precision'] \
        == 'float32'
