"""The zoo's Faster R-CNN R50-FPN against torchvision's ``fasterrcnn_resnet50_fpn``, side by side.

Both models hold the same weights (the zoo's through ``zoo convert torchvision``), run in this
one process on the same BCCD images, and must first give the same detections on every
benchmark image; only then are they timed, interleaved, after warm-up, and the medians compared:

* inference, images per second at batch 1 and batch 4;
* a training step (forward, backward, SGD step) at batch 2;
* peak memory of each of these (tensor bytes added by the call);

* the FLOPs of each call (``torch.utils.flop_counter.FlopCounterMode``), the GFLOP/s achieved
  and their fraction of the machine's matrix-product peak in the same precision, measured at
  the start of the run (a 2048 x 2048 ``torch.mm``; :mod:`zoo.benchmark.flops`);

at two image scales, 600/1000 (the Faster R-CNN paper's) and 800/1333 (torchvision's default).
The ZF and VGG16 Faster R-CNN recipes' inference time is reported beside the paper's (59 and
198 ms per image on a K40 GPU, Ren et al. 2015, Table 5).

With ``--amp`` everything is timed under ``torch.autocast``: bfloat16 on the CPU, float16 on
CUDA. torchvision's model then gets the zoo's float32 regions (its RoIAlign, box coding,
anchors, proposal filtering, NMS and matching run in float32 inside autocast:
:func:`zoo.benchmark.reference.float32_regions`; without them its anchors, box decoding and
NMS would run in bfloat16). The float32 identity check still comes first; then, since low-precision outputs
cannot be bitwise equal, the agreement of zoo-low against torchvision-low, and of each against
its own float32 outputs, is reported as the share of detections matched one to one with the
same label, IoU >= 0.9 and scores within 0.05 (:func:`zoo.benchmark.agreement.match_detections`).

Usage (see docs/performance.md)::

    python benchmarks/vs_torchvision.py --out benchmark.json
    python benchmarks/vs_torchvision.py --amp --out bf16.json          # bfloat16 on the CPU
    python benchmarks/vs_torchvision.py --device cuda --amp --compile --out gpu.json

Prints the results as markdown tables at the end (also in the JSON, key ``markdown``).

Exit status: 0 when the outputs agreed, 1 when they did not (nothing is timed then), 2 for bad
arguments.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import sys
import time

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from zoo.benchmark.agreement import (MATCH_IOU, MATCH_SCORE_ATOL, compare_detections,  # noqa: E402
                                     match_detections)
from zoo.benchmark.flops import count_flops, gflops_per_second, matmul_peak, peak_fraction  # noqa: E402
from zoo.benchmark.reference import float32_regions, reference_torchvision_model, zoo_twin  # noqa: E402
from zoo.benchmark.timing import interleaved_times, median, peak_memory_bytes  # noqa: E402
from zoo.runner.atomic import write_text  # noqa: E402

DATA_ROOT = os.path.join(ROOT, 'data', 'BCCD')
CLASSES = ('RBC', 'WBC', 'Platelets')
#: Faster R-CNN paper, Table 5: time per image on a K40 GPU, 300 proposals, short side 600
PAPER_MS = {'ZF': 59.0, 'VGG16': 198.0}
RECIPES = {'ZF': 'configs/faster_rcnn/faster_rcnn_zf_bccd.py',
           'VGG16': 'configs/faster_rcnn/faster_rcnn_vgg16_bccd.py'}


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description="Time the zoo's R50-FPN Faster R-CNN against torchvision's "
                    'fasterrcnn_resnet50_fpn with the same weights, after checking that both '
                    'give the same detections.')
    p.add_argument('--sizes', nargs='+', default=['600/1000', '800/1333'],
                   help='image scales MIN/MAX (short side / longest long side), default both')
    p.add_argument('--images', type=int, default=4,
                   help='BCCD test images used (the first of ImageSets/Main/test.txt), >= 4')
    p.add_argument('--infer-batches', type=int, nargs='+', default=[1, 4])
    p.add_argument('--train-batch', type=int, default=2, help='0 skips the training step')
    p.add_argument('--repeats', type=int, default=5, help='timed calls per implementation')
    p.add_argument('--warmup', type=int, default=2, help='untimed calls first')
    p.add_argument('--device', default='cpu', help="'cpu' or 'cuda' ('cuda:1', ...)")
    p.add_argument('--threads', type=int, default=None, help='torch.set_num_threads (CPU)')
    p.add_argument('--amp', action='store_true',
                   help='time under torch.autocast (bfloat16 on the CPU, float16 on CUDA), '
                        "torchvision's RoI ops, box coding and NMS in float32 like the zoo's; "
                        'the identity check still runs in float32, then the low-precision '
                        'agreement (share of detections matched) is reported')
    p.add_argument('--peak-size', type=int, default=2048,
                   help='N of the N x N matrix product whose rate is the peak (default 2048)')
    p.add_argument('--peak-repeats', type=int, default=5,
                   help='timed matrix products for the peak (median; default 5, after 2 warm-ups)')
    p.add_argument('--no-flops', action='store_true',
                   help='skip the FLOP counts and peak fractions')
    p.add_argument('--compile', action='store_true',
                   help='torch.compile the backbone and FPN of both models before timing')
    p.add_argument('--no-memory', action='store_true', help='skip the peak-memory measurements')
    p.add_argument('--no-recipes', action='store_true', help='skip the ZF/VGG16 recipe timings')
    p.add_argument('--weights', default=None,
                   help="a local fasterrcnn_resnet50_fpn state dict (torchvision's COCO file); "
                        'default: seeded random weights at a trained network\'s scales')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--out', default=None, help='write the results as JSON to this file')
    args = p.parse_args(argv)
    sizes = []
    for s in args.sizes:
        try:
            lo, hi = (int(v) for v in s.split('/'))
        except ValueError:
            p.error(f'--sizes: {s!r} is not MIN/MAX, e.g. 600/1000')
        sizes.append((lo, hi))
    args.sizes = sizes
    if args.images < max(args.infer_batches + [args.train_batch, 1]):
        p.error(f'--images {args.images} is fewer than the largest batch')
    if args.repeats < 1 or args.warmup < 0:
        p.error('--repeats must be >= 1 and --warmup >= 0')
    if args.peak_size < 1 or args.peak_repeats < 1:
        p.error('--peak-size and --peak-repeats must be >= 1')
    return args


# data --------------------------------------------------------------------------------------
def load_bccd(n: int):
    """The first ``n`` BCCD test images: uint8 (3, H, W) tensors and ground truth."""
    from torchvision.io import decode_image, read_file

    from zoo.datasets.voc import VOCDataset
    ds = VOCDataset(DATA_ROOT, classes=CLASSES, split='test')
    records = [ds.get_data_info(i) for i in range(min(n, len(ds)))]
    out = []
    for r in records:
        boxes = torch.tensor([i['bbox'] for i in r['instances']],
                             dtype=torch.float32).reshape(-1, 4)
        labels = torch.tensor([i['bbox_label'] for i in r['instances']], dtype=torch.long)
        out.append(dict(img_id=r['img_id'], image=decode_image(read_file(r['img_path'])),
                        boxes=boxes, labels=labels))
    return out


def resize_like_torchvision(tv, samples):
    """Each image resized by torchvision's own transform (float in [0, 1]) and its boxes scaled:
    both models then see the same pixels, and torchvision's resize inside its forward is a
    no-op (scale 1)."""
    out = []
    for s in samples:
        img = s['image'].float() / 255
        h, w = img.shape[-2:]
        resized, _ = tv.transform.resize(img, None)
        sy, sx = resized.shape[-2] / h, resized.shape[-1] / w
        out.append(dict(s, image=resized, boxes=s['boxes'] * torch.tensor([sx, sy, sx, sy])))
    return out


# the two implementations -------------------------------------------------------------------
def zoo_batch(samples, device, with_gt=False):
    from mmengine.structures import InstanceData

    from zoo.structures import DetDataSample
    inputs, data_samples = [], []
    for s in samples:
        h, w = s['image'].shape[-2:]
        ds = DetDataSample(metainfo=dict(img_id=s['img_id'], img_shape=(h, w), ori_shape=(h, w),
                                         scale_factor=(1.0, 1.0)))
        if with_gt:
            ds.gt_instances = InstanceData(bboxes=s['boxes'].to(device),
                                           labels=s['labels'].to(device))
        inputs.append(s['image'].to(device))
        data_samples.append(ds)
    return dict(inputs=inputs, data_samples=data_samples)


def zoo_predict(model, samples, device):
    data = model.data_preprocessor(zoo_batch(samples, device), False)
    out = model(data['inputs'], data['data_samples'], mode='predict')
    # zoo class i is torchvision slot i + 1 (convert_state_dict(classes='all'))
    return [dict(boxes=o.pred_instances.bboxes, scores=o.pred_instances.scores,
                 labels=o.pred_instances.labels + 1) for o in out]


def tv_predict(model, samples, device):
    return model([s['image'].to(device) for s in samples])


def tv_train_step(model, optimizer, samples, device):
    images = [s['image'].to(device) for s in samples]
    targets = [dict(boxes=s['boxes'].to(device), labels=s['labels'].to(device) + 1)
               for s in samples]
    losses = model(images, targets)
    loss = sum(losses.values())
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss.detach()


def zoo_train_step(model, optim_wrapper, samples, device):
    return model.train_step(zoo_batch(samples, device, with_gt=True), optim_wrapper)


# measurements ------------------------------------------------------------------------------
def cycle(samples, batch):
    """A function returning the next ``batch`` images each call (the same sequence for both
    implementations)."""
    state = dict(i=0)

    def nxt():
        i = state['i']
        state['i'] = i + batch
        return [samples[(i + k) % len(samples)] for k in range(batch)]
    return nxt


def precision_name(args, device) -> str:
    """'float32', or the autocast dtype of ``--amp`` on ``device`` ('bfloat16' on the CPU)."""
    if not args.amp:
        return 'float32'
    from zoo.runner.precision import autocast_dtype
    return str(autocast_dtype(device.type)).replace('torch.', '')


def call_flops(fn, args) -> int:
    """FLOPs of one call of ``fn`` (run once, untimed). With ``--compile`` the operations are
    counted in eager mode: the compiled graph does the same products and convolutions."""
    if args.compile:
        with torch.compiler.set_stance('force_eager'):
            return count_flops(fn)
    return count_flops(fn)


def compare(fns: dict, args, device, per_call: int, peak_gflops: float | None = None) -> dict:
    """Interleaved medians of ``fns`` (and, with ``peak_gflops``, FLOPs per call counted on one
    call first, GFLOP/s and the fraction of the peak)."""
    flops = ({k: call_flops(f, args) for k, f in fns.items()} if peak_gflops is not None
             else None)
    times = interleaved_times(fns, args.repeats, args.warmup, device)
    med = {k: median(v) for k, v in times.items()}
    res = dict(seconds_per_call={k: med[k] for k in fns},
               all_seconds={k: [round(t, 4) for t in v] for k, v in times.items()},
               images_per_second={k: per_call / med[k] for k in fns},
               speedup=med['torchvision'] / med['zoo'])
    if flops is not None:
        rate = {k: gflops_per_second(flops[k], med[k]) for k in fns}
        res.update(gflop_per_call={k: flops[k] / 1e9 for k in fns}, gflops_per_second=rate,
                   peak_gflops=peak_gflops,
                   peak_fraction={k: peak_fraction(rate[k], peak_gflops) for k in fns})
    return res


def memory(fns: dict, device) -> dict:
    peak = {k: peak_memory_bytes(f, device) for k, f in fns.items()}
    return dict(peak_mib={k: v / 2 ** 20 for k, v in peak.items()},
                ratio=peak['zoo'] / max(peak['torchvision'], 1))


def bench_size(min_size, max_size, args, device, samples_raw,
               peak_gflops: float | None = None) -> dict:
    print(f'\n== {min_size}/{max_size} ==', flush=True)
    tv = reference_torchvision_model(samples_raw[0]['image'], seed=args.seed, min_size=min_size,
                                     max_size=max_size, size_divisible=64, weights=args.weights)
    if args.amp:
        # the zoo's float32 regions for torchvision too; a plain call in float32, so the
        # identity check below also shows that they change nothing there
        float32_regions(tv)
    samples = resize_like_torchvision(tv, samples_raw)
    zoo = zoo_twin(tv, classes='all', input_range=1.0)
    tv.to(device)
    zoo.to(device)
    h, w = samples[0]['image'].shape[-2:]
    result = dict(size=f'{min_size}/{max_size}', image_hw=[int(h), int(w)])

    with torch.no_grad():
        # one image at a time, and all of them as one batch
        names = [s['img_id'] for s in samples]
        tv_fp32 = [tv_predict(tv, [s], device)[0] for s in samples]
        zoo_fp32 = [zoo_predict(zoo, [s], device)[0] for s in samples]
        agreement = compare_detections(tv_fp32, zoo_fp32, names=names)
        agreement_batch = compare_detections(tv_predict(tv, samples, device),
                                             zoo_predict(zoo, samples, device), names=names)
    result['agreement'] = agreement.as_dict()
    result['agreement_batched'] = agreement_batch.as_dict()
    for what, a in (('one image at a time', agreement),
                    (f'batch of {len(samples)}', agreement_batch)):
        print(f'outputs, {what}: {a.detections} detections on {a.images} images, boxes '
              f'within {a.max_box_diff:.2g} px, scores within {a.max_score_diff:.2g}: '
              f'{"identical" if a.ok else "DIFFERENT"}', flush=True)
    if not (agreement.ok and agreement_batch.ok):
        for line in agreement.problems + agreement_batch.problems:
            print('  ' + line)
        result['failed'] = True
        return result

    if args.compile:
        for m in (tv.backbone, zoo.backbone, zoo.neck):
            m.compile()
    amp = (torch.autocast(device.type, dtype=getattr(torch, precision_name(args, device)))
           if args.amp else contextlib.nullcontext())
    result['precision'] = precision_name(args, device)
    if args.amp:
        with torch.no_grad(), amp:
            tv_low = [tv_predict(tv, [s], device)[0] for s in samples]
            zoo_low = [zoo_predict(zoo, [s], device)[0] for s in samples]
        low = result['precision']
        result['amp_agreement'] = dict(
            tolerance=f'same label, IoU >= {MATCH_IOU}, |score difference| <= '
                      f'{MATCH_SCORE_ATOL}, greedy one-to-one by decreasing score',
            pairs={f'zoo-{low} vs torchvision-{low}': match_detections(tv_low, zoo_low).as_dict(),
                   f'zoo-{low} vs zoo-float32': match_detections(zoo_fp32, zoo_low).as_dict(),
                   f'torchvision-{low} vs torchvision-float32':
                       match_detections(tv_fp32, tv_low).as_dict()})
        for what, m in result['amp_agreement']['pairs'].items():
            print(f'agreement, {what}: {m["matched"]} of {m["reference"]} / {m["candidate"]} '
                  f'detections matched, share {m["share"]:.3f}', flush=True)

    for batch in args.infer_batches:
        nxt_tv, nxt_zoo = cycle(samples, batch), cycle(samples, batch)
        fns = {'torchvision': lambda nxt=nxt_tv: tv_predict(tv, nxt(), device),
               'zoo': lambda nxt=nxt_zoo: zoo_predict(zoo, nxt(), device)}
        with torch.no_grad(), amp:
            res = compare(fns, args, device, batch, peak_gflops)
            if not args.no_memory:
                res['memory'] = memory(fns, device)
        result[f'inference_batch{batch}'] = res
        _print_row(f'inference, batch {batch}', res, 'img/s')

    if args.train_batch:
        tv.train()
        zoo.train()
        from mmengine.optim import OptimWrapper
        # lr 0: every timed step sees the same weights (random weights diverge at any useful lr),
        # while the optimizer still does all of its arithmetic
        sgd = dict(lr=0.0, momentum=0.9, weight_decay=1e-4)
        tv_opt = torch.optim.SGD([p for p in tv.parameters() if p.requires_grad], **sgd)
        zoo_opt = OptimWrapper(torch.optim.SGD([p for p in zoo.parameters() if p.requires_grad],
                                               **sgd))
        torch.manual_seed(args.seed)
        b = args.train_batch
        nxt_tv, nxt_zoo = cycle(samples, b), cycle(samples, b)
        fns = {'torchvision': lambda: tv_train_step(tv, tv_opt, nxt_tv(), device),
               'zoo': lambda: zoo_train_step(zoo, zoo_opt, nxt_zoo(), device)}
        with amp:
            res = compare(fns, args, device, b, peak_gflops)
            if not args.no_memory:
                res['memory'] = memory(fns, device)
        result[f'train_batch{b}'] = res
        _print_row(f'training step, batch {b}', res, 'img/s')
    return result


def bench_recipes(args, device, samples_raw) -> list:
    """Inference time of the ZF and VGG16 recipes at the paper's test scale (600/1000, 300
    proposals), batch 1, random weights (the time does not depend on them); under autocast
    with ``--amp``."""
    from mmengine.config import Config

    import registry
    from zoo.detectors.builder import build_detector
    from torchvision.transforms.v2 import functional as F
    registry.discover()
    rows = []
    for name, path in RECIPES.items():
        cfg = Config.fromfile(os.path.join(ROOT, path))
        torch.manual_seed(args.seed)
        model = build_detector(cfg.model).to(device).eval()
        proposals = cfg.model.test_cfg.rpn.max_per_img
        samples = []
        for s in samples_raw:
            h, w = s['image'].shape[-2:]
            scale = min(600 / min(h, w), 1000 / max(h, w))
            img = F.resize(s['image'], [round(h * scale), round(w * scale)], antialias=True)
            samples.append(dict(s, image=img))
        nxt = cycle(samples, 1)

        def run(model=model, nxt=nxt):
            data = model.data_preprocessor(zoo_batch(nxt(), device), False)
            return model(data['inputs'], data['data_samples'], mode='predict')
        amp = (torch.autocast(device.type, dtype=getattr(torch, precision_name(args, device)))
               if args.amp else contextlib.nullcontext())
        with torch.no_grad(), amp:
            times = interleaved_times({name: run}, args.repeats, args.warmup, device)[name]
        ms = 1000 * median(times)
        h, w = samples[0]['image'].shape[-2:]
        rows.append(dict(recipe=name, config=path, image_hw=[int(h), int(w)],
                         precision=precision_name(args, device),
                         proposals=int(proposals), ms_per_image=ms, paper_ms_k40=PAPER_MS[name]))
        print(f'{name:6s} {path}: {ms:8.1f} ms/img at {h}x{w}, {proposals} proposals '
              f'(paper, K40 GPU: {PAPER_MS[name]:.0f} ms)', flush=True)
    return rows


def _print_row(what, res, unit):
    ips = res['images_per_second']
    line = (f'{what:24s} torchvision {ips["torchvision"]:7.3f} {unit}  zoo {ips["zoo"]:7.3f} '
            f'{unit}  speedup {res["speedup"]:.2f}x')
    if 'memory' in res:
        mem = res['memory']['peak_mib']
        line += (f'  peak MiB {mem["torchvision"]:.0f} / {mem["zoo"]:.0f} '
                 f'(ratio {res["memory"]["ratio"]:.2f})')
    print(line, flush=True)


def markdown(report: dict) -> str:
    """The run as markdown: the speed table (with FLOP rates and peak fractions when counted),
    the low-precision agreement table with ``--amp``, and the matrix-product peaks."""
    lines = []
    peaks = report.get('matmul_peak', {})
    if peaks:
        lines.append('Matrix-product peak (' + ', '.join(
            f"{p['dtype']}: {p['gflops']:.1f} GFLOP/s" for p in peaks.values())
            + f", {next(iter(peaks.values()))['n']} x {next(iter(peaks.values()))['n']} "
              '`torch.mm`, median)')
        lines.append('')
    lines += ['| scale | workload | precision | torchvision | zoo | speedup | GFLOP per call, '
              'tv / zoo | GFLOP/s, tv / zoo | of peak, tv / zoo | peak MiB, tv / zoo |',
              '| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |']
    for size in report.get('sizes', []):
        for key, res in size.items():
            if not (key.startswith('inference_batch') or key.startswith('train_batch')):
                continue
            what = (f"inference, batch {key[len('inference_batch'):]}" if key.startswith('inf')
                    else f"training step, batch {key[len('train_batch'):]}")
            ips = res['images_per_second']

            def pair(d, fmt):
                return f"{format(d['torchvision'], fmt)} / {format(d['zoo'], fmt)}"
            flop = (pair(res['gflop_per_call'], '.1f'), pair(res['gflops_per_second'], '.1f'),
                    pair({k: 100 * v for k, v in res['peak_fraction'].items()}, '.1f') + ' %'
                    ) if 'gflop_per_call' in res else ('-', '-', '-')
            mem = pair(res['memory']['peak_mib'], '.0f') if 'memory' in res else '-'
            lines.append(f"| {size['size']} | {what} | {size.get('precision', 'float32')} | "
                         f"{ips['torchvision']:.3f} img/s | {ips['zoo']:.3f} img/s | "
                         f"**{res['speedup']:.2f}x** | {' | '.join(flop)} | {mem} |")
    agreement = [(size['size'], what, m) for size in report.get('sizes', [])
                 for what, m in size.get('amp_agreement', {}).get('pairs', {}).items()]
    if agreement:
        tol = report['sizes'][0]['amp_agreement']['tolerance']
        lines += ['', f'Agreement ({tol}):', '',
                  '| scale | compared | detections | matched | share |',
                  '| --- | --- | ---: | ---: | ---: |']
        for scale, what, m in agreement:
            lines.append(f"| {scale} | {what} | {m['reference']} / {m['candidate']} | "
                         f"{m['matched']} | {m['share']:.3f} |")
    return '\n'.join(lines)


def machine_info(device) -> dict:
    import torchvision
    cpu = platform.processor()
    try:
        with open('/proc/cpuinfo') as f:
            cpu = next(line.split(':', 1)[1].strip() for line in f if line.startswith('model name'))
    except (OSError, StopIteration):  # no /proc/cpuinfo (not Linux): platform's name stands
        cpu = cpu or 'unknown'
    info = dict(cpu=cpu, cores=os.cpu_count(), threads=torch.get_num_threads(),
                python=platform.python_version(), torch=torch.__version__,
                torchvision=torchvision.__version__, device=str(device))
    if device.type == 'cuda':
        info['gpu'] = torch.cuda.get_device_name(device)
    return info


def main(argv=None) -> int:
    args = parse_args(argv)
    device = torch.device(args.device)
    if device.type == 'cuda' and not torch.cuda.is_available():
        print(f'--device {args.device}: CUDA is not available on this machine', file=sys.stderr)
        return 2
    if args.threads:
        torch.set_num_threads(args.threads)
    samples = load_bccd(args.images)
    command = ['python', 'benchmarks/vs_torchvision.py'] + list(argv or sys.argv[1:])
    report = dict(command=' '.join(command),
                  machine=machine_info(device),
                  settings=dict(repeats=args.repeats, warmup=args.warmup, amp=args.amp,
                                precision=precision_name(args, device),
                                compile=args.compile, images=[s['img_id'] for s in samples],
                                weights=args.weights or f'random, seed {args.seed}'),
                  date=time.strftime('%Y-%m-%d %H:%M'), sizes=[])
    print(json.dumps(report['machine']))

    def save():  # after every scale, so that an interrupted run keeps what it measured
        if args.out:
            write_text(args.out, json.dumps(report, indent=2))

    peak = None
    if not args.no_flops:
        # the physical limit in each precision, measured in this run before the workloads
        dtypes = ['float32'] + ([precision_name(args, device)] if args.amp else [])
        report['matmul_peak'] = {d: matmul_peak(getattr(torch, d), n=args.peak_size,
                                                repeats=args.peak_repeats, device=device)
                                 for d in dtypes}
        for d, p in report['matmul_peak'].items():
            print(f"matrix-product peak, {d}: {p['gflops']:.1f} GFLOP/s "
                  f"({p['n']} x {p['n']}, median of {len(p['seconds'])})", flush=True)
        peak = report['matmul_peak'][precision_name(args, device)]['gflops']

    ok = True
    for lo, hi in args.sizes:
        res = bench_size(lo, hi, args, device, samples, peak)
        report['sizes'].append(res)
        ok &= not res.get('failed', False)
        report['outputs_identical'] = ok
        save()
    if ok and not args.no_recipes:
        print('\n== recipes, batch 1, short side 600 ==')
        report['recipes'] = bench_recipes(args, device, samples)
    report['outputs_identical'] = ok
    report['markdown'] = markdown(report)
    print('\n' + report['markdown'])
    save()
    if args.out:
        print(f'\nwrote {args.out}')
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
