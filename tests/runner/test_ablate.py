"""`zoo ablate` and `zoo compare` end to end: a 2 x 1 grid of tiny ZF models on 4 BCCD images
(the 2 x 2 product is checked by the dry run), resume after a failure, dry run and emitted
commands."""
import csv
import json
import os
import textwrap

import pytest
import torch

from zoo.cli.main import main

PNG_MAGIC = b'\x89PNG\r\n\x1a\n'


def write_ablation(tmp_path, base: str, body: str) -> str:
    path = tmp_path / 'tiny_grid.py'
    path.write_text(f'base = {base!r}\n' + textwrap.dedent(body))
    return str(path)


GRID = '''
    common = {'train_dataloader.dataset.indices': 4, 'test_dataloader.dataset.indices': 4}
    axes = dict(
        roi=dict(key='model.roi_head.bbox_roi_extractor.roi_layer',
                 values=[dict(type='RoIPool', output_size=6),
                         dict(type='RoIAlign', output_size=6, sampling_ratio=2)]),
        fc=dict(key='model.roi_head.bbox_head.fc_out_channels', values=[32, 64]))
'''
NAMES = ['roi=RoIPool, fc=32', 'roi=RoIPool, fc=64', 'roi=RoIAlign, fc=32', 'roi=RoIAlign, fc=64']
# Trained end to end: both RoI layers at one width (each run is two child processes).
GRID_RUN = GRID.replace('values=[32, 64]', 'values=[32]')
RUN_NAMES = ['roi=RoIPool, fc=32', 'roi=RoIAlign, fc=32']


def _fc_params(fc: int, num_classes: int = 3) -> int:
    """fc6 (256 x 6 x 6 ZF conv5 RoI features), fc7, classifier (C + 1), class-specific box
    regression (4 C): the parameters of the box head that depend on its width."""
    return (256 * 36 * fc + fc) + (fc * fc + fc) + fc * (num_classes + 1) + fc * 4 * num_classes


def test_grid_end_to_end(tiny_config, tmp_path, capsys):
    ablation = write_ablation(tmp_path, tiny_config(), GRID_RUN)
    work = tmp_path / 'grid'
    assert main(['ablate', ablation, '--work-dir', str(work)]) == 0
    out = capsys.readouterr().out
    assert 'run 1/2 (1 left after it)' in out and 'ETA' in out  # progress
    for name in RUN_NAMES:
        assert f'{name} seed 0: finished' in out

    # every run: its full config, metrics from `zoo test`, a profile
    manifest = json.loads((work / 'ablation.json').read_text())
    assert [v['name'] for v in manifest['variants']] == RUN_NAMES
    # a one-value axis is a change every variant shares
    assert manifest['common_changes'] == ['model.roi_head.bbox_head.fc_out_channels=32',
                                          'test_dataloader.dataset.indices=4',
                                          'train_dataloader.dataset.indices=4']
    runs = {v['name']: work / v['dir'] / 'seed_0' for v in manifest['variants']}
    for name, d in runs.items():
        text = (d / 'config.py').read_text()
        assert ('RoIAlign' in text) == ('RoIAlign' in name)
        assert "'val_dataloader'" not in text and 'val_dataloader =' not in text  # tested once
        assert (d / 'epoch_1.pth').is_file()

    # the CSV: one row per variant, numbers as the runs measured them
    with open(work / 'results.csv') as f:
        rows = {r['variant']: r for r in csv.DictReader(f)}
    assert list(rows) == RUN_NAMES
    for name, d in runs.items():
        metrics = json.loads((d / 'metrics.json').read_text())['metrics']
        profile = json.loads((d / 'profile.json').read_text())
        row = rows[name]
        assert float(row['AP']) == pytest.approx(metrics['coco/bbox_mAP'])
        assert float(row['AP50']) == pytest.approx(metrics['coco/bbox_mAP_50'])
        assert float(row['AP_WBC']) == pytest.approx(metrics['coco/bbox_AP_WBC'])
        assert row['APs'] == ''  # no small object in these 4 images: COCO's -1 is not a number
        assert int(row['params']) == profile['params']
        assert float(row['latency_ms']) == pytest.approx(profile['latency_ms'])
        assert profile['latency_ms'] > 0
        assert float(row['gflops']) > 0 and row['input_size'] == '128x160'
        assert row['device'] == ('cuda' if torch.cuda.is_available() else 'cpu')
        assert float(row['train_time_s']) > 0 and row['seeds'] == '0'
    # RoIAlign and RoIPool have no parameters: the two models are the same size
    assert rows[RUN_NAMES[0]]['params'] == rows[RUN_NAMES[1]]['params']
    assert int(rows[RUN_NAMES[0]]['params']) > _fc_params(32)
    assert rows['roi=RoIPool, fc=32']['changes'] == ''  # only the common changes
    assert rows['roi=RoIAlign, fc=32']['changes'].split('; ') == [
        'model.roi_head.bbox_roi_extractor.roi_layer.sampling_ratio=2',
        'model.roi_head.bbox_roi_extractor.roi_layer.type=RoIAlign']

    # the markdown table shows the same, with the differing keys
    table = (work / 'results.md').read_text()
    lines = [line for line in table.splitlines() if line.startswith('| roi=')]
    assert [line.split(' | ')[0][2:] for line in lines] == RUN_NAMES
    assert '`model.roi_head.bbox_roi_extractor.roi_layer.type=RoIAlign`' in lines[1]
    assert f'{float(rows[RUN_NAMES[0]]["AP50"]):.3f}' in lines[0].split(' | ')[2]

    # both plots, and the loss curves in results.json are those the runs logged
    for png in ('ap_vs_latency.png', 'loss_curves.png'):
        data = (work / png).read_bytes()
        assert data[:8] == PNG_MAGIC and len(data) > 5000
    results = json.loads((work / 'results.json').read_text())
    run = next(r for r in results['runs'] if r['variant'] == RUN_NAMES[0])
    logged = []
    for line in open(next(runs[RUN_NAMES[0]].glob('2*/vis_data/scalars.json'))):
        entry = json.loads(line)
        if 'loss' in entry:
            logged.append([entry['step'], entry['loss']])
    assert run['loss_curve'] == logged and len(logged) == 4  # 4 images, batch 1, logged each

    # `zoo compare` makes the same table from the finished runs
    again = tmp_path / 'compared'
    assert main(['compare', str(work), '--out-dir', str(again), '--reprofile']) == 0
    remeasured = json.loads((runs[RUN_NAMES[0]] / 'profile.json').read_text())
    assert remeasured['params'] == int(rows[RUN_NAMES[0]]['params'])
    with open(again / 'results.csv') as f:
        assert {r['variant']: r['AP50'] for r in csv.DictReader(f)} == \
            {n: r['AP50'] for n, r in rows.items()}


