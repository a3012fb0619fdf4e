"""Switching the training pipeline for the last epochs: the mosaic turned off at the end.

Mosaic and strong affine crops train on images unlike the test images (four scenes in one,
objects cut at the borders, scales far from the test scale). YOLOX (Ge et al. 2021, section 2.2,
"Strong data augmentation") turns them off for the last 15 of its 300 epochs, Ultralytics for
the last 10 (``close_mosaic=10``); mmdet does it with ``PipelineSwitchHook`` (YOLOv5/v8/RTMDet
recipes) and ``YOLOXModeSwitchHook``. :class:`PipelineSwitchHook` is that hook, configured in
``custom_hooks``::

    custom_hooks = [dict(type='PipelineSwitchHook', num_last_epochs=10,
                         switch_pipeline=[dict(type='LoadImageFromFile'), ...])]

``num_last_epochs`` counts back from the end of the schedule as it stands at the start of each
epoch, so it follows ``zoo train --time-budget M --fit-schedule``, which changes the number of
epochs after every epoch (:mod:`zoo.runner.time_budget`); ``switch_epoch`` (mmdet's argument)
names a fixed epoch instead. The switch happens once and is not undone if a later refit moves
the end away; on resume it happens again at the first epoch past the switch point.
"""
from __future__ import annotations

from typing import Optional, Sequence

from mmengine.hooks import Hook
from mmengine.registry import HOOKS
from torch.utils.data import DataLoader

from registry.errors import ConfigError
from zoo.transforms.compose import Compose

_KEY = 'custom_hooks.PipelineSwitchHook'


def _torch_loader(loader):
    """The ``torch.utils.data.DataLoader`` inside ``loader`` (the training loop's loader may be
    wrapped, e.g. by :class:`~zoo.runner.time_budget.TimeBudgetHook`), or None."""
    seen = 0
    while not isinstance(loader, DataLoader) and seen < 8:
        loader = getattr(loader, 'wrapped_loader', None)
        if loader is None:
            return None
        seen += 1
    return loader if isinstance(loader, DataLoader) else None


@HOOKS.register_module()
class PipelineSwitchHook(Hook):
    """Replace the training dataset's pipeline by ``switch_pipeline`` for the last epochs.

    Args:
        switch_pipeline: transform configs (dicts with ``type``), the pipeline of the last
            epochs, e.g. the plain resize-and-flip one of a mosaic recipe.
        num_last_epochs: switch before the epoch ``max_epochs - num_last_epochs`` (0-based),
            ``max_epochs`` read at the start of every epoch (Ultralytics' ``close_mosaic``).
        switch_epoch: switch before epoch ``switch_epoch`` (0-based: 0 = from the first epoch;
            mmdet's ``PipelineSwitchHook(switch_epoch=...)``).

    Exactly one of ``num_last_epochs`` and ``switch_epoch`` is given. The pipeline is built
    when the hook is (errors name ``custom_hooks.PipelineSwitchHook.switch_pipeline.<i>``).
    Data-loader worker processes hold their own copy of the dataset, so a loader with
    ``persistent_workers=True`` gets new workers at the switch (its iterator is dropped and
    rebuilt by the next epoch, mmdet's way).

    Raises:
        ConfigError: (at init) neither or both of ``num_last_epochs`` and ``switch_epoch``, one
            that is not an integer >= 0, or a ``switch_pipeline`` that is not a list of
            transform configs; (at the switch) a training dataset without a ``pipeline``
            attribute (e.g. a ``ConcatDataset``), whose pipeline cannot be replaced.
    """

    priority = 'NORMAL'

    def __init__(self, switch_pipeline: Sequence[dict], num_last_epochs: Optional[int] = None,
                 switch_epoch: Optional[int] = None):
        if (num_last_epochs is None) == (switch_epoch is None):
            raise ConfigError(f'{_KEY}: give exactly one of num_last_epochs (switch for the '
                              f'last N epochs) and switch_epoch (switch before that epoch), got '
                              f'num_last_epochs={num_last_epochs!r}, switch_epoch={switch_epoch!r}')
        for name, value in (('num_last_epochs', num_last_epochs), ('switch_epoch', switch_epoch)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                      or value < 0):
                raise ConfigError(f'{_KEY}.{name} must be an integer >= 0, got {value!r}')
        if not isinstance(switch_pipeline, (list, tuple)) or not switch_pipeline:
            raise ConfigError(f'{_KEY}.switch_pipeline must be a non-empty list of transform '
                              f'configs, got {switch_pipeline!r}')
        self.switch_pipeline = Compose(switch_pipeline, key=f'{_KEY}.switch_pipeline')
        self.num_last_epochs, self.switch_epoch = num_last_epochs, switch_epoch
        self.switched_at: Optional[int] = None

    def _switch_point(self, runner) -> int:
        if self.switch_epoch is not None:
            return self.switch_epoch
        return runner.train_loop.max_epochs - self.num_last_epochs

    def before_train_epoch(self, runner) -> None:
        if self.switched_at is not None or runner.epoch < self._switch_point(runner):
            return
        loader = runner.train_loop.dataloader
        dataset = loader.dataset
        if not hasattr(dataset, 'pipeline'):
            raise ConfigError(f'{_KEY}: the training dataset ({type(dataset).__name__}) has no '
                              f'`pipeline` attribute to replace')
        dataset.pipeline = self.switch_pipeline
        torch_loader = _torch_loader(loader)
        if torch_loader is not None and getattr(torch_loader, 'persistent_workers', False):
            torch_loader._iterator = None  # the next epoch starts workers with the new pipeline
        self.switched_at = runner.epoch
        runner.logger.info(f'PipelineSwitchHook: epoch {runner.epoch + 1} of '
                           f'{runner.train_loop.max_epochs} onwards trains with switch_pipeline')


__all__ = ['PipelineSwitchHook']
