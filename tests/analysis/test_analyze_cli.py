"""``zoo analyze`` and ``zoo plot`` end to end on a model trained for two iterations (the tiny ZF
recipe of tests/runner/conftest.py)."""
import importlib.util
import json
import os

import pytest

from zoo.cli.main import main

HERE = os.path.dirname(os.path.abspath(__file__))
OUTPUTS = ('pr_curves.png', 'pr_curves.json', 'confusion_matrix.png', 'confusion_matrix.json',
           'tide.txt', 'tide.json', 'tide.png')


def _tiny_config_writer():
    spec = importlib.util.spec_from_file_location(
        'runner_conftest', os.path.join(os.path.dirname(HERE), 'runner', 'conftest.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.write_tiny_config


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    """(config, work dir) of a tiny ZF model trained for 1 iteration and tested on 2 images; every
    detection kept (score_thr 0), so that there is something to analyze."""
    tmp = tmp_path_factory.mktemp('analyze')
    cfg = _tiny_config_writer()(tmp, train_images=1,
                                extra="model['test_cfg']['rcnn'] = dict(score_thr=0.0)\n")
    work = tmp / 'work'
    # with TensorBoard when it is installed (test_tensorboard_event_files)
    tensorboard = ['--tensorboard'] if importlib.util.find_spec('tensorboard') else []
    assert main(['train', cfg, '--work-dir', str(work), *tensorboard]) == 0
    return cfg, work


def test_analyze_a_work_dir_then_its_results(trained, tmp_path, capsys):
    cfg, work = trained
    out = tmp_path / 'a'
    assert main(['analyze', cfg, str(work), '--out-dir', str(out), '--score-thr', '0.0',
                 '--top-k', '1']) == 0
    printed = capsys.readouterr().out
    assert 'TIDE error breakdown' in printed and 'analysis written to' in printed
    for name in OUTPUTS + ('results.json',):
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
    assert len(list((out / 'gallery_missed').glob('*.png'))) == 1
    assert len(list((out / 'gallery_false').glob('*.png'))) == 1
    # the AP50 of the curves is the one `zoo test` logged (pycocotools)
    test_logs = ''.join(p.read_text() for p in out.glob('2*/*.log'))
    logged = float(test_logs.split('coco/bbox_mAP_50: ')[-1].split()[0])
    curves = json.loads((out / 'pr_curves.json').read_text())
    assert curves['iou_thresholds']['0.5']['mAP'] == pytest.approx(logged, abs=1e-4)
    tide = json.loads((out / 'tide.json').read_text())
    assert tide['ap'] == pytest.approx(logged, abs=1e-4)
    assert set(tide['errors']) == {'cls', 'loc', 'both', 'duplicate', 'background', 'missed'}
    matrix = json.loads((out / 'confusion_matrix.json').read_text())
    assert matrix['rows'][-1] == 'background' and len(matrix['matrix']) == 4

    # the same from the saved results: the same numbers
    again = tmp_path / 'b'
    assert main(['analyze', cfg, '--results', str(out / 'results.json'), '--out-dir', str(again),
                 '--score-thr', '0.0', '--top-k', '1']) == 0
    for name in ('pr_curves.json', 'confusion_matrix.json', 'tide.json', 'tide.txt'):
        assert (again / name).read_text() == (out / name).read_text(), name
    # earlier outputs are not overwritten unless asked
    before = (again / 'tide.json').stat().st_mtime_ns
    assert main(['analyze', cfg, '--results', str(out / 'results.json'),
                 '--out-dir', str(again)]) == 2
    assert 'already holds' in capsys.readouterr().err
    assert (again / 'tide.json').stat().st_mtime_ns == before


def test_analyze_usage_errors(trained, tmp_path, capsys):
    cfg, work = trained
    assert main(['analyze', cfg, '--out-dir', str(tmp_path / 'x')]) == 2
    assert 'give a checkpoint' in capsys.readouterr().err
    bad = tmp_path / 'bad.json'
    bad.write_text(json.dumps([dict(image_id=99, category_id=1, bbox=[0, 0, 1, 1], score=1.0)]))
    assert main(['analyze', cfg, '--results', str(bad), '--out-dir', str(tmp_path / 'y')]) == 2
    assert 'image_id 99' in capsys.readouterr().err


def test_plot_curves_of_a_work_dir(trained, tmp_path, capsys):
    cfg, work = trained
    png = tmp_path / 'curves.png'
    assert main(['plot', str(work), str(work), '--keys', 'loss,coco/bbox_mAP_50',
                 '--legend', 'one,two', '--out', str(png)]) == 0
    assert png.is_file() and png.stat().st_size > 0
    assert 'loss (1 points), coco/bbox_mAP_50 (1 points)' in capsys.readouterr().out
    assert main(['plot', str(work), '--keys', 'loss,no_such_key', '--out', str(png)]) == 2
    err = capsys.readouterr().err
    assert "'no_such_key'" in err and 'loss_rpn_cls' in err and 'coco/bbox_mAP_50' in err


def test_tensorboard_event_files(trained):
    pytest.importorskip('tensorboard')
    _, work = trained
    events = list(work.glob('2*/vis_data/events.out.tfevents.*'))
    assert len(events) == 1 and events[0].stat().st_size > 0
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    acc = EventAccumulator(str(events[0].parent))
    acc.Reload()
    assert {'loss', 'lr', 'coco/bbox_mAP_50'} <= set(acc.Tags()['scalars'])
    assert list(work.glob('2*/vis_data/scalars.json'))  # the local backend is kept


def test_tensorboard_without_the_package_names_the_extra(trained, tmp_path, monkeypatch, capsys):
    cfg, _ = trained
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, 'find_spec',
                        lambda name, *a: None if name == 'tensorboard' else real(name, *a))
    assert main(['train', cfg, '--work-dir', str(tmp_path / 'w'), '--tensorboard']) == 2
    err = capsys.readouterr().err
    assert 'detection-zoo[tensorboard]' in err and 'TensorboardVisBackend' in err


def test_the_test_run_gets_the_shared_options_and_zoo_tests_defaults(monkeypatch):
    # `zoo analyze CKPT` runs `zoo test`: the options both have as given, the ones only `zoo test`
    # has (here one it might gain later) at `zoo test`'s defaults, detections and logs to --out-dir
    import argparse

    from zoo.cli import analyze_cmd, test_cmd
    real = test_cmd.add_parsers

    def add_parsers(sub, common):
        real(sub, common)
        sub.choices['test'].add_argument('--new-option', default='its default')
    monkeypatch.setattr(test_cmd, 'add_parsers', add_parsers)
    args = argparse.Namespace(command='analyze', func=analyze_cmd.run, config='c.py',
                              checkpoint='work', results=None, out_dir='D', overwrite=False,
                              cfg_options=['model.x=1'], data='own', classes=['a'],
                              val_fraction=0.3, score_thr=0.3, iou_thr=0.5, top_k=5,
                              tide_fg=0.5, tide_bg=0.1)
    t = analyze_cmd._test_args(args, 'D/results.json', 'D')
    assert (t.config, t.checkpoint, t.cfg_options) == ('c.py', 'work', ['model.x=1'])
    assert (t.data, t.classes, t.val_fraction) == ('own', ['a'], 0.3)
    assert (t.out, t.metrics, t.work_dir, t.launcher) == ('D/results.json', None, 'D', 'none')
    assert t.new_option == 'its default' and t.func is test_cmd.run
    assert not hasattr(t, 'score_thr')  # analyze's own options stay out
