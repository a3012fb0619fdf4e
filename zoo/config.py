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
            kept), or an option addresses a key through a value that is not a dict.
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
        try:
            cfg.merge_from_dict(cfg_options)
        except (KeyError, TypeError, ValueError, IndexError) as err:
            raise ConfigError(f'--cfg-options {cfg_options}: {err}') from err
    if cfg.get('default_scope') is None:
        cfg.default_scope = 'zoo'
    return cfg
