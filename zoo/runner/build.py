"""Building mmengine's ``Runner`` from a zoo config.

The model is built by the zoo (so that every error names its ``model.<key>`` path and the
assembly checks run before anything else), seeded first with the config's seed so that the
initial weights are reproducible; everything else (data loaders, optimizer, schedules, hooks,
evaluators, distributed launch) is mmengine's ``Runner`` from the same config.
"""
from __future__ import annotations

import copy
import itertools
import os

import torch
from mmengine.config import Config
from mmengine.runner import Runner, set_random_seed

import registry
from registry import ConfigError
from zoo.detectors.builder import build_detector

from . import (alternating_loop, amp_optim_wrapper, cast_cache, checkpoint,  # noqa: F401
               checkpoint_hook, hooks, identity, nonfinite, pipeline_switch, time_budget)
from .precision import apply_amp
from .tensorboard import check_tensorboard

# alternating_loop, amp_optim_wrapper, cast_cache, checkpoint_hook, hooks, identity, nonfinite,
# pipeline_switch and time_budget register parts when imported

_RUNNER_KEYS = (
    'work_dir', 'train_dataloader', 'val_dataloader', 'test_dataloader', 'train_cfg', 'val_cfg',
    'test_cfg', 'auto_scale_lr', 'optim_wrapper', 'param_scheduler', 'val_evaluator',
    'test_evaluator', 'default_hooks', 'custom_hooks', 'load_from', 'resume', 'launcher',
    'env_cfg', 'log_processor', 'log_level', 'visualizer', 'default_scope', 'randomness',
    'experiment_name',
)


#: runners built in this process: the second and later get an experiment name of their own
_RUNNERS_BUILT = itertools.count()


def device_name() -> str:
    """'cuda' when a GPU is visible, else 'cpu' (mmengine's runner picks the same)."""
    return 'cuda' if torch.cuda.is_available() else 'cpu'


def init_cpu_process_group(launcher: str) -> None:
    """Start the gloo process group on a machine without GPUs.

    mmengine's ``pytorch`` launcher calls ``torch.cuda.set_device`` and so cannot start on a
    CPU; the ``Runner`` skips its own initialisation when a process group exists, so the zoo
    starts one first, from the variables torchrun sets (``RANK``, ``WORLD_SIZE``,
    ``MASTER_ADDR``, ``MASTER_PORT``).

    Raises:
        ConfigError: ``launcher='slurm'`` without GPUs (use torchrun's variables instead), or
            the torchrun variables are missing.
    """
    import os

    import torch.distributed as dist
    if dist.is_initialized():
        return
    if launcher != 'pytorch':
        raise ConfigError(f'--launcher {launcher} needs GPUs; on CPUs start the processes with '
                          'torchrun and --launcher pytorch')
    missing = [v for v in ('RANK', 'WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT') if v not in os.environ]
    if missing:
        raise ConfigError(f'--launcher pytorch: {", ".join(missing)} not set; start the command '
                          'with torchrun --nproc-per-node N')
    dist.init_process_group(backend='gloo')


