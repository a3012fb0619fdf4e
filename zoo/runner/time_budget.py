"""A wall-clock budget for training: ``zoo train CONFIG --time-budget MINUTES`` (config key
``time_budget_min``).

:class:`TimeBudgetHook` measures the training wall-clock from the start of the first training
iteration of this process (data loading, the steps and any validation run between epochs all
count; building the model and the data loaders do not). After each iteration it compares the
elapsed time with the budget; once the budget is spent:

* the current iteration is finished, no further iteration starts (with an epoch-based loop the
  rest of the epoch is skipped: the epoch in progress counts as the last one);
* the loop's end is moved to this point, so mmengine treats it as the last epoch (iteration):
  ``CheckpointHook`` saves ``epoch_<k>.pth`` (``iter_<n>.pth``) and points ``last_checkpoint`` at
  it (``save_last``, on by default; with ``save_last=False`` the hook saves it itself), and the
  final validation runs when the config has a ``val_cfg``, as at the end of a full schedule;
* the run record ``zoo_run.json`` (:mod:`zoo.runner.workdir`) gets ``budget_stop``: the budget,
  the time spent, the epoch and iteration reached, the configured end and the checkpoint. ``zoo
  train`` then records the run's ``state`` as ``stopped_at_budget`` (not ``finished``, which means
  the whole schedule ran, nor ``failed``).

The learning-rate schedule is **not** rescaled to the budget: a run stopped at its budget has
the learning rate its schedule gives at that iteration (a cosine schedule of 12 epochs stopped
after 3 is still at a high rate). Resuming a stopped run (``--resume``) continues the original
schedule from the next epoch (epoch-based loops: the rest of the interrupted epoch is skipped),
with a fresh budget if one is given again.

Under distributed training rank 0's clock decides, broadcast to every rank each iteration, so
all processes stop after the same iteration.
"""
from __future__ import annotations

import math
import os
import time
from typing import Optional

from mmengine.hooks import Hook
from mmengine.registry import HOOKS
from mmengine.runner import EpochBasedTrainLoop, IterBasedTrainLoop

from registry import ConfigError

from . import atomic, workdir
from .workdir import STOPPED_AT_BUDGET

def _now() -> float:
    """Seconds of a monotonic clock (the budget's clock)."""
    return time.monotonic()




def check_budget(minutes, key: str = 'time_budget_min') -> float:
    """``minutes`` as a float, or a :class:`ConfigError` naming ``key``: the budget must be a
    finite number of minutes greater than zero."""
    try:
        value = float(minutes)
    except (TypeError, ValueError):
        value = float('nan')
    if isinstance(minutes, bool) or not math.isfinite(value) or value <= 0:
        raise ConfigError(f'{key}={minutes!r}: expected a number of minutes greater than 0 '
                          '(the training wall-clock budget)')
    return value


class _StoppableLoader:
    """A training data loader whose iteration ends once ``hook.spent`` is set (checked after
    each batch has been trained on); every other attribute is the wrapped loader's."""

    def __init__(self, loader, hook: 'TimeBudgetHook'):
        self._loader, self._hook = loader, hook

    def __iter__(self):
        for batch in self._loader:
            yield batch
            if self._hook.spent:
                return

    def __len__(self) -> int:
        return len(self._loader)

    def __getattr__(self, name):
        return getattr(self._loader, name)


