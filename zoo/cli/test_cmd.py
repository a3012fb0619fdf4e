"""``zoo test CONFIG CKPT [--out results.json]``: evaluate a checkpoint on the test split."""
from __future__ import annotations

import os

from .config_cmd import add_cfg_options
from .train_cmd import config_name


def add_parsers(sub, common) -> None:
    p = sub.add_parser('test', parents=[common], help='evaluate a checkpoint (COCO metrics)',
                       description='Run CKPT on the config\'s test data and print the metrics.')
    p.add_argument('config')
    p.add_argument('checkpoint')
    p.add_argument('--out', help='write the detections in COCO results format to this JSON file')
    p.add_argument('--work-dir', help='where the test logs go')
    add_cfg_options(p)
    p.add_argument('--launcher', choices=['none', 'pytorch', 'slurm'], default='none')
    p.set_defaults(func=run)


def run(args) -> int:
    from registry import ConfigError
    from zoo.config import load_config
    from zoo.runner.build import build_runner

    cfg = load_config(args.config, args.cfg_options)
    if not os.path.isfile(args.checkpoint):
        raise ConfigError(f'checkpoint {args.checkpoint!r} does not exist')
    if 'test_dataloader' not in cfg or 'test_evaluator' not in cfg:
        raise ConfigError(f'{args.config} has no test_dataloader/test_evaluator to test with')
    cfg.work_dir = args.work_dir or cfg.get('work_dir') or os.path.join('work_dirs',
                                                                          config_name(args.config))
    cfg.load_from, cfg.resume, cfg.launcher = args.checkpoint, False, args.launcher
    for key in ('train_dataloader', 'train_cfg', 'optim_wrapper', 'param_scheduler'):
        cfg.pop(key, None)  # testing needs none of the training machinery
    if args.out:
        evaluators = cfg.test_evaluator if isinstance(cfg.test_evaluator, list) else [cfg.test_evaluator]
        for ev in evaluators:
            if ev.get('type') == 'CocoMetric':
                ev['outfile_path'] = args.out
    runner = build_runner(cfg)
    metrics = runner.test()
    if args.out:
        print(f'detections written to {args.out} (COCO results format)')
    return 0 if metrics is not None else 1
