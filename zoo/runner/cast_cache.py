"""Validation and testing under autocast without its weight-cast cache.

``torch.autocast`` keeps the low-precision copy of every weight it casts (leaf tensors that
require grad) until the autocast region ends, to save casting it again for the backward pass.
Validation and testing have no backward pass, so the cache only holds a second, half-size copy of
the network at the end of each forward (VGG16: about 180 MiB more than float32's peak; see
docs/performance.md). mmengine's ``ValLoop``/``TestLoop`` enter ``autocast(enabled=fp16)`` with
no ``cache_enabled``, and torch then takes the process-wide setting
(``torch.is_autocast_cache_enabled()``); :class:`InferenceCastCacheHook` switches that setting off
for each validation and test epoch and restores it afterwards. :func:`zoo.runner.build.build_runner`
adds it when mixed precision is on (``--amp`` / ``amp = True``)."""
from __future__ import annotations

from typing import Optional

import torch
from mmengine.hooks import Hook
from mmengine.registry import HOOKS


@HOOKS.register_module()
class InferenceCastCacheHook(Hook):
    """Turn autocast's weight-cast cache off during validation and test epochs (see the module
    docstring); training keeps it. The previous setting is restored after each epoch."""

    priority = 'VERY_HIGH'

    def __init__(self):
        self._previous: Optional[bool] = None

    def _off(self) -> None:
        self._previous = torch.is_autocast_cache_enabled()
        torch.set_autocast_cache_enabled(False)

    def _restore(self) -> None:
        if self._previous is not None:
            torch.set_autocast_cache_enabled(self._previous)
            self._previous = None

    def before_val_epoch(self, runner) -> None:
        self._off()

    def after_val_epoch(self, runner, metrics=None) -> None:
        self._restore()

    def before_test_epoch(self, runner) -> None:
        self._off()

    def after_test_epoch(self, runner, metrics=None) -> None:
        self._restore()


__all__ = ['InferenceCastCacheHook']
