"""``zoo infer CONFIG CKPT IMAGE_OR_DIR ... --out-dir D [--score-thr T] [--show-proposals N]
[--amp]``: a thin shell over :class:`zoo.inference.Detector`."""
from __future__ import annotations

import json
import os
import sys

from .infer_helpers import output_names, report_failures, score_threshold


def add_parsers(sub, common) -> None:
    p = sub.add_parser('infer', parents=[common], help='detect objects in images and draw them',
                       description='Run CKPT on images (files or folders) with the config\'s '
                                   'test pipeline; write one picture per input with boxes, class '
                                   'names and scores, and D/detections.json. The same from '
                                   'Python: zoo.Detector (docs/inference.md).')
    p.add_argument('config')
    p.add_argument('checkpoint', help='a checkpoint file, or a work dir (its best, else last)')
    p.add_argument('inputs', nargs='+', metavar='IMAGE_OR_DIR')
    p.add_argument('--out-dir', required=True)
    p.add_argument('--score-thr', type=score_threshold, default=0.3,
                   help='draw and list detections scoring at least this, in [0, 1] (0.3)')
    p.add_argument('--show-proposals', type=int, default=0, metavar='N',
                   help='also draw the N best RPN proposals (two-stage models; '
                        'ignored for a one-stage model, which makes none)')
    p.add_argument('--device', default=None, help='cpu or cuda (default: cuda when available)')
    p.add_argument('--amp', action='store_true',
                   help='run the model under torch.autocast (bfloat16 on the CPU, float16 on '
                        'CUDA); without it, the config\'s amp decides')
    from .data_options import add_data_options
    add_data_options(p)
    p.set_defaults(func=run)


def collect_images(inputs: list[str]) -> list[str]:
    """The image files of the inputs (:func:`zoo.inference.images.collect_images`); a missing
    input or no image at all is a usage error (ConfigError, exit status 2)."""
    from registry import ConfigError
    from zoo.inference.images import collect_images as collect
    try:
        return collect(inputs)
    except (FileNotFoundError, ValueError) as err:
        raise ConfigError(str(err)) from None


def run(args) -> int:
    import torch
    from mmengine.utils import ProgressBar

    from zoo.config import load_config
    from zoo.inference import Detector
    from zoo.inference.images import InputImage
    from zoo.runner.atomic import atomic_write

    cfg = load_config(args.config)
    from .data_options import prepare_run_config
    prepare_run_config(cfg, args, args.out_dir, loaders=False)  # --data: class names, num_classes
    device = args.device or ('cuda' if torch.cuda.is_available() else 'cpu')
    detector = Detector(cfg, args.checkpoint, device=device, amp=True if args.amp else None,
                        score_thr=args.score_thr, num_proposals=max(0, args.show_proposals))
    os.makedirs(args.out_dir, exist_ok=True)
    paths = collect_images(args.inputs)
    names = output_names(paths)
    records, failures, bar = [], [], ProgressBar(len(paths))
    for i, path in enumerate(paths):
        try:  # one image at a time: a broken one is reported and the others go on
            dets = next(detector.iter_batches([InputImage(i, path=path)]))
            records += _save(dets, os.path.join(args.out_dir, names[path]))
        except Exception as err:  # reported, counted, and the exit status is 1
            failures.append((path, f'{type(err).__name__}: {err}'))
        bar.update()
    out = os.path.join(args.out_dir, 'detections.json')
    with atomic_write(out) as f:
        json.dump(records, f, indent=1)
    print(f'\n{len(records)} detections (score >= {args.score_thr}) on '
          f'{len(paths) - len(failures)} image(s); pictures and {out} written')
    if failures:
        print(report_failures(failures, len(paths)), file=sys.stderr)
        return 1
    return 0


def _save(dets, picture_path: str) -> list[dict]:
    """Save the picture of one image's detections; their records for detections.json."""
    from zoo.runner.atomic import atomic_write
    with atomic_write(picture_path, 'wb') as f:
        dets.draw().save(f, format='PNG')
    return [dict(image=dets.image_path, bbox=[round(v, 2) for v in box], score=round(score, 4),
                 label=int(label), label_name=name)
            for box, score, label, name in zip(dets.boxes.tolist(), dets.scores.tolist(),
                                               dets.labels.tolist(), dets.label_names(), strict=True)]
