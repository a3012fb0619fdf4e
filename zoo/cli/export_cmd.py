"""``zoo export CONFIG CKPT_OR_WORK_DIR --format onnx --out model.onnx [--force] [--opset N]
[--check-images IMG ...]``: the whole detector as one ONNX file, checked with onnxruntime.

The file is never half-checked: it is written to a hidden temporary file beside ``--out``,
that file is checked (``onnx.checker``, then onnxruntime against PyTorch on two sizes), and
only then renamed onto ``--out`` (``os.replace``); on any failure the temporary file is removed
and ``--out`` is left as it was."""
from __future__ import annotations

import argparse
import contextlib
import os
import tempfile

from .config_cmd import add_cfg_options


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f'expected a number, got {text!r}') from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f'expected a number >= 0, got {text!r}')
    return value


def add_parsers(sub, common) -> None:
    p = sub.add_parser(
        'export', parents=[common], help='export a detector to ONNX (checked with onnxruntime)',
        description='Export the whole detector of CONFIG with the weights of CKPT (a checkpoint '
                    'or a work dir: its best, else its last) to one ONNX file: input a uint8 '
                    '(H, W, 3) RGB image of any size; the test pipeline\'s resize, the '
                    'normalization, the network, box decoding, NMS and the rescaling to the '
                    'image\'s pixels in the graph; outputs boxes (N, 4) xyxy, scores (N,), labels '
                    '(N,). Before the file is written, onnxruntime runs it on real images at '
                    'two sizes each and its detections are compared with the PyTorch model\'s; '
                    'if they differ, nothing is written and the exit status is 1. '
                    'See docs/export.md.')
    p.add_argument('config')
    p.add_argument('checkpoint', metavar='CKPT_OR_WORK_DIR')
    p.add_argument('--format', choices=['onnx'], default='onnx', help='onnx (the only one)')
    p.add_argument('--out', required=True,
                   help='the file to write, e.g. model.onnx; an existing file is refused unless '
                        '--force')
    p.add_argument('--force', action='store_true',
                   help='replace an existing --out file (only once the new one passed the check)')
    p.add_argument('--opset', type=int, default=None,
                   help='ONNX opset version, 11 to 20 (default 17)')
    p.add_argument('--check-images', nargs='+', metavar='IMG', default=None,
                   help='images of the check (default: the first two of the config\'s test '
                        'split); each runs at its own size and cropped to 80%% x 85%%')
    p.add_argument('--score-thr', type=_positive_float, default=None,
                   help='compare the detections scoring above this (default 0.05)')
    p.add_argument('--min-iou', type=_positive_float, default=None,
                   help='smallest IoU of matched detections (default 0.99)')
    p.add_argument('--score-atol', type=_positive_float, default=None,
                   help='largest score difference of matched detections (default 0.001)')
    add_cfg_options(p)
    p.set_defaults(func=run)


def default_check_images(cfg, count: int = 2) -> list[str]:
    """The first ``count`` images of the config's test split (VOC layout: the split's id list
    under ``ImageSets/Main``, else the images of ``img_subdir``, ``JPEGImages`` by default,
    sorted).

    Raises:
        ConfigError: no images were found there (pass ``--check-images``).
    """
    from registry import ConfigError

    loader = cfg.get('test_dataloader') or cfg.get('val_dataloader') or {}
    dataset = loader.get('dataset', {}) if hasattr(loader, 'get') else {}
    root = dataset.get('data_root')
    found = []
    if root:
        images = os.path.join(root, dataset.get('img_subdir', 'JPEGImages'))
        split = dataset.get('split', 'test') or ''
        ids_file = (os.path.join(root, split) if split.endswith('.txt') else
                    os.path.join(root, 'ImageSets', 'Main', f'{split}.txt'))
        if split and os.path.isfile(ids_file):
            with open(ids_file) as f:
                ids = [line.split()[0] for line in f if line.strip()]
            suffix = dataset.get('img_suffix', '.jpg')
            found = [os.path.join(images, f'{i}{suffix}') for i in ids]
        elif os.path.isdir(images):
            found = [os.path.join(images, n) for n in sorted(os.listdir(images))
                     if n.lower().endswith(('.jpg', '.jpeg', '.png'))]
        found = [p for p in found if os.path.isfile(p)]
    if not found:
        raise ConfigError(f'no test images found under the test dataset\'s data_root {root!r} '
                          f'({dataset.get("img_subdir", "JPEGImages")}); give the images of the '
                          f'check with --check-images')
    return found[:count]


