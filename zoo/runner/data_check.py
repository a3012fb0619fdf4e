"""Checking the dataset arguments of a config before mmengine's ``Runner`` builds the loaders.

mmengine builds the datasets lazily, deep inside ``Runner.train``/``Runner.test``; an unknown or
missing argument then surfaced as a bare ``TypeError`` (exit status 1) without the config key.
"""
from __future__ import annotations

import inspect

import registry
from registry import ConfigError

LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


def check_dataset_args(cfg) -> None:
    """Check each data loader's ``dataset`` against its class's signature.

    Raises:
        ConfigError: the dataset ``type`` is unknown, or an argument is unknown or missing;
            the message names the key path (``train_dataloader.dataset``), the argument and
            the arguments the class accepts.
    """
    for loader in LOADERS:
        dataset = (cfg.get(loader) or {}).get('dataset')
        if not isinstance(dataset, dict) or 'type' not in dataset:
            continue
        path = f'{loader}.dataset'
        cls = registry.resolve('dataset', dataset['type'], path)
        try:
            sig = inspect.signature(cls)
        except (TypeError, ValueError):  # no signature to check against
            continue
        args = {k: v for k, v in dataset.items() if k != 'type'}
        try:
            sig.bind(**args)
        except TypeError as err:
            accepted = ', '.join(p.name for p in sig.parameters.values()
                                 if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD))
            raise ConfigError(f'{path} ({getattr(cls, "__name__", cls)}): {err}; it accepts: '
                              f'{accepted}') from None
