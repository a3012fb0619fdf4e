"""``zoo train CONFIG [--work-dir D] [--cfg-options ...] [--resume [CKPT]] [--overwrite]
[--load-partial] [--amp] [--seed N] [--time-budget MINUTES [--fit-schedule]]
[--launcher none|pytorch|slurm]``: train with mmengine's runner, validating as the config says.
A work dir holding another run is refused unless the run is resumed or overwritten
(:mod:`zoo.runner.workdir`); ``--time-budget`` stops training cleanly once that many minutes of
training are spent, and with ``--fit-schedule`` fits the schedule to them
(:mod:`zoo.runner.time_budget`)."""
from __future__ import annotations

import os

from .config_cmd import add_cfg_options
from .data_options import add_data_options, prepare_run_config


def add_parsers(sub, common) -> None:
    p = sub.add_parser('train', parents=[common], help='train a detector from a config',
                       description='Train CONFIG with mmengine\'s Runner on the GPU when there is '
                                   'one, else on the CPU. Checkpoints (last and best) and logs go '
                                   'to the work dir.')
    p.add_argument('config')
    p.add_argument('--work-dir', help='where logs and checkpoints go (default: the config\'s '
                                      'work_dir, else work_dirs/<config name>)')
    add_cfg_options(p)
    add_data_options(p)
    p.add_argument('--resume', nargs='?', const='auto', default=None, metavar='CKPT',
                   help='continue a stopped run: from CKPT, or, without it, from the latest '
                        'checkpoint in the work dir')
    p.add_argument('--overwrite', action='store_true',
                   help='train into a work dir that holds another run, deleting its checkpoints '
                        'and logs first (without it such a work dir is refused)')
    p.add_argument('--load-partial', action='store_true',
                   help='with load_from: load only the weights whose name and shape fit the '
                        'model (fine-tuning), listing what was skipped')
    p.add_argument('--amp', action='store_true',
                   help='mixed precision (as amp=True in the config): bfloat16 autocast on the '
                        'CPU, float16 with dynamic loss scaling on CUDA; RoI ops, box coding, NMS '
                        'and losses stay float32')
    p.add_argument('--tensorboard', action='store_true',
                   help='also log to TensorBoard (WORK_DIR/<timestamp>/vis_data; needs the '
                        'optional extra `tensorboard`; docs/analysis.md)')
    p.add_argument('--seed', type=int, default=None, help='random seed (default: config, else 0)')
    p.add_argument('--deterministic', action='store_true',
                   help='deterministic kernels (slower; for exact reproduction)')
    p.add_argument('--time-budget', type=float, default=None, metavar='MINUTES',
                   help='stop training once MINUTES of training wall-clock (from the first '
                        'iteration) are spent: the current iteration ends, the last checkpoint '
                        'is saved, the final validation runs, and zoo_run.json records '
                        'state "stopped_at_budget". The LR schedule is not rescaled unless '
                        '--fit-schedule. (config key: time_budget_min)')
    p.add_argument('--fit-schedule', action='store_true',
                   help='with --time-budget: after every epoch, fit the number of epochs and the '
                        'LR schedule to the budget from the mean epoch time (as Ultralytics\' '
                        'time=), instead of cutting or finishing early the configured schedule '
                        '(config key: time_budget_fit; epoch-based loops)')
    p.add_argument('--launcher', choices=['none', 'pytorch', 'slurm'], default='none',
                   help='distributed launcher: pytorch under torchrun, slurm under srun')
    p.set_defaults(func=run)


def config_name(path: str) -> str:
    return os.path.splitext(os.path.basename(path))[0]


def run(args) -> int:
    from registry import ConfigError
    from zoo.config import load_config
    from zoo.runner import workdir
    from zoo.runner.build import build_runner

    cfg = load_config(args.config, args.cfg_options)
    cfg.work_dir = args.work_dir or cfg.get('work_dir') or os.path.join('work_dirs',
                                                                          config_name(args.config))
    if args.resume == 'auto':
        cfg.resume, cfg.load_from = True, None
    elif args.resume:
        if not os.path.isfile(args.resume):
            raise ConfigError(f'--resume {args.resume}: no such checkpoint file')
        cfg.resume, cfg.load_from = True, args.resume
    if args.amp:
        cfg.amp = True  # build_runner: zoo.runner.precision.apply_amp
    randomness = dict(cfg.get('randomness') or {})
    if args.seed is not None:
        randomness['seed'] = args.seed
    if args.deterministic:
        randomness['deterministic'] = True
    cfg.randomness = randomness
    if args.tensorboard:
        from zoo.runner.tensorboard import add_tensorboard
        add_tensorboard(cfg)
    cfg.launcher = args.launcher
    if args.time_budget is not None:
        from zoo.runner.time_budget import check_budget
        cfg.time_budget_min = check_budget(args.time_budget, key='--time-budget')
    if args.fit_schedule:
        if cfg.get('time_budget_min') is None:
            raise ConfigError('--fit-schedule fits the schedule to a time budget; it needs '
                              '--time-budget MINUTES (or time_budget_min in the config)')
        cfg.time_budget_fit = True
    if args.load_partial:
        if not cfg.get('load_from') or args.resume:
            raise ConfigError('--load-partial loads the weights of load_from (--cfg-options '
                              'load_from=CKPT) that fit the model; it needs load_from and no --resume')
        cfg.load_partial = True
    stale = workdir.check_work_dir(cfg.work_dir, args.config, bool(args.resume), args.overwrite)
    prepare_run_config(cfg, args, cfg.work_dir, write_config=True)
    runner = build_runner(cfg)
    workdir.train(runner, args.config, stale, workdir.command_line(getattr(args, 'argv', None)))
    record = workdir.read_record(cfg.work_dir) or {}
    fit = record.get('schedule_fit')
    if fit:
        print(f'schedule fitted to the time budget: {fit["fitted_epochs"]} epochs (configured '
              f'{fit["configured_epochs"]}), {fit["mean_epoch_s"]:.1f} s per epoch')
    stop = record.get('budget_stop')
    if stop:
        where = ', '.join(f'{k} {stop[k]}' for k in ('epoch', 'iter') if k in stop)
        print(f'training stopped at its time budget ({stop["minutes"]:g} min) after {where}; '
              f'last checkpoint {stop["checkpoint"]}; logs in {cfg.work_dir}')
    else:
        print(f'training finished; checkpoints and logs in {cfg.work_dir}')
    return 0