def max_per_img(cfg) -> int | None:
    """The detector's cap on detections per image (``test_cfg.rcnn`` or ``test_cfg``)."""
    test_cfg = cfg.model.get('test_cfg') or {}
    test_cfg = test_cfg.get('rcnn', test_cfg)
    value = test_cfg.get('max_per_img', 100)
    return int(value) if value is not None else None


def run(args) -> int:
    import torch

    from registry import ConfigError
    from zoo.checkpoint import resolve_checkpoint
    from zoo.config import load_config
    from zoo.detectors.builder import load_model
    from zoo.export import (DEFAULT_OPSET, MIN_IOU, SCORE_ATOL, SCORE_THR, ExportError,
                            build_exportable, check_images, check_model_file, export_onnx,
                            image_pipeline, verify)

    if os.path.isdir(args.out):
        raise ConfigError(f'--out {args.out}: a folder, expected the path of a file to write')
    if os.path.exists(args.out) and not args.force:
        raise ConfigError(f'--out {args.out}: the file exists; give --force to replace it (it is '
                          'replaced only once the new export passed the check)')
    opset = DEFAULT_OPSET if args.opset is None else args.opset
    if not 11 <= opset <= 20:
        raise ConfigError(f'--opset {opset}: expected 11 to 20 (the TorchScript exporter\'s range '
                          'for this graph; default 17)')
    cfg = load_config(args.config, args.cfg_options)
    paths = args.check_images or default_check_images(cfg)
    images = check_images(paths)
    model = load_model(cfg, resolve_checkpoint(args.checkpoint), 'cpu')
    exportable = build_exportable(cfg, model)
    pipeline = image_pipeline(cfg)
    example = images[0][1].permute(1, 2, 0).contiguous()
    print(f'exporting {type(model).__name__} (opset {opset}) ...', flush=True)
    onnx_bytes = export_onnx(exportable, example, opset)
    score_thr = SCORE_THR if args.score_thr is None else args.score_thr
    min_iou = MIN_IOU if args.min_iou is None else args.min_iou
    atol = SCORE_ATOL if args.score_atol is None else args.score_atol
    folder = os.path.dirname(os.path.abspath(args.out))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f'.{os.path.basename(args.out)}.', suffix='.tmp', dir=folder)
    try:
        with os.fdopen(fd, 'wb') as f:
            f.write(onnx_bytes)
            f.flush()
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp's 0600 -> what open() would have made
        del onnx_bytes
        size = os.path.getsize(tmp)
        check_model_file(tmp)
        with torch.no_grad():  # a context, not set_grad_enabled: callers keep their grad mode
            result = verify(tmp, model, pipeline, images, score_thr, min_iou, atol,
                            max_per_img(cfg))
        sizes = sorted({tuple(img.shape[-2:]) for _, img in images})
        summary = (f'{result.checked} detections scoring above {score_thr} on {len(images)} '
                   f'images ({len(sizes)} sizes); smallest IoU {result.min_iou:.4f}, largest '
                   f'score difference {result.max_score_diff:.2e}, largest box coordinate '
                   f'difference {result.max_box_diff:.2e} px')
        if not result.ok:
            shown = result.problems[:10]
            more = len(result.problems) - len(shown)
            raise ExportError('the exported model disagrees with PyTorch (nothing written to '
                              f'{args.out}): {summary}; tolerance IoU >= {min_iou}, score '
                              f'difference <= {atol}:\n  ' + '\n  '.join(shown)
                              + (f'\n  ... and {more} more' if more else ''))
        if result.checked == 0:
            raise ExportError(f'no detection scored above {score_thr} on the check images, so '
                              f'the check compared nothing (nothing written to {args.out}); give '
                              'other --check-images or a lower --score-thr')
        os.replace(tmp, args.out)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    print(f'checked with onnxruntime: {summary}')
    print(f'{args.out} written ({size / 2**20:.1f} MiB)')
    return 0
