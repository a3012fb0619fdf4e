"""onnxruntime's CPU speed on an exported detector against the zoo's PyTorch path, same images.

For each recipe: the model (random weights, or ``--checkpoint``) is exported with ``zoo
export``'s code (:mod:`zoo.export`), both runtimes must first find the same detections on
every benchmark image (the export check's tolerance), and only then are they timed at batch 1:

* ``pytorch``: what ``zoo test``/``zoo infer`` run per image: the test pipeline (resize), the
  data preprocessor (normalize, pad), ``model.predict``;
* ``onnxruntime``: the exported graph (the same steps inside it) on the raw uint8 image.

The images are the first ``--images`` of the config's test split (BCCD val). Both start from
a decoded uint8 image in memory (file decoding is not timed). Calls are interleaved (one pass
over the images each per repetition, the order reversed every other one) after warm-up, and
the median pass per image is reported as images per second, with the ratio of the two.

Usage (docs/export.md)::

    python benchmarks/onnx_vs_pytorch.py                     # ZF, YOLOv3, R50-FPN; 4 images
    python benchmarks/onnx_vs_pytorch.py --recipes zf --checkpoint work_dirs/zf_bccd \
        [--config work_dirs/zf_bccd/faster_rcnn_zf_bccd.py]

Exit status: 0 when the detections agreed, 1 when they did not or when no detection scored
above 0.05 in either runtime (nothing to compare, e.g. YOLOv3 with random weights; nothing is
timed then), 2 for bad arguments.
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import platform
import sys

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import registry  # noqa: E402
from zoo.benchmark.timing import interleaved_times, median  # noqa: E402
from zoo.config import load_config  # noqa: E402
from zoo.detectors.builder import build_detector, load_model  # noqa: E402
from zoo.export import (Match, build_exportable, export_onnx, image_pipeline,  # noqa: E402
                        match_detections, ort_session, run_onnx, run_pytorch)

RECIPES = {'zf': 'configs/faster_rcnn/faster_rcnn_zf_bccd.py',
           'yolov3': 'configs/yolo/yolov3_bccd.py',
           'r50_fpn': 'configs/faster_rcnn/faster_rcnn_r50_fpn_bccd.py'}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--recipes', nargs='+', choices=sorted(RECIPES), default=list(RECIPES))
    p.add_argument('--checkpoint', default=None,
                   help='weights (a checkpoint or a work dir) for the one recipe given; '
                        'default random weights')
    p.add_argument('--config', default=None,
                   help="the config of the one recipe given (e.g. a work dir's copy); default "
                        'the shipped recipe')
    p.add_argument('--images', type=int, default=4, help='BCCD images, decoded once')
    p.add_argument('--repeats', type=int, default=5, help='timed passes over the images')
    p.add_argument('--warmup', type=int, default=1, help='untimed passes first')
    p.add_argument('--threads', type=int, default=None,
                   help='threads of both runtimes (default: torch.get_num_threads())')
    p.add_argument('--out', default=None, help='write the results as JSON to this file')
    args = p.parse_args(argv)
    if (args.checkpoint or args.config) and len(args.recipes) != 1:
        p.error('--checkpoint and --config go with exactly one --recipes entry')
    if args.images < 1 or args.repeats < 1 or args.warmup < 0:
        p.error('--images and --repeats must be >= 1, --warmup >= 0')
    return args


def split_images(cfg, n: int) -> list[str]:
    """The first ``n`` images of the config's test split (VOC layout: the split's id list),
    else of data/BCCD/JPEGImages sorted."""
    dataset = (cfg.get('test_dataloader') or cfg.get('val_dataloader') or {}).get('dataset', {})
    root, split = dataset.get('data_root'), dataset.get('split', 'test')
    ids = os.path.join(root or '', 'ImageSets', 'Main', f'{split}.txt')
    if root and os.path.isfile(ids):
        with open(ids) as f:
            paths = [os.path.join(root, 'JPEGImages', f'{line.split()[0]}.jpg')
                     for line in f if line.strip()]
    else:
        paths = sorted(glob.glob(os.path.join(ROOT, 'data', 'BCCD', 'JPEGImages', '*.jpg')))
    paths = [p for p in paths if os.path.isfile(p)][:n]
    if not paths:
        raise SystemExit(f'benchmark: no test images found (data_root {root!r})')
    return paths


def load_images(paths: list[str]) -> list:
    from torchvision.io import ImageReadMode, decode_image, read_file
    return [decode_image(read_file(p), mode=ImageReadMode.RGB) for p in paths]


def bench(name: str, args, threads: int) -> dict:
    cfg = load_config(args.config or os.path.join(ROOT, RECIPES[name]))
    paths = split_images(cfg, args.images)
    images = load_images(paths)
    if args.checkpoint:
        from zoo.checkpoint import resolve_checkpoint
        model = load_model(cfg, resolve_checkpoint(args.checkpoint), 'cpu')
    else:
        torch.manual_seed(0)
        model = build_detector(cfg.model).eval()
    pipeline = image_pipeline(cfg)
    with torch.no_grad():
        onnx_bytes = export_onnx(build_exportable(cfg, model), images[0].permute(1, 2, 0).contiguous())
    session = ort_session(onnx_bytes, threads)
    agreement = Match()
    with torch.no_grad():
        for path, img in zip(paths, images):
            agreement.merge(match_detections(run_pytorch(model, pipeline, img),
                                             run_onnx(session, img), max_per_img=100),
                            os.path.basename(path))
    if agreement.ok and agreement.checked == 0:  # e.g. YOLOv3's random weights: scores ~1e-4
        agreement.ok = False
        agreement.problems.append('no detection scored above 0.05 in either runtime, so nothing '
                                  'was compared (give trained weights with --checkpoint)')
    if not agreement.ok:
        return dict(recipe=name, agreed=False, problems=agreement.problems[:10],
                    images=[os.path.basename(p) for p in paths])
    hwc = [img.permute(1, 2, 0).contiguous().numpy() for img in images]

    def pytorch():
        with torch.no_grad():
            for img in images:
                run_pytorch(model, pipeline, img)

    def onnxruntime():
        for img in hwc:
            session.run(None, {'image': img})

    times = interleaved_times({'pytorch': pytorch, 'onnxruntime': onnxruntime},
                              args.repeats, args.warmup)
    per_image = {k: median(v) / len(images) for k, v in times.items()}
    return dict(recipe=name, agreed=True, onnx_mib=round(len(onnx_bytes) / 2**20, 1),
                compared=agreement.checked, min_iou=agreement.min_iou,
                max_box_diff_px=agreement.max_box_diff, max_score_diff=agreement.max_score_diff,
                images=[os.path.basename(p) for p in paths],
                sizes=sorted({tuple(img.shape[-2:]) for img in images}),
                seconds_per_pass={k: v for k, v in times.items()},
                images_per_s={k: 1.0 / v for k, v in per_image.items()},
                speedup=per_image['pytorch'] / per_image['onnxruntime'])


def main(argv=None) -> int:
    import onnxruntime

    args = parse_args(argv)
    threads = args.threads or torch.get_num_threads()
    torch.set_num_threads(threads)
    registry.discover()
    load_before = round(os.getloadavg()[0], 1) if hasattr(os, 'getloadavg') else None
    rows = [bench(name, args, threads) for name in args.recipes]
    load_after = round(os.getloadavg()[0], 1) if hasattr(os, 'getloadavg') else None
    print(f'CPU ({os.cpu_count()} cores, 1-minute load average {load_before} before, '
          f'{load_after} after: other processes share the cores when it exceeds the threads), '
          f'{threads} threads, batch 1, {args.images} BCCD test images, median of '
          f'{args.repeats} interleaved passes; torch {torch.__version__}, onnxruntime '
          f'{onnxruntime.__version__}')
    print(f'{"recipe":<10} {"PyTorch img/s":>14} {"onnxruntime img/s":>18} {"speed-up":>9}')
    status = 0
    for r in rows:
        if not r['agreed']:
            status = 1
            print(f'{r["recipe"]:<10} not timed: ' + '; '.join(r['problems']))
            continue
        ips = r['images_per_s']
        print(f'{r["recipe"]:<10} {ips["pytorch"]:>14.2f} {ips["onnxruntime"]:>18.2f} '
              f'{r["speedup"]:>8.2f}x   ({r["compared"]} detections agreed: smallest IoU '
              f'{r["min_iou"]:.5f}, largest box difference {r["max_box_diff_px"]:.1e} px, score '
              f'{r["max_score_diff"]:.1e})')
    if args.out:
        from zoo.runner.atomic import write_text
        write_text(args.out, json.dumps(dict(machine=platform.processor() or platform.machine(),
                                             cores=os.cpu_count(), threads=threads,
                                             load_average=[load_before, load_after],
                                             images=args.images, repeats=args.repeats,
                                             warmup=args.warmup, torch=torch.__version__,
                                             onnxruntime=onnxruntime.__version__, rows=rows),
                                        indent=1))
    return status


if __name__ == '__main__':
    sys.exit(main())
