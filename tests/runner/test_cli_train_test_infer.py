"""The main job in miniature, through the command line: train on 2 BCCD images, test, infer."""
import json
import os

from zoo.cli.main import main

from conftest import ROOT


# a model trained for two iterations scores below the recipe's 0.05: keep every detection, so
# that the results below cannot be empty
KEEP_ALL_DETECTIONS = "model['test_cfg']['rcnn'] = dict(score_thr=0.0)\n"


def test_train_then_test_then_infer(tiny_config, tmp_path, capsys):
    cfg = tiny_config(extra=KEEP_ALL_DETECTIONS)
    work = tmp_path / 'work'
    assert main(['train', cfg, '--work-dir', str(work)]) == 0
    assert 'training finished' in capsys.readouterr().out
    assert (work / 'epoch_1.pth').is_file()
    assert any(f.startswith('best_coco_bbox_mAP_50') for f in os.listdir(work))
    logs = ''.join(open(p).read() for p in work.glob('*/*.log'))
    assert 'loss_rpn_cls' in logs and 'lr:' in logs and 'eta:' in logs  # losses, lr, ETA logged
    assert 'coco/bbox_mAP_50' in logs

    results = tmp_path / 'results.json'
    assert main(['test', cfg, str(work), '--out', str(results)]) == 0  # a work dir: its best
    dets = json.loads(results.read_text())
    assert isinstance(dets, list) and dets, 'a score threshold of 0 keeps detections'
    assert len({d['image_id'] for d in dets}) == 2  # both test images have some
    for det in dets:  # COCO results format, original-image pixels (BCCD: 640 x 480)
        assert set(det) >= {'image_id', 'category_id', 'bbox', 'score'} and len(det['bbox']) == 4
        x, y, w, h = det['bbox']
        assert x >= 0 and y >= 0 and w > 0 and h > 0
        assert x + w <= 640 + 1e-3 and y + h <= 480 + 1e-3
        assert det['category_id'] in (1, 2, 3) and 0 < det['score'] <= 1

    # the run record keeps both command lines and zoo test's metrics: a model-zoo row
    record = json.loads((work / 'zoo_run.json').read_text())
    assert record['command'] == f'zoo train {cfg} --work-dir {work}'
    assert record['test']['command'] == f'zoo test {cfg} {work} --out {results}'
    ap50 = record['test']['metrics']['coco/bbox_mAP_50']
    assert main(['model-zoo', str(work), '--out', str(tmp_path / 'zoo.md')]) == 0
    row = (tmp_path / 'zoo.md').read_text().splitlines()[-1]
    assert f'| {ap50:.3f} |' in row and f'`zoo train {cfg} --work-dir {work}`<br>`zoo test' in row
    assert json.loads((work / 'profile.json').read_text())['params'] > 0  # measured now, kept

    image = os.path.join(ROOT, 'data/BCCD/JPEGImages/BloodImage_00001.jpg')
    # the work dir alone (mmengine's dump of the config, its best checkpoint) gives zoo test's model
    from zoo.inference import Detector
    assert len(Detector.from_work_dir(str(work))(image)) > 0
    out_dir = tmp_path / 'infer'
    assert main(['infer', cfg, str(work / 'epoch_1.pth'), image, '--out-dir', str(out_dir),
                 '--score-thr', '0.0', '--show-proposals', '5']) == 0
    assert (out_dir / 'BloodImage_00001.png').is_file()
    records = json.loads((out_dir / 'detections.json').read_text())
    assert records, 'a score threshold of 0 keeps every detection'
    assert len(records) <= 100  # the recipe's max_per_img
    for r in records:
        assert set(r) == {'image', 'bbox', 'score', 'label', 'label_name'}
        assert r['label_name'] == ('RBC', 'WBC', 'Platelets')[r['label']]
        x1, y1, x2, y2 = r['bbox']
        assert 0 <= x1 <= x2 <= 640 and 0 <= y1 <= y2 <= 480  # original-image pixels


def test_browse_draws_ground_truth(tiny_config, tmp_path, capsys):
    assert main(['browse', tiny_config(), '--out-dir', str(tmp_path / 'b'), '-n', '2']) == 0
    assert len(list((tmp_path / 'b').glob('*.png'))) == 2
    assert 'boxes' in capsys.readouterr().out



def test_two_runs_in_one_second_log_into_their_own_files(tiny_config, tmp_path, monkeypatch):
    """mmengine reuses a logger of the same `<config>_<timestamp>` name: two runners of one
    config built within the same second in one process must still log into their own work dirs
    (a test once read another run's log file and found nothing)."""
    from zoo.config import load_config
    from zoo.runner.build import build_runner
    import time
    cfg_path = tiny_config()
    now = time.time()
    monkeypatch.setattr(time, 'time', lambda: now)  # both runners get the same timestamp
    runners = []
    for name in ('a', 'b'):
        cfg = load_config(cfg_path)
        cfg.work_dir = str(tmp_path / name)
        runners.append(build_runner(cfg))
    a, b = runners
    assert a.logger is not b.logger
    files = [[h.baseFilename for h in r.logger.handlers if hasattr(h, 'baseFilename')]
             for r in runners]
    assert files[0] and files[1]
    assert files[0][0].startswith(str(tmp_path / 'a')) and files[1][0].startswith(str(tmp_path / 'b'))
