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

By default the learning-rate schedule is **not** rescaled to the budget: a run stopped at its
budget has the learning rate its schedule gives at that iteration (a cosine schedule of 12 epochs
stopped after 3 is still at a high rate).

With ``--fit-schedule`` (config key ``time_budget_fit = True``; epoch-based loops only) the
schedule is instead fitted to the budget, as Ultralytics' ``time=`` argument does: after every
epoch the number of epochs becomes ``floor(budget / mean epoch time so far)`` (at least the
epochs done; after a resume, the epochs done before it plus what the budget fits), and every
parameter scheduler that ran to the old end of the schedule is stretched or shrunk to the new one
(see :func:`fit_schedulers`: ``end``, a cosine's ``T_max``, a step schedule's milestones,
proportionally), so that a 60-minute budget trains a longer, complete cosine schedule instead of
stopping the 12-epoch one or finishing it early. The budget remains a hard stop. ``zoo_run.json``
gets ``schedule_fit`` (configured and fitted epochs, mean epoch time); a fitted run that ends at
its fitted epoch count is ``finished``.

Resuming a stopped run (``--resume``) continues the original schedule from the next epoch
(epoch-based loops: the rest of the interrupted epoch is skipped), with a fresh budget if one is
given again.

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




def fit_schedulers(schedulers, old_end: int, new_end: int, by_epoch: bool) -> list:
    """Stretch (or shrink) the parameter schedulers that run to the end of a schedule of
    ``old_end`` epochs (``by_epoch``) or iterations to one of ``new_end``; returns the names of
    the schedulers changed.

    A scheduler is fitted when it counts in the unit given (``by_epoch``) and its ``end`` is at or
    after ``old_end`` (schedules that end earlier, such as a warm-up, are left alone). Its
    ``end`` becomes ``new_end``; a cosine's ``T_max`` (when it spanned ``begin..old_end``) becomes
    ``new_end - begin``; a step schedule's milestones after ``begin`` are scaled by
    ``new_end / old_end`` (rounded, kept after the current step). mmengine's chainable cosine then
    continues from the current value to ``eta_min`` at the new end.

    Args:
        schedulers: mmengine parameter schedulers (a list, or a dict of lists per optimizer).
        old_end, new_end: the schedule's end before and after, in epochs or iterations (> 0).
        by_epoch: whether ``old_end``/``new_end`` are epochs (else iterations).
    """
    if isinstance(schedulers, dict):
        groups = list(schedulers.values())
    else:
        groups = [schedulers or []]
    changed = []
    for group in groups:
        for sched in group:
            if bool(getattr(sched, 'by_epoch', False)) != by_epoch or sched.end < old_end:
                continue
            begin = sched.begin
            if getattr(sched, 'T_max', None) == old_end - begin and new_end > begin:
                sched.T_max = new_end - begin
            milestones = getattr(sched, 'milestones', None)
            if milestones:
                scale = new_end / old_end
                moved = type(milestones)()
                for m, count in milestones.items():
                    if m > sched.last_step:  # still ahead: moved in proportion
                        m = max(sched.last_step + 1, round(m * scale))
                    moved[m] += count
                sched.milestones = moved
            sched.end = new_end
            changed.append(type(sched).__name__)
    return changed


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
        self.wrapped_loader, self._hook = loader, hook

    def __iter__(self):
        for batch in self.wrapped_loader:
            yield batch
            if self._hook.spent:
                return

    def __len__(self) -> int:
        return len(self.wrapped_loader)

    def __getattr__(self, name):
        return getattr(self.wrapped_loader, name)


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
        fit_schedule: fit the number of epochs and the parameter schedulers to the budget after
            every epoch (see the module docstring; epoch-based loops only).
        clock: a function giving seconds from a monotonic clock (default :func:`_now`).

    Raises:
        ConfigError: (at init) a budget that is not a number > 0; (before training) a training
            loop other than mmengine's ``EpochBasedTrainLoop`` / ``IterBasedTrainLoop`` (the
            zoo's alternating 4-step loop has no single schedule to cut), or
            ``fit_schedule`` with an iteration-based loop.
    """

    priority = 'LOW'

    def __init__(self, minutes: float, fit_schedule: bool = False, clock=None):
        self.minutes = check_budget(minutes)
        self.fit_schedule = bool(fit_schedule)
        self.clock = clock if clock is not None else (lambda: _now())
        self.start: Optional[float] = None
        self.spent = False
        self.stop: Optional[dict] = None
        self.fit: Optional[dict] = None
        self.first_epoch = 0

    def before_train(self, runner) -> None:
        loop = runner.train_loop
        if not isinstance(loop, (EpochBasedTrainLoop, IterBasedTrainLoop)):
            raise ConfigError(f'time_budget_min: a time budget needs an EpochBasedTrainLoop or '
                              f'IterBasedTrainLoop, but train_cfg builds {type(loop).__name__}')
        if self.fit_schedule and not isinstance(loop, EpochBasedTrainLoop):
            raise ConfigError('time_budget_fit: fitting the schedule to the budget needs an '
                              f'EpochBasedTrainLoop, but train_cfg builds {type(loop).__name__}')
        self.start, self.spent, self.stop, self.fit = None, False, None, None
        self.first_epoch = loop.epoch if isinstance(loop, EpochBasedTrainLoop) else 0
        if self.fit_schedule and loop.epoch >= loop.max_epochs:
            # a resumed fitted run past the configured end: one more epoch, then refitted
            resumed_at = loop.epoch
            loop._max_epochs = resumed_at + 1
            loop._max_iters = loop._max_epochs * len(loop.dataloader)
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
            f' of {", ".join(f"{k} {v}" for k, v in configured.items())}'
            + ('' if self.fit_schedule else '; the learning-rate schedule was not rescaled'))

    def after_train_epoch(self, runner) -> None:
        """With ``fit_schedule``: refit the number of epochs and the schedulers to the budget
        (runs after mmengine's ``ParamSchedulerHook`` has stepped this epoch's schedulers)."""
        if not self.fit_schedule or self.spent or self.start is None:
            return
        loop = runner.train_loop
        done = loop.epoch + 1  # mmengine increments loop.epoch after this hook
        elapsed = self.clock() - self.start
        mean = elapsed / (done - self.first_epoch)  # the epochs of this process (a resume)
        from mmengine.dist import broadcast, get_world_size
        if get_world_size() > 1:  # rank 0's clock decides
            import torch
            t = torch.tensor([mean], dtype=torch.float64)
            broadcast(t, src=0)
            mean = float(t.item())
        fitted = max(done, self.first_epoch + int(self.minutes * 60.0 // mean)) if mean > 0 \
            else loop.max_epochs
        old = loop.max_epochs
        if self.fit is None:
            self.fit = dict(configured_epochs=old)
        if fitted != old:
            changed = fit_schedulers(runner.param_schedulers, old, fitted, by_epoch=True)
            per_epoch = len(loop.dataloader)
            changed += fit_schedulers(runner.param_schedulers, old * per_epoch, fitted * per_epoch,
                                      by_epoch=False)
            loop._max_epochs = fitted
            loop._max_iters = fitted * per_epoch
            runner.logger.info(
                f'time budget of {self.minutes:g} min: {mean:.1f} s per epoch so far, the schedule '
                f'is fitted from {old} to {fitted} epochs'
                + (f' ({", ".join(changed)} stretched)' if changed else ''))
        self.fit.update(fitted_epochs=fitted, mean_epoch_s=round(mean, 3), after_epoch=done)
        from mmengine.dist import is_main_process
        if is_main_process():
            workdir.write_record(runner.work_dir, schedule_fit=dict(self.fit))

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
