"""Optional TensorBoard logging: mmengine's ``TensorboardVisBackend`` beside the local one.

Switched on by ``zoo train --tensorboard`` or in a config::

    visualizer = dict(type='Visualizer', vis_backends=[dict(type='LocalVisBackend'),
                                                       dict(type='TensorboardVisBackend')])

Every scalar the run logs (losses, learning rate, validation metrics) then also goes to
TensorBoard event files in ``WORK_DIR/<timestamp>/vis_data/`` (``tensorboard --logdir
WORK_DIR``); ``scalars.json``, which ``zoo plot`` reads, is still written by the local backend.
The ``tensorboard`` package is the optional extra ``tensorboard``
(``pip install 'detection-zoo[tensorboard]'``).
"""
from __future__ import annotations

import importlib.util

from registry import ConfigError

BACKEND = 'TensorboardVisBackend'
_NAMES = (BACKEND, 'mmengine.TensorboardVisBackend')


def wants_tensorboard(cfg) -> bool:
    """Whether the config's ``visualizer`` has a TensorBoard backend."""
    vis = cfg.get('visualizer') or {}
    return any(isinstance(b, dict) and b.get('type') in _NAMES for b in vis.get('vis_backends') or ())


def add_tensorboard(cfg) -> None:
    """Add the TensorBoard backend to ``cfg.visualizer`` (the local backend kept, or added when
    the config names no visualizer); nothing if it is there already."""
    if wants_tensorboard(cfg):
        return
    vis = dict(cfg.get('visualizer') or {})
    vis.setdefault('type', 'Visualizer')
    backends = list(vis.get('vis_backends') or [dict(type='LocalVisBackend')])
    vis['vis_backends'] = backends + [dict(type=BACKEND)]
    cfg.visualizer = vis


def check_tensorboard(cfg) -> None:
    """Refuse, before anything runs, a config asking for TensorBoard when the package is missing.

    Raises:
        ConfigError: ``visualizer.vis_backends`` names ``TensorboardVisBackend`` and the
            ``tensorboard`` package is not installed (mmengine would fail only at the first
            logged value); the message names the extra to install.
    """
    if wants_tensorboard(cfg) and importlib.util.find_spec('tensorboard') is None:
        raise ConfigError("visualizer.vis_backends asks for TensorboardVisBackend (or --tensorboard), "
                          "but the `tensorboard` package is not installed: install the zoo's "
                          "optional extra, pip install 'detection-zoo[tensorboard]' (or pip "
                          "install tensorboard)")


__all__ = ['add_tensorboard', 'check_tensorboard', 'wants_tensorboard']
