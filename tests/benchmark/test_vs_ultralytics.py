"""benchmarks/vs_ultralytics.py without Ultralytics: BCCD in the Ultralytics YOLO layout made by
the zoo's converter (checked against hand-computed normalized boxes of a real BCCD annotation),
the zoo's scoring of outside detections, the dry run, the refusal when Ultralytics is missing,
and the table."""
import importlib.util
import os

import pytest
import yaml

from zoo.benchmark.coco_score import score_detections, split_records
from zoo.datasets.yolo import label_path_of

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BCCD = os.path.join(ROOT, 'data', 'BCCD')
CLASSES = ('RBC', 'WBC', 'Platelets')


def _bench():
    spec = importlib.util.spec_from_file_location(
        'vs_ultralytics', os.path.join(ROOT, 'benchmarks', 'vs_ultralytics.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def converted(tmp_path_factory):
    """(out dir, data.yaml) of BCCD converted by the script's converter (the zoo's)."""
    out = tmp_path_factory.mktemp('vs_ultra')
    return out, _bench().convert_bccd(BCCD, str(out))


def test_bccd_in_ultralytics_layout(converted):
    out, data_yaml = converted
    with open(data_yaml) as f:
        spec = yaml.safe_load(f)
    root = str(out / 'bccd_yolo')
    # an absolute path: Ultralytics reads a relative one under its own datasets folder
    assert spec['path'] == root and os.path.isabs(spec['path'])
    assert spec['names'] == ['RBC', 'WBC', 'Platelets']
    assert {spec[s] for s in ('train', 'val', 'test')} == {'images/train', 'images/val', 'images/test'}
    for split, n in (('train', 205), ('val', 87), ('test', 72)):
        assert len(os.listdir(os.path.join(root, 'images', split))) == n
    img = os.path.join(root, 'images', 'val', 'BloodImage_00000.jpg')
    assert os.path.isfile(img)
    with open(label_path_of(img)) as f:  # Ultralytics' rule: /images/ -> /labels/, .txt
        lines = [line.split() for line in f]
    # BloodImage_00000.xml (640 x 480) holds 20 objects (WBC first, then RBCs); VOC's
    # 1-based corners minus one: WBC <260 177 491 376> -> x 259..490, y 176..375
    assert len(lines) == 20
    assert lines[0][0] == '1'  # WBC
    assert [float(v) for v in lines[0][1:]] == pytest.approx(
        [(259 + 490) / 2 / 640, (176 + 375) / 2 / 480, 231 / 640, 199 / 480], rel=1e-12)
    assert [float(v) for v in lines[0][1:]] == pytest.approx(
        [0.58515625, 0.5739583333333333, 0.3609375, 0.41458333333333336], rel=1e-12)
    # RBC <78 336 184 435> -> x 77..183, y 335..434
    assert lines[1][0] == '0'
    assert [float(v) for v in lines[1][1:]] == pytest.approx(
        [0.203125, 769 / 960, 0.165625, 0.20625], rel=1e-12)


def test_outside_detections_scored_by_the_zoo():
    records = split_records(BCCD, CLASSES, 'val')
    assert len(records) == 87 and records[0]['img_id'] == 'BloodImage_00000'
    perfect = {r['img_id']: dict(bboxes=[i['bbox'] for i in r['instances']],
                                 scores=[1.0] * len(r['instances']),
                                 labels=[i['bbox_label'] for i in r['instances']])
               for r in records}
    metrics = score_detections(records, perfect, CLASSES)
    assert metrics['bbox_mAP'] == pytest.approx(1.0) and metrics['bbox_mAP_50'] == pytest.approx(1.0)
    # every box moved right by its own width: IoU 0 with its ground truth
    moved = {k: dict(v, bboxes=[[x1 + (x2 - x1), y1, x2 + (x2 - x1), y2]
                                for x1, y1, x2, y2 in v['bboxes']]) for k, v in perfect.items()}
    assert score_detections(records, moved, CLASSES)['bbox_mAP_50'] < 0.05
    assert score_detections(records, {}, CLASSES)['bbox_mAP'] == 0.0
    with pytest.raises(ValueError, match='BloodImage_99999'):
        score_detections(records, {'BloodImage_99999': {}}, CLASSES)


def test_dry_run_plans_without_training(converted, capsys):
    out, _ = converted
    assert _bench().main(['--dry-run', '--out-dir', str(out), '--budgets', '5', '15',
                          '--recipes', 'yolov3_bccd', '--systems', 'zoo']) == 0
    text = capsys.readouterr().out
    assert 'plan (2 runs' in text and 'dry run: nothing trained' in text
    assert '--time-budget 5 --fit-schedule ' in text and '--time-budget 15 --fit-schedule ' in text
    assert 'one after the other' in text
    assert not os.path.exists(out / 'zoo')
    assert _bench().main(['--dry-run', '--out-dir', str(out), '--budgets', '5', '--systems', 'zoo',
                          '--no-fit-schedule']) == 0
    text = capsys.readouterr().out
    assert '--time-budget 5 --seed' in text and '--fit-schedule' not in text
    # a copy of a recipe, given its own name in the table (and so in its work dir)
    copy = out / 'candidate.py'
    copy.write_text(f"_base_ = ['{ROOT}/configs/yolo/yolov3_bccd.py']\n")
    assert _bench().main(['--dry-run', '--out-dir', str(out), '--budgets', '5', '--systems', 'zoo',
                          '--recipes', str(copy), 'yolov3_bccd', '--labels', 'yolov3_cand',
                          'yolov3_bccd']) == 0
    text = capsys.readouterr().out
    assert '5 min: zoo yolov3_cand: zoo train ' + str(copy) in text
    assert '5 min: zoo yolov3_bccd: zoo train ' in text and 'zoo candidate' not in text


def test_missing_ultralytics_exits_2_with_install_advice(tmp_path, capsys):
    bench = _bench()
    python = tmp_path / 'python'  # a Python that cannot import ultralytics
    python.write_text('#!/bin/sh\nexit 1\n')
    python.chmod(0o755)
    assert bench.main(['--ultralytics-python', str(python), '--out-dir', str(tmp_path / 'o')]) == 2
    err = capsys.readouterr().err
    assert 'pip install "ultralytics==8.4.*"' in err and 'venv' in err
    assert not os.path.exists(tmp_path / 'o')


def test_bad_arguments_exit_2(tmp_path):
    bench = _bench()
    for argv in (['--budgets', '0'], ['--recipes', 'no_such_recipe', '--systems', 'zoo'],
                 ['--concurrent', '--systems', 'zoo'],
                 # (dry runs: a check that let them through would plan, not train)
                 ['--dry-run', '--systems', 'zoo', '--recipes', 'yolov3_bccd', '--labels', 'a', 'b'],
                 ['--dry-run', '--systems', 'zoo', '--recipes', 'yolov3_bccd', 'yolov3_spp_bccd',
                  '--labels', 'same', 'same'],
                 ['--dry-run', '--systems', 'zoo', '--recipes', 'yolov3_bccd', '--labels', '../up']):
        with pytest.raises(SystemExit) as info:
            bench.main(argv + ['--out-dir', str(tmp_path)])
        assert info.value.code == 2


def test_markdown_table():
    runs = [dict(system='zoo yolov3_bccd', budget_min=5.0, AP=0.3214, AP50=0.7012,
                 stopped_at=dict(epoch=4, iter=100, elapsed_s=306), train_wall_s=330),
            dict(system='Ultralytics YOLOv8n', budget_min=5.0, AP=0.25, AP50=0.6,
                 epochs_done=7, epochs_planned=7, train_s=299, train_wall_s=320),
            dict(system='zoo yolov1_bccd', budget_min=5.0, error='zoo train exited 1'),
            dict(system='zoo yolov3_mosaic_bccd', budget_min=5.0, AP=0.4, AP50=0.8, stopped_at=None,
                 schedule_fit=dict(configured_epochs=12, fitted_epochs=17, mean_epoch_s=17.0,
                                   after_epoch=17), train_wall_s=300)]
    runs[0]['seed'] = 1
    runs.append(dict(runs[0], seed=0, AP=0.3))
    assert _bench().markdown_table(runs).splitlines()[2:] == [
        '| Ultralytics YOLOv8n | 5 | - | 25.0 | 60.0 | epoch 7 of 7 | 5.0 | 5.3 |',
        '| zoo yolov1_bccd | 5 | - | - | - | zoo train exited 1 | - | 0.0 |',
        '| zoo yolov3_bccd | 5 | 0 | 30.0 | 70.1 | epoch 4, iter 100 | 5.1 | 5.5 |',
        '| zoo yolov3_bccd | 5 | 1 | 32.1 | 70.1 | epoch 4, iter 100 | 5.1 | 5.5 |',
        '| zoo yolov3_mosaic_bccd | 5 | - | 40.0 | 80.0 | epoch 17 of 17 (fitted) | 4.8 | 5.0 |']


def test_curve_points_average_the_seeds_of_a_budget():
    runs = [dict(system='a', budget_min=60.0, seed=0, AP=0.605, AP50=0.9),
            dict(system='a', budget_min=60.0, seed=1, AP=0.595, AP50=0.92),
            dict(system='a', budget_min=5.0, seed=0, AP=0.5, AP50=0.8),
            dict(system='a', budget_min=15.0, seed=0, error='x'),
            dict(system='b', budget_min=60.0, seed=0, AP=0.1, AP50=0.2)]
    pts = _bench().curve_points(runs, 'a', 'AP')
    assert [(b, n) for b, _, _, _, n in pts] == [(5.0, 1), (60.0, 2)]
    assert pts[0][1:4] == pytest.approx((50.0, 50.0, 50.0))
    assert pts[1][1:4] == pytest.approx((60.0, 59.5, 60.5))


def test_merge_joins_earlier_runs_and_leaves_out_the_failed(tmp_path, capsys):
    import json
    bench = _bench()
    a, b = tmp_path / 'a', tmp_path / 'b'
    bench.write_reports([dict(system='Ultralytics YOLOv8n', budget_min=5.0, AP=0.3, AP50=0.5,
                              epochs_done=3, epochs_planned=3, train_s=300, train_wall_s=310),
                         dict(system='zoo yolov3_bccd', budget_min=60.0, error='zoo train exited -15')],
                        dict(machine='m'), str(a))
    bench.write_reports([dict(system='zoo yolov3_bccd', budget_min=5.0, AP=0.5, AP50=0.9,
                              stopped_at=dict(epoch=2, iter=50, elapsed_s=300), train_wall_s=300)],
                        dict(machine='m', seed=3), str(b))
    assert bench.main(['--merge', str(a), str(b), '--out-dir', str(tmp_path / 'all')]) == 0
    assert 'left out: zoo yolov3_bccd (60 min)' in capsys.readouterr().out
    merged = json.loads((tmp_path / 'all' / 'results.json').read_text())
    assert [(r['system'], r['budget_min']) for r in merged['runs']] == [
        ('Ultralytics YOLOv8n', 5.0), ('zoo yolov3_bccd', 5.0)]
    # a run without its own seed takes its invocation's (b: 3; a: none recorded, 0)
    assert [r['seed'] for r in merged['runs']] == [0, 3]
    assert [s['results'] for s in merged['sources']] == [str(a / 'results.json'), str(b / 'results.json')]
    assert (tmp_path / 'all' / 'curves.png').stat().st_size > 0
    with pytest.raises(SystemExit) as info:
        bench.main(['--merge', str(tmp_path / 'nothing'), '--out-dir', str(tmp_path / 'x')])
    assert info.value.code == 2


def test_worker_without_ultralytics_exits_2(tmp_path, capsys):
    if importlib.util.find_spec('ultralytics') is not None:
        # the path under test is the missing package: with ultralytics installed (it is not a
        # dependency, and CI does not install it) there is nothing to check
        pytest.skip('ultralytics is installed here; this checks the message when it is missing')
    spec = tmp_path / 'spec.json'
    spec.write_text('{}')
    assert _bench().main(['--ultralytics-worker', str(spec)]) == 2
    assert 'pip install "ultralytics==8.4.*"' in capsys.readouterr().err
