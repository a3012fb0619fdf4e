"""``zoo infer CONFIG CKPT IMAGE_OR_DIR ... --out-dir D [--score-thr T] [--show-proposals N]``."""
from __future__ import annotations

import json
import os

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
    p.add_argument('--score-thr', type=float, default=0.3, help='draw and list detections '
                                                                'scoring at least this (0.3)')
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
                            if f.lower().endswith(IMAGE_EXTENSIONS))
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


def load_model(cfg, checkpoint_path: str, device: str):
    """Build the config's model and load a checkpoint's weights (weights_only, allowlisted)."""
    import registry
    from zoo.detectors.builder import build_detector
    from zoo.runner.checkpoint import install, load_checkpoint_file
    install()
    registry.discover()
    model = build_detector(cfg.model)
    ckpt = load_checkpoint_file(checkpoint_path)
    state = ckpt.get('state_dict', ckpt) if isinstance(ckpt, dict) else ckpt
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise ValueError(f'checkpoint {checkpoint_path!r} does not fit the model of the config: '
                         f'missing keys {missing[:10]}{"..." if len(missing) > 10 else ""}, '
                         f'unexpected keys {unexpected[:10]}{"..." if len(unexpected) > 10 else ""}')
    return model.to(device).eval()


def run(args) -> int:
    import torch
    from mmengine.utils import ProgressBar

    import registry
    from zoo.config import load_config
    from zoo.visualization import draw_detections

    cfg = load_config(args.config)
    from .data_options import prepare_run_config
    prepare_run_config(cfg, args, args.out_dir, loaders=False)  # --data: class names, num_classes
    device = args.device or ('cuda' if torch.cuda.is_available() else 'cpu')
    from .test_cmd import resolve_checkpoint
    model = load_model(cfg, resolve_checkpoint(args.checkpoint), device)
    pipeline = registry.build('transform', dict(type='Compose', transforms=test_pipeline(cfg)),
                              key='test_dataloader.dataset')
    classes = (cfg.get('classes') or cfg.test_dataloader.dataset.get('classes') or ())
    os.makedirs(args.out_dir, exist_ok=True)
    paths = collect_images(args.inputs)
    records, bar = [], ProgressBar(len(paths))
    for i, path in enumerate(paths):
        data = pipeline(dict(img_path=path, img_id=i))
        batch = model.data_preprocessor(dict(inputs=[data['inputs']],
                                             data_samples=[data['data_samples']]), False)
        with torch.no_grad():
            sample = model(**batch, mode='predict')[0]
        pred = sample.pred_instances
        keep = pred.scores >= args.score_thr
        boxes, scores, labels = pred.bboxes[keep].cpu(), pred.scores[keep].cpu(), pred.labels[keep].cpu()
        for box, score, label in zip(boxes.tolist(), scores.tolist(), labels.tolist()):
            records.append(dict(image=path, bbox=[round(v, 2) for v in box], score=round(score, 4),
                                label=int(label),
                                label_name=classes[label] if label < len(classes) else str(label)))
        proposals = None
        if args.show_proposals > 0 and 'proposals' in sample:  # one-stage models make none
            sf = sample.metainfo.get('scale_factor', (1.0, 1.0))
            props = sample.proposals.bboxes[:args.show_proposals].cpu()
            proposals = props / torch.tensor([sf[0], sf[1], sf[0], sf[1]])
        from PIL import Image
        picture = draw_detections(Image.open(path), boxes, labels, scores, classes, proposals)
        stem = os.path.splitext(os.path.basename(path))[0]
        picture.save(os.path.join(args.out_dir, f'{stem}.png'))
        bar.update()
    out = os.path.join(args.out_dir, 'detections.json')
    with open(out, 'w') as f:
        json.dump(records, f, indent=1)
    print(f'\n{len(records)} detections (score >= {args.score_thr}) on {len(paths)} image(s); '
          f'pictures and {out} written')
    return 0
