"""Loading config files: mmengine ``Config`` with ``_base_`` inheritance and ``--cfg-options``.

Every failure is a :class:`~registry.errors.ConfigError` that names the file or the key.
"""
from __future__ import annotations

import os
from typing import Optional

from mmengine.config import Config

from registry import ConfigError


def load_config(path: str, cfg_options: Optional[dict] = None) -> Config:
    """Read the config at ``path``, merge ``cfg_options`` (``{'a.b': value}``), return it.

    The merged config gets ``default_scope = 'zoo'`` unless it sets one, so that mmengine's
    ``Runner`` finds the zoo's catalogues.

    Raises:
        ConfigError: the file does not exist, cannot be parsed (the parser's message and line are
            kept), an option addresses a key through a value that is not a dict, or an option
            gives a key that holds a number or a boolean a value of another type
            (``train_cfg.max_epochs=abc``; see :func:`check_option_types`).
    """
    if not os.path.isfile(path):
        raise ConfigError(f'config file {path!r} does not exist')
    try:
        cfg = Config.fromfile(path)
    except Exception as err:  # whatever stops the file from being read is the file's fault
        raise ConfigError(f'config file {path!r} cannot be read: {type(err).__name__}: {err}') from err
    if cfg_options:
        tree = cfg.to_dict()
        for key in cfg_options:
            node, parts = tree, key.split('.')
            for i, part in enumerate(parts[:-1]):
                if isinstance(node, dict):
                    node = node.get(part)
                elif isinstance(node, (list, tuple)) and part.isdigit() and int(part) < len(node):
                    node = node[int(part)]
                else:
                    node = None
                if node is None:  # a new key: mmengine creates the dicts on the way
                    break
                if not isinstance(node, (dict, list, tuple)):
                    raise ConfigError(f'--cfg-options {key}=...: {".".join(parts[:i + 1])} holds '
                                      f'{node!r}, not a dict, so it has no key {parts[i + 1]!r}')
        check_option_types(tree, cfg_options)
        try:
            cfg.merge_from_dict(cfg_options)
        except (KeyError, TypeError, ValueError, IndexError) as err:
            raise ConfigError(f'--cfg-options {cfg_options}: {err}') from err
    if cfg.get('default_scope') is None:
        cfg.default_scope = 'zoo'
    return cfg


def _lookup(tree, key: str):
    """The value at a dotted key path of a config dict, or ``_MISSING``."""
    node = tree
    for part in key.split('.'):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, (list, tuple)) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return _MISSING
    return node


_MISSING = object()


def check_option_types(tree: dict, cfg_options: dict) -> None:
    """Refuse an option that gives a number or a boolean key a value of another type.

    mmengine's ``--cfg-options`` parser turns ``2`` into an int, ``0.5`` into a float,
    ``True`` into a bool and anything else into a string, so ``train_cfg.max_epochs=abc`` would
    reach the training loop as the string ``'abc'``. An int key takes an int (a float key an int
    or a float; a bool key a bool); keys holding None, strings, lists or dicts are not checked
    (their types vary by design).

    Raises:
        ConfigError: naming the key, the value given and the type expected.
    """
    for key, value in cfg_options.items():
        old = _lookup(tree, key)
        if old is _MISSING or old is None:
            continue
        if isinstance(old, bool):
            ok, expected = isinstance(value, bool), 'True or False'
        elif isinstance(old, int):
            ok, expected = isinstance(value, int) and not isinstance(value, bool), 'an integer'
        elif isinstance(old, float):
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
            expected = 'a number'
        else:
            continue
        if not ok:
            raise ConfigError(f'--cfg-options {key}={value!r}: expected {expected} (the config '
                              f'holds {old!r}), got a {type(value).__name__}')
