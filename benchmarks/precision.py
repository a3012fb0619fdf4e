"""Float32, bfloat16 autocast and channels-last, side by side, for the zoo's BCCD recipes.

For each recipe (ZF, VGG16, R50-FPN Faster R-CNN, YOLOv3) the recipe's model is built once in
each memory format (NCHW, and channels-last: ``model.channels_last=True``, the same weights) and
timed in four variants, interleaved in this one process (round robin over the variants, the
order reversed every other repetition, medians reported; :mod:`zoo.benchmark.timing`):

* ``fp32``: as the recipe runs today in float32 (NCHW unless the recipe sets channels-last);
* ``bf16``: under ``torch.autocast('cpu', dtype=torch.bfloat16)`` (what ``--amp`` does on the CPU),
  with training through ``AutocastOptimWrapper``; inference as ``zoo.Detector`` runs it: autocast's
  weight-cast cache off, and the layers' weights kept in bfloat16 after a first, untimed call
  (:mod:`zoo.inference.low_precision_weights`; the same outputs bit for bit);
  ``--cast-cache`` turns the cache on (torch's default);
* ``fp32+cl`` and ``bf16+cl``: the same in channels-last; ``fp32+nchw`` and ``bf16+nchw`` (asked
  for by name) in NCHW, for a recipe that sets channels-last; ``bf16+percall`` (asked for by
  name): ``bf16`` with the weights cast on every inference call instead of once.

Measured per variant: inference at batch 1 (``mode='predict'``, no gradient), a training step
(forward, backward, SGD step with lr 0, so that every timed step sees the same weights) at
``--train-batch`` images, and the peak memory of each: the largest total of live tensor bytes
the call adds, from ``torch.profiler``'s memory events (tensors only, not the allocator's cache
or the interpreter; :func:`zoo.benchmark.timing.peak_memory_bytes`). The images are real BCCD
test images through the recipe's own test pipeline (its input size). The weights are random
(seeded) unless ``--checkpoint RECIPE=FILE`` loads trained ones: a random model's proposals are
spread differently (the RPN's NMS keeps far more boxes), so the time of the parts after the
backbone is the trained model's only with its checkpoint.

Usage (see docs/performance.md)::

    python benchmarks/precision.py --out precision.json
    python benchmarks/precision.py --recipes zf --repeats 1 --warmup 0   # a quick check
    python benchmarks/precision.py --recipes zf --checkpoint zf=work_dirs/zf_bccd/epoch_9.pth

Prints a markdown table; writes JSON with ``--out``. Exit status 0, or 2 for bad arguments.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from zoo.benchmark.timing import interleaved_times, median, peak_memory_bytes  # noqa: E402
from zoo.runner.atomic import write_text  # noqa: E402

RECIPES = {'zf': 'configs/faster_rcnn/faster_rcnn_zf_bccd.py',
           'vgg16': 'configs/faster_rcnn/faster_rcnn_vgg16_bccd.py',
           'r50_fpn': 'configs/faster_rcnn/faster_rcnn_r50_fpn_bccd.py',
           'yolov3': 'configs/yolo/yolov3_bccd.py'}
VARIANTS = ('fp32', 'bf16', 'fp32+cl', 'bf16+cl')
#: more variants that can be asked for: NCHW even when the recipe sets channels-last, and
#: bfloat16 inference casting the weights on every call
EXTRA_VARIANTS = ('fp32+nchw', 'bf16+nchw', 'bf16+percall')
CLASSES = ('RBC', 'WBC', 'Platelets')


def parse_args(argv=None):
    p = argparse.ArgumentParser(description='Training-step and inference time and peak memory of '
                                            'the BCCD recipes in float32, bfloat16 autocast and '
                                            'channels-last, interleaved in one process.')
    p.add_argument('--recipes', nargs='+', choices=sorted(RECIPES), default=list(RECIPES))
    p.add_argument('--variants', nargs='+', choices=VARIANTS + EXTRA_VARIANTS,
                   default=list(VARIANTS))
    p.add_argument('--images', type=int, default=4, help='BCCD test images cycled through (>= 1)')
    p.add_argument('--train-batch', type=int, default=1, help='images per training step; 0 skips')
    p.add_argument('--repeats', type=int, default=5, help='timed calls per variant')
    p.add_argument('--warmup', type=int, default=1, help='untimed calls per variant first')
    p.add_argument('--threads', type=int, default=None, help='torch.set_num_threads')
    p.add_argument('--no-memory', action='store_true', help='skip the peak-memory measurements')
    p.add_argument('--cast-cache', action='store_true',
                   help="inference under autocast with torch's weight-cast cache on (the default "
                        "of torch.autocast; the zoo's inference turns it off: "
                        'zoo.runner.precision.autocast)')
    p.add_argument('--checkpoint', action='append', default=[], metavar='RECIPE=FILE',
                   help='trained weights for a recipe (repeatable), e.g. zf=work_dirs/zf_bccd/epoch_9.pth')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--out', default=None, help='write the results as JSON to this file')
    args = p.parse_args(argv)
    if args.repeats < 1 or args.warmup < 0 or args.images < 1 or args.train_batch < 0:
        p.error('--repeats and --images must be >= 1, --warmup and --train-batch >= 0')
    if args.train_batch > args.images:
        p.error(f'--train-batch {args.train_batch} is more than --images {args.images}')
    checkpoints = {}
    for item in args.checkpoint:
        name, sep, path = item.partition('=')
        if not sep or name not in RECIPES or not path:
            p.error(f'--checkpoint {item!r}: expected RECIPE=FILE with RECIPE one of {sorted(RECIPES)}')
        if not os.path.isfile(path):
            p.error(f'--checkpoint {item!r}: no file {path!r}')
        checkpoints[name] = path
    args.checkpoint = checkpoints
    return args


def load_batches(cfg, n: int) -> list:
    """The first ``n`` BCCD test images through the recipe's test pipeline, one
    ``dict(inputs=[...], data_samples=[...])`` item each (with ground truth, for training)."""
    from zoo.datasets.voc import VOCDataset
    pipeline = cfg.test_dataloader.dataset.pipeline
    ds = VOCDataset(os.path.join(ROOT, 'data', 'BCCD'), classes=CLASSES, split='test',
                    pipeline=pipeline, indices=n)
    return [ds[i] for i in range(len(ds))]


def cycle(items: list, batch: int):
    state = dict(i=0)

    def nxt() -> dict:
        i = state['i']
        state['i'] = i + batch
        chosen = [items[(i + k) % len(items)] for k in range(batch)]
        return dict(inputs=[c['inputs'] for c in chosen],
                    data_samples=[c['data_samples'] for c in chosen])
    return nxt


def build_models(cfg, seed: int, checkpoint=None) -> dict:
    """``{False: NCHW model, True: channels-last model}`` with the same weights: random
    (``seed``), or the trained ones of ``checkpoint`` (a file)."""
    import copy

    from zoo.detectors.builder import build_detector
    models = {}
    for cl in (False, True):
        model_cfg = copy.deepcopy(cfg.model)
        model_cfg.channels_last = cl
        torch.manual_seed(seed)
        models[cl] = build_detector(model_cfg)
    if checkpoint:
        from zoo.checkpoint import load_checkpoint_file
        state = load_checkpoint_file(checkpoint)
        models[False].load_state_dict(state.get('state_dict', state))
    models[True].load_state_dict(models[False].state_dict())
    return models


def inference_copy(model, data_fn, bf16: bool, per_call_casts: bool):
    """The model inference runs on: ``model`` itself, or for bfloat16 (unless
    ``per_call_casts``) a copy whose layers keep bfloat16 weights after one call, as
    ``zoo.Detector`` does (:func:`zoo.inference.low_precision_weights.cast_autocast_weights`)."""
    if not bf16 or per_call_casts:
        return model
    import copy

    from zoo.inference.low_precision_weights import cast_autocast_weights
    from zoo.runner.precision import autocast
    infer = copy.deepcopy(model).eval()
    with torch.no_grad(), autocast('cpu', cache_enabled=False), cast_autocast_weights(infer):
        infer(**infer.data_preprocessor(data_fn(), False), mode='predict')
    return infer


def recipe_variants(name: str, args) -> dict:
    from mmengine.config import Config
    from mmengine.optim import OptimWrapper

    from zoo.runner.amp_optim_wrapper import AutocastOptimWrapper
    from zoo.runner.precision import autocast

    path = RECIPES[name]
    cfg = Config.fromfile(os.path.join(ROOT, path))
    recipe_cl = bool(cfg.model.get('channels_last', False))
    models = build_models(cfg, args.seed, args.checkpoint.get(name))
    items = load_batches(cfg, args.images)
    h, w = items[0]['inputs'].shape[-2:]
    print(f'\n== {name} ({path}), input {h}x{w}, recipe channels-last: {recipe_cl} ==', flush=True)
    sgd = dict(lr=0.0, momentum=0.9, weight_decay=1e-4)  # lr 0: the same weights every step
    plan = {}
    for v in args.variants:
        cl = v.endswith('+cl') or (v in ('fp32', 'bf16', 'bf16+percall') and recipe_cl)
        bf16 = v.startswith('bf16')
        model = models[cl]
        params = [p for p in model.parameters() if p.requires_grad]
        wrapper = (AutocastOptimWrapper(optimizer=torch.optim.SGD(params, **sgd), device='cpu') if bf16
                   else OptimWrapper(optimizer=torch.optim.SGD(params, **sgd)))
        infer = cycle(items, 1)
        plan[v] = dict(model=model, bf16=bf16, wrapper=wrapper, channels_last=cl, infer=infer,
                       infer_model=inference_copy(model, infer, bf16, v.endswith('+percall')),
                       train=cycle(items, max(args.train_batch, 1)))

    def infer_fn(p):
        def run():
            with torch.no_grad(), autocast('cpu', enabled=p['bf16'], cache_enabled=args.cast_cache):
                data = p['infer_model'].data_preprocessor(p['infer'](), False)
                return p['infer_model'](**data, mode='predict')
        return run

    def train_fn(p):
        return lambda: p['model'].train_step(p['train'](), p['wrapper'])  # autocasts itself

    result = dict(recipe=name, config=path, input_hw=[int(h), int(w)], recipe_channels_last=recipe_cl,
                  checkpoint=args.checkpoint.get(name),
                  variants={v: dict(channels_last=plan[v]['channels_last'], bfloat16=plan[v]['bf16'])
                            for v in plan})
    phases = [('inference_batch1', infer_fn, 1, 'eval')]
    if args.train_batch:
        phases.append((f'train_batch{args.train_batch}', train_fn, args.train_batch, 'train'))
    for phase, make, per_call, mode in phases:
        for m in models.values():
            getattr(m, mode)()
        fns = {v: make(p) for v, p in plan.items()}
        times = interleaved_times(fns, args.repeats, args.warmup)
        for v in plan:
            med = median(times[v])
            entry = result['variants'][v].setdefault(phase, {})
            entry.update(seconds=med, images_per_second=per_call / med,
                         all_seconds=[round(t, 4) for t in times[v]])
            if not args.no_memory:
                entry['peak_mib'] = peak_memory_bytes(fns[v]) / 2 ** 20
        base = result['variants'].get('fp32', {}).get(phase)
        for v in plan:
            entry = result['variants'][v][phase]
            if base:
                entry['speedup_vs_fp32'] = base['seconds'] / entry['seconds']
            ratio = f"  ({entry['speedup_vs_fp32']:.2f}x fp32)" if base else ''
            mem = f", peak {entry['peak_mib']:.0f} MiB" if 'peak_mib' in entry else ''
            print(f'{phase:18s} {v:8s} {1000 * entry["seconds"]:9.1f} ms{ratio}{mem}', flush=True)
    return result


def markdown(results: list) -> str:
    lines = ['| recipe | input | variant | inference ms (batch 1) | x fp32 | train step ms | x fp32 '
             '| peak MiB infer / train |', '| --- | --- | --- | ---: | ---: | ---: | ---: | ---: |']
    for r in results:
        for v, e in r['variants'].items():
            inf = e.get('inference_batch1', {})
            tr = next((e[k] for k in e if k.startswith('train_batch')), {})

            def cell(d, key, fmt):
                return format(d[key], fmt) if key in d else '-'
            lines.append(f"| {r['recipe']} | {r['input_hw'][0]}x{r['input_hw'][1]} | {v} | "
                         f"{1000 * inf['seconds']:.1f} | {cell(inf, 'speedup_vs_fp32', '.2f')} | "
                         f"{(1000 * tr['seconds']) if tr else float('nan'):.1f} | "
                         f"{cell(tr, 'speedup_vs_fp32', '.2f')} | "
                         f"{cell(inf, 'peak_mib', '.0f')} / {cell(tr, 'peak_mib', '.0f')} |")
    return '\n'.join(lines)


def machine_info() -> dict:
    cpu = platform.processor() or 'unknown'
    flags = []
    try:
        with open('/proc/cpuinfo') as f:
            text = f.read()
        cpu = next(line.split(':', 1)[1].strip() for line in text.splitlines()
                   if line.startswith('model name'))
        first = next(line for line in text.splitlines() if line.startswith('flags'))
        flags = sorted({f for f in first.split(':', 1)[1].split()
                        if f.startswith(('avx512_bf16', 'amx', 'avx512f', 'avx2'))})
    except (OSError, StopIteration):  # not Linux: the platform's name stands
        pass
    return dict(cpu=cpu, cpu_flags=flags, cpu_capability=torch.backends.cpu.get_cpu_capability(),
                cores=os.cpu_count(), threads=torch.get_num_threads(), torch=torch.__version__,
                python=platform.python_version())


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    import registry
    registry.discover()
    report = dict(command=' '.join(['python', 'benchmarks/precision.py'] + list(argv or sys.argv[1:])),
                  machine=machine_info(), date=time.strftime('%Y-%m-%d %H:%M'),
                  settings=dict(repeats=args.repeats, warmup=args.warmup, images=args.images,
                                train_batch=args.train_batch,
                                memory='peak live tensor bytes added by the call (torch.profiler)'),
                  recipes=[])
    print(json.dumps(report['machine']), flush=True)
    for name in args.recipes:
        report['recipes'].append(recipe_variants(name, args))
        if args.out:  # after every recipe: an interrupted run keeps what it measured
            write_text(args.out, json.dumps(report, indent=2))
    table = markdown(report['recipes'])
    report['markdown'] = table
    print('\n' + table)
    if args.out:
        write_text(args.out, json.dumps(report, indent=2))
        print(f'\nwrote {args.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
