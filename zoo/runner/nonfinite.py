"""The divergence guard: training stops at the first loss, gradient norm or weight that is NaN or
infinite, before any checkpoint is written from that state.

Three checks, in the order a training step meets them:

* the loss terms, before the backward pass (:func:`check_finite`, called by the detector's
  ``parse_losses``): the weights are not touched;
* the gradient norm, before the optimizer step (an optimizer step pre-hook installed by
  :class:`NonFiniteGuardHook`): a finite loss can still have NaN gradients (``lr=1e6`` blows the
  activations up), and the step would write NaN into every weight; the weights are not touched;
* the updated weights and floating-point buffers, after the step (``after_train_iter`` of the
  same hook, which runs before mmengine's ``CheckpointHook``): a finite gradient times a huge
  learning rate can still overflow. The weights are bad, but no checkpoint holds them.

Every check raises a :class:`NonFiniteError` naming the iteration and the term (the loss key,
"gradient norm" with the first parameter whose gradient is not finite, or the first
parameter that is not finite). ``zoo train`` adds the newest checkpoint of the work dir whose
weights it verified finite (:func:`last_finite_checkpoint`) and exits with status 1.

Under mixed precision (``AmpOptimWrapper``) the gradient scaler skips the optimizer step of
an overflowing batch by design, so the pre-hook never sees those gradients: that is not a
divergence.
"""
from __future__ import annotations

import glob
import math
import os
from typing import Iterable, Optional

import torch
from mmengine.hooks import Hook
from mmengine.registry import HOOKS

from zoo.detectors.nonfinite import NonFiniteError, NonFiniteLossError, check_finite, training_position

__all__ = ['NonFiniteError', 'NonFiniteLossError', 'NonFiniteGradientError', 'NonFiniteWeightError',
           'NonFiniteGuardHook', 'check_finite', 'first_nonfinite', 'checkpoint_is_finite',
           'last_finite_checkpoint', 'recovery_note']


class NonFiniteGradientError(NonFiniteError):
    """The gradient norm became NaN or infinite; training stops before the optimizer step."""


class NonFiniteWeightError(NonFiniteError):
    """An optimizer step made a weight NaN or infinite; training stops before any checkpoint."""


def first_nonfinite(named: Iterable[tuple[str, torch.Tensor]]) -> Optional[tuple[str, float]]:
    """The name and an offending value of the first floating-point tensor holding a NaN or an
    infinity, or None when all are finite. One device sync for all tensors."""
    named = [(n, t) for n, t in named if t is not None and t.is_floating_point()]
    if not named:
        return None
    flags = torch.stack([torch.isfinite(t).all() for _, t in named])
    if bool(flags.all()):
        return None
    name, tensor = named[int((~flags).nonzero()[0, 0])]
    return name, float(tensor[~torch.isfinite(tensor)].flatten()[0])


def _state_tensors(model: torch.nn.Module):
    yield from model.named_parameters()
    yield from model.named_buffers()


@HOOKS.register_module()
class NonFiniteGuardHook(Hook):
    """Stop training at a non-finite gradient norm (before the step) or weight (after it).

    Added by the zoo's runner builder to every training run; see the module docstring.
    ``priority='VERY_HIGH'``: its ``after_train_iter`` runs before mmengine's ``CheckpointHook``
    (``VERY_LOW``), so no checkpoint is written from a non-finite state.

    Raises:
        NonFiniteGradientError: before the optimizer step, naming the iteration, the norm and
            the first parameter whose gradient is not finite.
        NonFiniteWeightError: after the step, naming the iteration and the first parameter (or
            buffer, e.g. a BatchNorm running mean) that is not finite.
    """

    priority = 'VERY_HIGH'

    def __init__(self):
        self._handles = []

    def before_train(self, runner) -> None:
        model = runner.model.module if hasattr(runner.model, 'module') else runner.model
        names = {id(p): n for n, p in model.named_parameters()}
        wrappers = runner.optim_wrapper
        wrappers = wrappers.values() if hasattr(wrappers, 'values') else [wrappers]
        for wrapper in wrappers:
            check = self._gradient_check(names)
            self._handles.append(wrapper.optimizer.register_step_pre_hook(check))

    @staticmethod
    def _gradient_check(names: dict):
        def check(optimizer, args, kwargs) -> None:
            params = [p for g in optimizer.param_groups for p in g['params'] if p.grad is not None]
            if not params:
                return
            norm = float(torch.nn.utils.get_total_norm([p.grad for p in params]))
            if math.isfinite(norm):
                return
            first = first_nonfinite((names.get(id(p), '?'), p.grad) for p in params)
            which = f'; first non-finite gradient: {first[0]} ({first[1]})' if first else ''
            raise NonFiniteGradientError(
                f'training stopped at {training_position()}: gradient norm = {norm}{which}, with finite loss '
                'terms. The optimizer step was not taken, the weights are as before it. Lower '
                'the learning rate, lengthen the warm-up, or clip the gradients '
                '(optim_wrapper.clip_grad).')
        return check

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        model = runner.model.module if hasattr(runner.model, 'module') else runner.model
        first = first_nonfinite(_state_tensors(model))
        if first is not None:
            raise NonFiniteWeightError(
                f'training stopped at {training_position(runner.iter)}: after the optimizer step the weight '
                f'{first[0]} holds {first[1]} (the loss terms and the gradient norm were finite). '
                'No checkpoint was written from these weights. Lower the learning rate or '
                'lengthen the warm-up.')

    def after_train(self, runner) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []


def checkpoint_is_finite(path: str) -> bool:
    """Whether the checkpoint at ``path`` loads and every floating-point tensor of its
    ``state_dict`` is finite."""
    from zoo.checkpoint import CheckpointError, load_checkpoint_file
    try:
        ckpt = load_checkpoint_file(path)
    except (CheckpointError, FileNotFoundError):
        return False
    state = ckpt.get('state_dict', ckpt) if isinstance(ckpt, dict) else None
    if not isinstance(state, dict):
        return False
    return first_nonfinite((k, v) for k, v in state.items() if isinstance(v, torch.Tensor)) is None


def last_finite_checkpoint(work_dir: str) -> Optional[str]:
    """The newest ``*.pth`` of ``work_dir`` (by modification time) whose weights are all finite,
    checked by loading it, or None."""
    paths = sorted(glob.glob(os.path.join(glob.escape(work_dir), '*.pth')), key=os.path.getmtime,
                   reverse=True)
    return next((p for p in paths if checkpoint_is_finite(p)), None)


def recovery_note(work_dir: str) -> str:
    """The sentence ``zoo train`` adds to a :class:`NonFiniteError`: which checkpoint to go on
    from (verified finite), or that there is none."""
    good = last_finite_checkpoint(work_dir)
    if good is None:
        return f'no checkpoint in {work_dir} holds finite weights; start again with a lower learning rate'
    return (f'the newest checkpoint with finite weights (verified) is {good}: continue with '
            f'--resume {good} after lowering the learning rate')
