"""Stopping training at the first loss term that is NaN or infinite, before the backward pass
(called by the detectors' ``parse_losses``). The runner's divergence guard, which also checks
the gradient norm and the updated weights, is :mod:`zoo.runner.nonfinite`; its errors derive from
:class:`NonFiniteError`."""
from __future__ import annotations

import math
from typing import Optional

from mmengine.logging import MessageHub

from registry import ZooError


class NonFiniteError(ZooError):
    """A loss term, the gradient norm or a weight became NaN or infinite; training stopped."""


class NonFiniteLossError(NonFiniteError):
    """A loss term became NaN or infinite; training stops before the backward pass."""


def training_position(iteration: Optional[int] = None) -> str:
    """'iteration I (epoch E)' (1-based) from the message hub, for the messages."""
    hub = MessageHub.get_current_instance()
    it = hub.get_info('iter') if iteration is None else iteration
    epoch = hub.get_info('epoch')
    where = f'iteration {it + 1}' if it is not None else 'this iteration'
    return where + (f' (epoch {epoch + 1})' if epoch is not None else '')


def check_finite(losses: dict) -> None:
    """Raise :class:`NonFiniteLossError` naming the iteration and every non-finite loss term.

    ``losses``: the model's loss dict (scalar tensors or lists of them), checked before the
    backward pass and the optimizer step, so the weights stay as they were.
    """
    bad = {}
    for name, value in losses.items():
        if 'loss' not in name:
            continue
        values = value if isinstance(value, (list, tuple)) else [value]
        total = float(sum(v.detach().float().sum() for v in values))
        if not math.isfinite(total):
            bad[name] = total
    if bad:
        terms = ', '.join(f'{k} = {v}' for k, v in bad.items())
        raise NonFiniteLossError(
            f'training stopped at {training_position()}: {terms}. The weights were not updated with it. '
            'Lower the learning rate, lengthen the warm-up, or check the data for broken boxes.')