def test_resume_skips_finished_and_records_failure(tiny_config, tmp_path, capsys):
    ablation = write_ablation(tmp_path, tiny_config(), '''
        variants = dict(good=dict(), broken={'model.backbone.norm': 'bogus'})
    ''')
    work = tmp_path / 'abl'
    assert main(['ablate', ablation, '--work-dir', str(work)]) == 1  # a run failed
    out = capsys.readouterr().out
    assert 'good seed 0: finished' in out and 'broken seed 0: FAILED at train' in out
    status = json.loads((work / 'broken/seed_0/status.json').read_text())
    assert status['state'] == 'failed' and 'bogus' in status['error']
    assert "model.backbone" in status['error']  # the key path of the bad value
    table = (work / 'results.md').read_text()
    assert '## Failed runs' in table and 'broken seed 0:' in table and 'bogus' in table
    good_ckpt = work / 'good/seed_0/epoch_1.pth'
    stamp = good_ckpt.stat().st_mtime_ns

    # again without --resume: refused, nothing overwritten
    assert main(['ablate', ablation, '--work-dir', str(work)]) == 2
    assert '--resume' in capsys.readouterr().err
    # with --resume: the finished run is skipped, the failed one is retried (and fails again)
    assert main(['ablate', ablation, '--work-dir', str(work), '--resume']) == 1
    out = capsys.readouterr().out
    assert 'skip good seed 0: finished earlier' in out
    assert 'run 1/1' in out and 'broken seed 0: FAILED' in out
    assert good_ckpt.stat().st_mtime_ns == stamp
    with open(work / 'results.csv') as f:
        rows = {r['variant']: r for r in csv.DictReader(f)}
    assert rows['good']['AP50'] != '' and rows['broken']['AP50'] == ''
    assert 'bogus' in rows['broken']['failed']

    # the ablation changed since: its finished run would not match, so --resume refuses
    text = open(ablation).read().replace('good=dict()', "good={'train_cfg.max_epochs': 2}")
    open(ablation, 'w').write(text)
    assert main(['ablate', ablation, '--work-dir', str(work), '--resume']) == 2
    assert 'its config is not the one' in capsys.readouterr().err
    assert good_ckpt.stat().st_mtime_ns == stamp


def test_dry_run_and_emitted_commands(tiny_config, tmp_path, capsys):
    ablation = write_ablation(tmp_path, tiny_config(), GRID)
    assert main(['ablate', ablation, '--dry-run', '--seeds', '0', '1']) == 0
    out = capsys.readouterr().out
    assert '4 variant(s) x 2 seed(s) [0, 1]' in out
    assert "model.roi_head.bbox_roi_extractor.roi_layer.type: 'RoIPool' -> 'RoIAlign'" in out
    assert 'model.roi_head.bbox_roi_extractor.roi_layer.sampling_ratio: (absent) -> 2' in out
    assert not os.path.exists('work_dirs/ablations/tiny_grid')  # a dry run writes nothing

    work = tmp_path / 'cluster'
    assert main(['ablate', ablation, '--work-dir', str(work), '--emit-commands',
                 '--seeds', '0', '1']) == 0
    lines = capsys.readouterr().out.splitlines()
    train = [line for line in lines if line.startswith('zoo train ')]
    test = [line for line in lines if line.startswith('zoo test ')]
    assert len(train) == len(test) == 8 and lines[-1] == f'# then: zoo compare {work}'
    # every variant's first seed first
    assert all('/seed_0/config.py' in line for line in train[:4])
    cfg = work / 'roi=RoIAlign__fc=32' / 'seed_1' / 'config.py'
    assert f'zoo train {cfg} --work-dir {cfg.parent}' in train
    assert "seed=1" in cfg.read_text().replace(' ', '')
    assert not list(work.glob('*/*/*.pth'))  # nothing trained


