"""benchmarks/vs_torchvision.py end to end at a small scale: it checks the outputs, times both
implementations interleaved, measures memory and writes its JSON; it refuses to time models
that disagree."""
import importlib.util
import json
import os

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _bench():
    spec = importlib.util.spec_from_file_location(
        'vs_torchvision', os.path.join(ROOT, 'benchmarks', 'vs_torchvision.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SMALL = ['--sizes', '160/300', '--images', '2', '--infer-batches', '1', '2', '--train-batch', '2',
         '--repeats', '2', '--warmup', '0']


def test_benchmark_checks_times_and_reports(tmp_path, capsys):
    bench = _bench()
    out = tmp_path / 'bench.json'
    assert bench.main(SMALL + ['--no-recipes', '--out', str(out)]) == 0
    report = json.loads(out.read_text())
    assert report['outputs_identical'] is True
    assert report['machine']['torchvision'] and report['settings']['repeats'] == 2
    (size,) = report['sizes']
    assert size['size'] == '160/300' and size['image_hw'] == [160, 213]
    for key in ('agreement', 'agreement_batched'):
        assert size[key]['ok'] and size[key]['detections'] > 20
    for key, per_call in (('inference_batch1', 1), ('inference_batch2', 2), ('train_batch2', 2)):
        res = size[key]
        tv, zoo = res['seconds_per_call']['torchvision'], res['seconds_per_call']['zoo']
        assert len(res['all_seconds']['zoo']) == 2 and tv > 0 and zoo > 0
        assert abs(res['speedup'] - tv / zoo) < 1e-9
        assert abs(res['images_per_second']['zoo'] - per_call / zoo) < 1e-9
        peak = res['memory']['peak_mib']
        assert peak['torchvision'] > 1 and peak['zoo'] > 1
        assert abs(res['memory']['ratio'] - peak['zoo'] / peak['torchvision']) < 1e-9
    printed = capsys.readouterr().out
    assert 'identical' in printed and 'speedup' in printed


def test_benchmark_refuses_to_time_disagreeing_models(tmp_path, monkeypatch, capsys):
    bench = _bench()
    twin = bench.zoo_twin

    def broken_twin(tv, **kwargs):
        model = twin(tv, **kwargs)
        with torch.no_grad():
            model.roi_head.bbox_head.fc_reg.bias.add_(0.5)  # every box moves
        return model
    monkeypatch.setattr(bench, 'zoo_twin', broken_twin)
    out = tmp_path / 'bench.json'
    assert bench.main(SMALL + ['--out', str(out)]) == 1
    report = json.loads(out.read_text())
    (size,) = report['sizes']
    assert report['outputs_identical'] is False and size['failed']
    assert not size['agreement']['ok'] and 'no partner' in size['agreement']['problems'][0]
    assert 'inference_batch1' not in size and 'recipes' not in report
    assert 'DIFFERENT' in capsys.readouterr().out


def test_recipe_timings_stand_beside_the_paper(tmp_path):
    bench = _bench()
    args = bench.parse_args(['--repeats', '1', '--warmup', '0', '--images', '4'])
    rows = bench.bench_recipes(args, torch.device('cpu'), bench.load_bccd(1))
    assert [r['recipe'] for r in rows] == ['ZF', 'VGG16']
    assert [r['paper_ms_k40'] for r in rows] == [59.0, 198.0]
    for r in rows:
        assert r['image_hw'] == [600, 800] and r['proposals'] == 300 and r['ms_per_image'] > 0
