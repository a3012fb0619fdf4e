"""benchmarks/vs_torchvision.py end to end at a small scale: it checks the outputs, times both
implementations interleaved, measures memory and writes its JSON; it refuses to time models
that disagree."""
import importlib.util
import json
import os

import pytest
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _bench():
    spec = importlib.util.spec_from_file_location(
        'vs_torchvision', os.path.join(ROOT, 'benchmarks', 'vs_torchvision.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SMALL = ['--sizes', '160/300', '--images', '2', '--infer-batches', '1', '2', '--train-batch', '2',
         '--repeats', '2', '--warmup', '0', '--peak-size', '256', '--peak-repeats', '2']


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
        # FLOPs per call (the same network: within 2 %), their rate and share of the peak
        flop = res['gflop_per_call']
        assert flop['zoo'] > 1 and abs(flop['zoo'] / flop['torchvision'] - 1) < 0.02
        for k in ('torchvision', 'zoo'):
            rate = flop[k] / res['seconds_per_call'][k]
            assert abs(res['gflops_per_second'][k] - rate) < 1e-9 * rate
            assert abs(res['peak_fraction'][k] - rate / res['peak_gflops']) < 1e-9
    assert size['precision'] == 'float32' and 'amp_agreement' not in size
    (peak,) = report['matmul_peak'].values()
    assert peak['dtype'] == 'float32' and peak['n'] == 256
    assert res['peak_gflops'] == peak['gflops'] > 0
    assert '| 160/300 | training step, batch 2 | float32 |' in report['markdown']
    printed = capsys.readouterr().out
    assert 'identical' in printed and 'speedup' in printed and 'matrix-product peak' in printed


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


@pytest.mark.slow
def test_amp_on_the_cpu_times_bfloat16_and_reports_agreement(tmp_path, capsys):
    """A tiny --amp run (bfloat16 on the CPU): torchvision runs with the zoo's float32 regions,
    the agreement of each pair is reported, and the peak is measured in both precisions."""
    bench = _bench()
    out = tmp_path / 'amp.json'
    assert bench.main(['--amp', '--sizes', '160/300', '--images', '2', '--infer-batches', '1',
                       '--train-batch', '2', '--repeats', '1', '--warmup', '0', '--no-memory',
                       '--no-recipes', '--peak-size', '256', '--peak-repeats', '2',
                       '--out', str(out)]) == 0
    report = json.loads(out.read_text())
    assert report['outputs_identical'] is True and report['settings']['precision'] == 'bfloat16'
    assert set(report['matmul_peak']) == {'float32', 'bfloat16'}
    (size,) = report['sizes']
    assert size['precision'] == 'bfloat16' and size['agreement']['ok']  # float32 check first
    pairs = size['amp_agreement']['pairs']
    assert set(pairs) == {'zoo-bfloat16 vs torchvision-bfloat16', 'zoo-bfloat16 vs zoo-float32',
                          'torchvision-bfloat16 vs torchvision-float32'}
    assert 'IoU >= 0.9' in size['amp_agreement']['tolerance']
    # random weights: 100 detections per image of near-equal scores, which bfloat16 reorders
    # (0.43 to 0.55 on this machine at this small scale)
    for m in pairs.values():
        assert m['reference'] > 20 and m['candidate'] > 20 and 0.3 < m['share'] <= 1
        assert m['share'] == m['matched'] / sum(max(r, c) for _, r, c in m['per_image'])
    bf16_peak = report['matmul_peak']['bfloat16']['gflops']
    for key in ('inference_batch1', 'train_batch2'):
        res = size[key]
        assert res['peak_gflops'] == bf16_peak
        assert 0 < res['peak_fraction']['zoo'] and 0 < res['peak_fraction']['torchvision']
    assert 'zoo-bfloat16 vs torchvision-bfloat16' in report['markdown']
    assert '| 160/300 | inference, batch 1 | bfloat16 |' in report['markdown']