@HOOKS.register_module()
class TimeBudgetHook(Hook):
    """Stop training cleanly when ``minutes`` of training wall-clock are spent (see the module
    docstring for what "cleanly" means and what is recorded).

    Added by :func:`zoo.runner.build.build_runner` when the config has ``time_budget_min``.
    ``priority='LOW'``: its ``after_train_iter`` runs after the divergence guard (a non-finite
    step is an error, not a budget stop) and before ``CheckpointHook`` (``VERY_LOW``), which then
    sees the shortened loop and saves the last checkpoint.

    Args:
        minutes: the budget in minutes (> 0).
        clock: a function giving seconds from a monotonic clock (default :func:`_now`).

    Raises:
        ConfigError: (at init) a budget that is not a number > 0; (before training) a training
            loop other than mmengine's ``EpochBasedTrainLoop`` / ``IterBasedTrainLoop`` (the
            zoo's alternating 4-step loop has no single schedule to cut).
    """

    priority = 'LOW'

    def __init__(self, minutes: float, clock=None):
        self.minutes = check_budget(minutes)
        self.clock = clock if clock is not None else (lambda: _now())
        self.start: Optional[float] = None
        self.spent = False
        self.stop: Optional[dict] = None

    def before_train(self, runner) -> None:
        loop = runner.train_loop
        if not isinstance(loop, (EpochBasedTrainLoop, IterBasedTrainLoop)):
            raise ConfigError(f'time_budget_min: a time budget needs an EpochBasedTrainLoop or '
                              f'IterBasedTrainLoop, but train_cfg builds {type(loop).__name__}')
        self.start, self.spent, self.stop = None, False, None
        if isinstance(loop, EpochBasedTrainLoop) and not isinstance(loop.dataloader, _StoppableLoader):
            loop.dataloader = _StoppableLoader(loop.dataloader, self)

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        if self.start is None:
            self.start = self.clock()

    def _budget_spent(self) -> bool:
        """Rank 0's verdict, the same on every rank."""
        spent = self.clock() - self.start >= self.minutes * 60.0
        from mmengine.dist import broadcast, get_world_size
        if get_world_size() > 1:
            import torch
            flag = torch.tensor([int(spent)])
            broadcast(flag, src=0)
            spent = bool(flag.item())
        return spent

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        if self.spent or self.start is None or not self._budget_spent():
            return
        loop = runner.train_loop
        if isinstance(loop, EpochBasedTrainLoop):
            at_end = loop.epoch + 1 >= loop.max_epochs and batch_idx + 1 >= len(loop.dataloader)
        else:
            at_end = runner.iter + 1 >= loop.max_iters
        if at_end:  # the schedule ends here anyway: a finished run, not a stopped one
            return
        self.spent = True
        elapsed = self.clock() - self.start
        if isinstance(loop, EpochBasedTrainLoop):
            configured = dict(max_epochs=loop.max_epochs)
            loop._max_epochs = loop.epoch + 1  # the epoch in progress is the last one
            position = dict(epoch=loop.epoch + 1, iter=runner.iter + 1)
            name = f'epoch_{loop.epoch + 1}.pth'
        else:
            configured = dict(max_iters=loop.max_iters)
            loop._max_iters = runner.iter + 1  # this iteration is the last one
            position = dict(iter=runner.iter + 1)
            name = f'iter_{runner.iter + 1}.pth'
        self.stop = dict(minutes=self.minutes, elapsed_s=round(elapsed, 3), **position,
                         configured=configured, checkpoint=os.path.join(runner.work_dir, name))
        runner.logger.info(
            f'time budget of {self.minutes:g} min spent ({elapsed / 60:.2f} min since the first '
            f'iteration): training stops after {", ".join(f"{k} {v}" for k, v in position.items())}'
            f' of {", ".join(f"{k} {v}" for k, v in configured.items())}; the learning-rate '
            'schedule was not rescaled')

    def after_train(self, runner) -> None:
        if self.stop is None:
            return
        from mmengine.dist import is_main_process
        path = self.stop['checkpoint']
        if not os.path.isfile(path):  # CheckpointHook with save_last=False, or none at all
            meta = {k: self.stop[k] for k in ('epoch', 'iter') if k in self.stop}
            runner.save_checkpoint(runner.work_dir, os.path.basename(path), meta=meta,
                                   by_epoch='epoch' in meta)
            if is_main_process():
                atomic.write_text(os.path.join(runner.work_dir, 'last_checkpoint'), path)
        if is_main_process():
            workdir.write_record(runner.work_dir, budget_stop=self.stop)


__all__ = ['STOPPED_AT_BUDGET', 'TimeBudgetHook', 'check_budget']
