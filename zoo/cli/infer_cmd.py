"""``zoo infer CONFIG CKPT IMAGE_OR_DIR ... --out-dir D [--score-thr T] [--show-proposals N]``."""
from __future__ import annotations

import json
import os
import sys

from .infer_helpers import output_names, report_failures, score_threshold

IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp')


def add_parsers(sub, common) -> None:
    p = sub.add_parser('infer', parents=[common], help='detect objects in images and draw them',
                       description='Run CKPT on images (files or folders) with the config\'s '
                                   'test pipeline; write one picture per input with boxes, class '
                                   'names and scores, and D/detections.json.')
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
    from .data_options import add_data_options
    add_data_options(p)
    p.set_defaults(func=run)


def collect_images(inputs: list[str]) -> list[str]:
    from registry import ConfigError
    paths = []
    for item in inputs:
        if os.path.isdir(item):
            paths += sorted(os.path.join(item, f) for f in os.listdir(item)
                            if f.lower().endswith(IMAGE_EXTENSIONS)
                            and os.path.isfile(os.path.join(item, f)))  # not a folder `more.jpg`
        elif os.path.isfile(item):
            paths.append(item)
        else:
            raise ConfigError(f'input {item!r} is neither an image file nor a folder')
    if not paths:
        raise ConfigError(f'no image found in {inputs}')
    return paths


def test_pipeline(cfg) -> list:
    """The test pipeline of the config, without the steps that read annotations."""
    from registry import ConfigError
    loader = cfg.get('test_dataloader') or cfg.get('val_dataloader')
    if loader is None:
        raise ConfigError('the config has no test_dataloader (or val_dataloader) whose pipeline '
                          'could prepare images')
    return [t for t in loader['dataset']['pipeline'] if 'Annotation' not in t.get('type', '')]


def run(args) -> int:
    import torch
    from mmengine.utils import ProgressBar

    import registry
    from zoo.config import load_config
    from zoo.runner.atomic import atomic_write

    cfg = load_config(args.config)
    from .data_options import prepare_run_config
    prepare_run_config(cfg, args, args.out_dir, loaders=False)  # --data: class names, num_classes
    device = args.device or ('cuda' if torch.cuda.is_available() else 'cpu')
    from zoo.checkpoint import resolve_checkpoint
    from zoo.detectors.builder import load_model
    model = load_model(cfg, resolve_checkpoint(args.checkpoint), device)
    pipeline = registry.build('transform', dict(type='Compose', transforms=test_pipeline(cfg)),
                              key='test_dataloader.dataset')
    classes = (cfg.get('classes') or cfg.test_dataloader.dataset.get('classes') or ())
    os.makedirs(args.out_dir, exist_ok=True)
    paths = collect_images(args.inputs)
    names = output_names(paths)
    records, failures, bar = [], [], ProgressBar(len(paths))
    for i, path in enumerate(paths):
        try:
            records += _infer_one(args, model, pipeline, classes, path, i, names[path])
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


def _infer_one(args, model, pipeline, classes, path: str, i: int, name: str) -> list[dict]:
    """Detect in one image, save its picture as ``out_dir/name``; its detection records."""
    import torch
    from PIL import Image

    from zoo.runner.atomic import atomic_write
    from zoo.visualization import draw_detections
    records = []
    data = pipeline(dict(img_path=path, img_id=i))
    batch = model.data_preprocessor(dict(inputs=[data['inputs']],
                                         data_samples=[data['data_samples']]), False)
    with torch.no_grad():
        sample = model(**batch, mode='predict')[0]
    pred = sample.pred_instances
    keep = pred.scores >= args.score_thr
    boxes, scores, labels = pred.bboxes[keep].cpu(), pred.scores[keep].cpu(), pred.labels[keep].cpu()
    for box, score, label in zip(boxes.tolist(), scores.tolist(), labels.tolist(), strict=True):
        records.append(dict(image=path, bbox=[round(v, 2) for v in box], score=round(score, 4),
                            label=int(label),
                            label_name=classes[label] if label < len(classes) else str(label)))
    proposals = None
    if args.show_proposals > 0 and 'proposals' in sample:  # one-stage models make none
        sf = sample.metainfo.get('scale_factor', (1.0, 1.0))
        props = sample.proposals.bboxes[:args.show_proposals].cpu()
        proposals = props / torch.tensor([sf[0], sf[1], sf[0], sf[1]])
    picture = draw_detections(Image.open(path), boxes, labels, scores, classes, proposals)
    with atomic_write(os.path.join(args.out_dir, name), 'wb') as f:
        picture.save(f, format='PNG')
    return records