def build_runner(cfg: Config) -> Runner:
    """A ready ``Runner`` for ``cfg`` (train, val and test sections as present).

    With ``amp = True`` in ``cfg`` (``--amp``) training, validation and testing run in mixed
    precision (:func:`zoo.runner.precision.apply_amp`).

    With ``time_budget_min`` (minutes) in ``cfg``, training stops cleanly once that much
    training wall-clock is spent (:class:`~zoo.runner.time_budget.TimeBudgetHook`).

    Raises:
        UnknownPartError, ConfigError, AssemblyError: before anything runs (a
            ``time_budget_min`` that is not a number > 0 is a ConfigError).
    """
    checkpoint.install()
    registry.discover()
    registry.validate_types(cfg.to_dict())
    check_tensorboard(cfg)
    if 'work_dir' not in cfg:
        raise ConfigError('no work_dir: pass --work-dir or set work_dir in the config')
    randomness = dict(cfg.get('randomness') or {})
    randomness.setdefault('seed', 0)
    cfg.randomness = randomness
    set_random_seed(randomness['seed'], deterministic=randomness.get('deterministic', False))
    model = build_detector(copy.deepcopy(cfg.model))
    amp = apply_amp(cfg)  # `amp = True` (or --amp): autocast in training, validation and test
    custom_hooks = list(cfg.get('custom_hooks') or [])
    if amp and not any(h.get('type') == 'InferenceCastCacheHook' for h in custom_hooks):
        custom_hooks.append(dict(type='InferenceCastCacheHook'))  # no weight-cast cache there
    if not any(h.get('type') == 'EpochSeedHook' for h in custom_hooks):
        custom_hooks.append(dict(type='EpochSeedHook', seed=randomness['seed']))
    for guard in ('NonFiniteGuardHook', 'CheckpointIdentityHook'):  # always: docs/guarantees.md
        if not any(h.get('type') == guard for h in custom_hooks):
            custom_hooks.append(dict(type=guard))
    if cfg.get('time_budget_min') is not None:  # zoo train --time-budget
        minutes = time_budget.check_budget(cfg.time_budget_min)
        loop = (cfg.get('train_cfg') or {}).get('type')
        if loop not in (None, 'EpochBasedTrainLoop', 'IterBasedTrainLoop'):
            raise ConfigError(f'time_budget_min: a time budget needs an EpochBasedTrainLoop or '
                              f'IterBasedTrainLoop; train_cfg.type is {loop!r}')
        custom_hooks = [h for h in custom_hooks if h.get('type') != 'TimeBudgetHook']
        custom_hooks.append(dict(type='TimeBudgetHook', minutes=minutes,
                                 fit_schedule=bool(cfg.get('time_budget_fit', False))))
    elif cfg.get('time_budget_fit'):
        raise ConfigError('time_budget_fit: fitting the schedule needs a time budget '
                          '(time_budget_min, zoo train --time-budget MINUTES)')
    hooks_cfg = cfg.get('default_hooks') or {}
    if (hooks_cfg.get('checkpoint') or {}).get('type') in ('CheckpointHook', 'mmengine.CheckpointHook'):
        # the new best checkpoint is complete before the previous one is removed
        hooks_cfg['checkpoint']['type'] = 'SafeCheckpointHook'
    if cfg.get('launcher', 'none') != 'none' and not torch.cuda.is_available():
        env = dict(cfg.get('env_cfg') or {})
        env['dist_cfg'] = dict(env.get('dist_cfg') or {}, backend='gloo')  # NCCL needs GPUs
        cfg.env_cfg = env
        init_cpu_process_group(cfg.launcher)
        # mmengine gives DDP device_ids=[LOCAL_RANK], which only GPU modules accept
        wrapper = dict(cfg.get('model_wrapper_cfg') or {})
        wrapper.setdefault('type', 'MMDistributedDataParallel')
        wrapper['device_ids'] = None
        cfg.model_wrapper_cfg = wrapper
    kwargs = {k: cfg[k] for k in _RUNNER_KEYS if k in cfg}
    kwargs['custom_hooks'] = custom_hooks
    kwargs.setdefault('default_scope', 'zoo')
    n = next(_RUNNERS_BUILT)
    if n and not kwargs.get('experiment_name'):
        # mmengine names a run's logger and visualizer `<config>_<timestamp>` and returns an
        # existing instance of that name: a second runner started in the same second (tests,
        # in-process ablations) would log into the first one's file. `_runN` keeps them apart.
        stem = os.path.splitext(os.path.basename(cfg.filename or 'zoo'))[0]
        kwargs['experiment_name'] = f'{stem}_run{n + 1}'
    return Runner(model=model, cfg=cfg, **kwargs)
