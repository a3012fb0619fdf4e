"""benchmarks/precision.py: its table from hand-made results, and (slow) a one-recipe run that
times float32, bfloat16 and channels-last side by side and writes its JSON."""
import importlib.util
import json
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _bench():
    spec = importlib.util.spec_from_file_location(
        'precision_bench', os.path.join(ROOT, 'benchmarks', 'precision.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_markdown_table_from_hand_made_results():
    bench = _bench()
    result = dict(recipe='zf', input_hw=[600, 800], variants={
        'fp32': dict(inference_batch1=dict(seconds=0.4, speedup_vs_fp32=1.0, peak_mib=200.0),
                     train_batch1=dict(seconds=1.2, speedup_vs_fp32=1.0, peak_mib=900.0)),
        'bf16': dict(inference_batch1=dict(seconds=0.2, speedup_vs_fp32=2.0, peak_mib=150.0),
                     train_batch1=dict(seconds=0.8, speedup_vs_fp32=1.5))})
    lines = bench.markdown([result]).splitlines()
    assert lines[0].startswith('| recipe | input | variant |') and len(lines) == 4
    assert lines[2] == '| zf | 600x800 | fp32 | 400.0 | 1.00 | 1200.0 | 1.00 | 200 / 900 |'
    assert lines[3] == '| zf | 600x800 | bf16 | 200.0 | 2.00 | 800.0 | 1.50 | 150 / - |'


def test_bad_arguments_are_refused(tmp_path):
    bench = _bench()
    for argv in (['--train-batch', '3', '--images', '2'], ['--checkpoint', 'zf'],
                 ['--checkpoint', 'resnet=x.pth'], ['--checkpoint', f'zf={tmp_path}/none.pth']):
        with pytest.raises(SystemExit) as e:
            bench.parse_args(argv)
        assert e.value.code == 2
    ckpt = tmp_path / 'w.pth'
    ckpt.write_bytes(b'')
    assert bench.parse_args(['--checkpoint', f'zf={ckpt}']).checkpoint == {'zf': str(ckpt)}


@pytest.mark.slow
def test_one_recipe_in_four_variants(tmp_path):
    bench = _bench()
    out = tmp_path / 'precision.json'
    variants = ['fp32', 'bf16', 'fp32+cl', 'bf16+cl', 'fp32+nchw', 'bf16+nchw', 'bf16+percall']
    assert bench.main(['--recipes', 'zf', '--images', '1', '--repeats', '1', '--warmup', '0',
                       '--no-memory', '--out', str(out), '--variants', *variants]) == 0
    report = json.loads(out.read_text())
    (r,) = report['recipes']
    assert r['recipe'] == 'zf' and list(r['variants']) == variants
    assert r['recipe_channels_last'] is True  # the ZF recipe sets it: fp32 and bf16 follow it
    for v, e in r['variants'].items():
        assert e['bfloat16'] == v.startswith('bf16')
        assert e['channels_last'] == (not v.endswith('+nchw'))
        for phase in ('inference_batch1', 'train_batch1'):
            assert e[phase]['seconds'] > 0
            assert e[phase]['speedup_vs_fp32'] == pytest.approx(
                r['variants']['fp32'][phase]['seconds'] / e[phase]['seconds'])
    assert '| zf |' in report['markdown']
