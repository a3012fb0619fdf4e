"""``zoo browse CONFIG [--split train] --out-dir D [-n N]``: ground truth after the transforms."""
from __future__ import annotations

import os

from .config_cmd import add_cfg_options
from .data_options import add_data_options, prepare_run_config


def add_parsers(sub, common) -> None:
    p = sub.add_parser('browse', parents=[common],
                       help='draw dataset images with their ground truth after the transforms',
                       description='Save N images of a split, as the model will see them (after '
                                   'the pipeline), with their ground-truth boxes: a look at the '
                                   'annotations before training.')
    p.add_argument('config')
    p.add_argument('--split', choices=['train', 'val', 'test'], default='train')
    p.add_argument('--out-dir', required=True)
    p.add_argument('-n', type=int, default=8, help='how many images (8)')
    add_cfg_options(p)
    add_data_options(p)
    p.set_defaults(func=run)


def run(args) -> int:
    import registry
    from registry import ConfigError
    from zoo.config import load_config
    from zoo.visualization import draw_detections

    cfg = load_config(args.config, args.cfg_options)
    prepare_run_config(cfg, args, args.out_dir)
    key = f'{args.split}_dataloader'
    if key not in cfg:
        raise ConfigError(f'{args.config} has no {key}')
    registry.discover()
    dataset = registry.build('dataset', cfg[key]['dataset'], key=f'{key}.dataset')
    classes = dataset.metainfo.get('classes', ())
    os.makedirs(args.out_dir, exist_ok=True)
    for i in range(min(args.n, len(dataset))):
        item = dataset[i]
        sample = item['data_samples']
        gt = sample.gt_instances
        ignored = gt.get('ignore_flags', None)
        picture = draw_detections(item['inputs'], gt.bboxes, gt.labels, None, classes)
        name = os.path.splitext(os.path.basename(sample.metainfo.get('img_path', f'{i}')))[0]
        picture.save(os.path.join(args.out_dir, f'{name}.png'))
        n_ign = int(ignored.sum()) if ignored is not None else 0
        print(f'{name}: {len(gt.bboxes)} boxes ({n_ign} ignored), shape {tuple(item["inputs"].shape[1:])}')
    print(f'{min(args.n, len(dataset))} image(s) written to {args.out_dir}')
    return 0
