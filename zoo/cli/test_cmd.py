"""``zoo test CONFIG CKPT [--out results.json] [--metrics metrics.json] [--amp]``: evaluate a
checkpoint on the test split."""
from __future__ import annotations

import os

from zoo.checkpoint import resolve_checkpoint

from .config_cmd import add_cfg_options
from .data_options import add_data_options, prepare_run_config
from .train_cmd import config_name


def add_parsers(sub, common) -> None:
    p = sub.add_parser('test', parents=[common], help='evaluate a checkpoint (COCO metrics)',
                       description='Run CKPT on the config\'s test data and print the metrics.')
    p.add_argument('config')
    p.add_argument('checkpoint', help='a checkpoint file, or a work dir: its best checkpoint, '
                                      'else its last')
    p.add_argument('--out', help='write the detections in COCO results format to this JSON file')
    p.add_argument('--metrics', help='write the metrics (the names printed, e.g. '
                                     'coco/bbox_mAP_50) to this JSON file; NaN becomes null')
    p.add_argument('--work-dir', help='where the test logs go (default: the work dir given as '
                                      'CKPT, else the config\'s work_dir, else '
                                      'work_dirs/<config name>)')
    add_cfg_options(p)
    add_data_options(p)
    p.add_argument('--amp', action='store_true',
                   help='mixed precision (as amp=True in the config): the model runs under '
                        'autocast, bfloat16 on the CPU, float16 on CUDA')
    p.add_argument('--launcher', choices=['none', 'pytorch', 'slurm'], default='none')
    p.set_defaults(func=run)


def write_metrics(path: str, metrics: dict, checkpoint: str) -> None:
    """``{"checkpoint": ..., "metrics": {name: float or null}}`` (written atomically)."""
    import json
    import math

    clean = {}
    for name, value in (metrics or {}).items():
        value = float(value)
        clean[name] = None if math.isnan(value) else value
    from zoo.runner.atomic import atomic_write
    with atomic_write(path) as f:
        json.dump({'checkpoint': os.path.abspath(checkpoint), 'metrics': clean}, f, indent=1)


def run(args) -> int:
    from registry import ConfigError
    from zoo.config import load_config
    from zoo.runner.build import build_runner

    cfg = load_config(args.config, args.cfg_options)
    given_work_dir = args.checkpoint if os.path.isdir(args.checkpoint) else None
    args.checkpoint = resolve_checkpoint(args.checkpoint)
    if 'test_dataloader' not in cfg or 'test_evaluator' not in cfg:
        raise ConfigError(f'{args.config} has no test_dataloader/test_evaluator to test with')
    # the logs go to --work-dir, else to the work dir given as CKPT, else as for `zoo train`
    cfg.work_dir = args.work_dir or given_work_dir or cfg.get('work_dir') or os.path.join(
        'work_dirs', config_name(args.config))
    cfg.load_from, cfg.resume, cfg.launcher = args.checkpoint, False, args.launcher
    if args.amp:
        cfg.amp = True  # build_runner: test_cfg.fp16 (zoo.runner.precision.apply_amp)
    for key in ('train_dataloader', 'train_cfg', 'optim_wrapper', 'param_scheduler'):
        cfg.pop(key, None)  # testing needs none of the training machinery
    prepare_run_config(cfg, args, cfg.work_dir)
    prefix = None
    if args.out:
        if not args.out.endswith('.json'):
            raise ConfigError(f'--out {args.out}: expected a .json file name')
        evaluators = cfg.test_evaluator if isinstance(cfg.test_evaluator, list) else [cfg.test_evaluator]
        coco = [ev for ev in evaluators if ev.get('type') == 'CocoMetric']
        if not coco:
            raise ConfigError('--out needs a CocoMetric in test_evaluator')
        prefix = args.out[:-len('.json')] + '.zoo-tmp'
        coco[0]['outfile_prefix'] = prefix
    if args.metrics and not args.metrics.endswith('.json'):
        raise ConfigError(f'--metrics {args.metrics}: expected a .json file name')
    runner = build_runner(cfg)
    metrics = runner.test()
    if args.metrics:
        write_metrics(args.metrics, metrics, args.checkpoint)
        print(f'metrics written to {args.metrics}')
    if prefix is not None:
        os.replace(prefix + '.bbox.json', args.out)  # CocoMetric writes <prefix>.bbox.json
        print(f'detections written to {args.out} (COCO results format)')
    record_test(cfg.work_dir, args, metrics)
    return 0


def record_test(work_dir: str, args, metrics: dict) -> None:
    """In the run record of a `zoo train` work dir (none elsewhere): this test's command line,
    checkpoint and metrics (NaN as null), for ``zoo model-zoo``."""
    import math

    from zoo.runner import workdir
    if workdir.read_record(work_dir) is None:
        return
    clean = {k: (None if math.isnan(float(v)) else float(v)) for k, v in (metrics or {}).items()}
    workdir.write_record(work_dir, test=dict(
        command=workdir.command_line(getattr(args, 'argv', None)), cwd=os.getcwd(),
        checkpoint=os.path.abspath(args.checkpoint), metrics=clean))