@pytest.mark.parametrize('body, message', [
    ('axes = dict(roi=dict(key="a.b"))', "axes.roi must be dict(key="),
    ('axes = dict(x=dict(key="a", values=[]))', 'axes.x.values is empty'),
    ('variants = dict(a=dict(base="nowhere.py"))', "variants.a.base"),
    ('seeds = ["zero"]', 'seeds must be a non-empty list of ints'),
    ('axis = dict()', "unknown variable(s) ['axis']"),
])
def test_bad_ablation_files(tiny_config, tmp_path, capsys, body, message):
    ablation = write_ablation(tmp_path, tiny_config(), body)
    assert main(['ablate', ablation, '--dry-run']) == 2
    err = capsys.readouterr().err
    assert message in err and 'tiny_grid.py' in err


def test_a_variant_whose_num_classes_disagrees_with_its_data_fails_before_anything_trains(
        tiny_config, tmp_path, capsys):
    """`zoo train` refuses a model whose num_classes is not the dataset's; an ablation checks
    every variant the same way up front, so a bad last variant does not fail hours in."""
    ablation = write_ablation(tmp_path, tiny_config(), '''
        variants = dict(good=dict(), five={'model.roi_head.bbox_head.num_classes': 5})
    ''')
    assert main(['ablate', ablation, '--dry-run']) == 2
    err = capsys.readouterr().err
    assert "variant 'five'" in err and 'model.roi_head.bbox_head.num_classes = 5' in err
    assert 'dataset has 3 classes' in err and 'tiny_grid.py' in err
    work = tmp_path / 'abl'
    assert main(['ablate', ablation, '--work-dir', str(work)]) == 2
    assert "variant 'five'" in capsys.readouterr().err
    assert not work.exists()  # nothing written, the good variant not trained either


def test_compare_plain_work_dirs(tiny_config, tmp_path, capsys):
    """`zoo compare` on two `zoo train` work dirs: metrics of their last validation, profile
    measured on the spot, the differing config key shown."""
    cfg = tiny_config()
    narrow, wide = tmp_path / 'fc32', tmp_path / 'fc64'
    assert main(['train', cfg, '--work-dir', str(narrow), '--cfg-options',
                 'model.roi_head.bbox_head.fc_out_channels=32']) == 0
    assert main(['train', cfg, '--work-dir', str(wide)]) == 0
    out_dir = tmp_path / 'table'
    assert main(['compare', str(narrow), str(wide), '--out-dir', str(out_dir)]) == 0
    capsys.readouterr()
    with open(out_dir / 'results.csv') as f:
        rows = {r['variant']: r for r in csv.DictReader(f)}
    assert list(rows) == ['fc32', 'fc64']
    for name, work in (('fc32', narrow), ('fc64', wide)):
        last_val = [json.loads(line) for line in open(next(work.glob('2*/vis_data/scalars.json')))
                    if 'coco/bbox_mAP' in line][-1]
        assert float(rows[name]['AP50']) == pytest.approx(last_val['coco/bbox_mAP_50'])
        assert (work / 'profile.json').is_file() and float(rows[name]['train_time_s']) > 0
    assert rows['fc32']['changes'] == 'model.roi_head.bbox_head.fc_out_channels=32'
    assert rows['fc64']['changes'] == 'model.roi_head.bbox_head.fc_out_channels=64'
    assert int(rows['fc64']['params']) - int(rows['fc32']['params']) == \
        _fc_params(64) - _fc_params(32)


def test_an_ablation_can_start_from_a_shipped_recipe(tmp_path, capsys):
    """``base = 'zoo::...'`` names a shipped recipe from any folder (a dry run builds nothing)."""
    ablation = write_ablation(tmp_path, 'zoo::faster_rcnn/faster_rcnn_zf_bccd.py', '''
        variants = dict(fc512={'model.roi_head.bbox_head.fc_out_channels': 512})
    ''')
    assert main(['ablate', ablation, '--dry-run']) == 0
    assert "model.roi_head.bbox_head.fc_out_channels: 1024 -> 512" in capsys.readouterr().out
    bad = write_ablation(tmp_path, 'zoo::faster_rcnn/no_such_recipe.py', 'seeds = [0]')
    assert main(['ablate', bad, '--dry-run']) == 2
    assert 'no such shipped config' in capsys.readouterr().err
