"""Stopping training at the first loss that is NaN or infinite, before it reaches the weights."""
from __future__ import annotations

import math

from mmengine.logging import MessageHub

from registry import ZooError


class NonFiniteLossError(ZooError):
    """A loss term became NaN or infinite; training stops before the optimizer step."""


def check_finite(losses: dict) -> None:
    """Raise :class:`NonFiniteLossError` naming the iteration and every non-finite loss term.

    ``losses``: the model's loss dict (scalar tensors or lists of them), checked before the
    optimizer step, so the weights, and the last checkpoint, stay good.
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
        hub = MessageHub.get_current_instance()
        it = hub.get_info('iter')
        epoch = hub.get_info('epoch')
        where = f'iteration {it + 1}' if it is not None else 'this iteration'
        where += f' (epoch {epoch + 1})' if epoch is not None else ''
        terms = ', '.join(f'{k} = {v}' for k, v in bad.items())
        raise NonFiniteLossError(
            f'training stopped at {where}: {terms}. The weights were not updated with it; the last '
            'checkpoint in the work dir is good (resume with --resume). Lower the learning rate, '
            'lengthen the warm-up, or check the data for broken boxes.')
