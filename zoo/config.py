"""Loading config files: mmengine ``Config`` with ``_base_`` inheritance and ``--cfg-options``.

The recipes shipped with the zoo (the repository's ``configs/`` folder) are installed with the
package, as ``zoo/configs``, and are reached from anywhere with the prefix ``zoo::``, as mmdet's
are with ``mmdet::``::

    _base_ = 'zoo::faster_rcnn/faster_rcnn_zf_bccd.py'

``zoo::`` also works for the config given to a command (``zoo config zoo::yolo/yolov3_bccd.py``).
mmengine's own ``package::path`` scheme is not used for it: it needs a package laid out for
OpenMMLab's ``mim`` (``.mim/configs``, a metafile) and marks every ``type`` of such a base with
``_scope_``, which the zoo's parts would receive as an argument. Loading this module teaches
mmengine's ``Config`` the ``zoo::`` prefix and nothing else.

Every failure is a :class:`~registry.errors.ConfigError` that names the file or the key.
"""
from __future__ import annotations

import os
from typing import Optional

from mmengine.config import Config

from registry import ConfigError

PREFIX = 'zoo::'


def shipped_configs_dir() -> str:
    """The folder of the shipped recipes: ``zoo/configs`` of the installed package (package
    data of a wheel; in a source checkout and an editable install, a link to the checkout's
    ``configs/``, resolved so that paths relative to a recipe, such as ``data_root``, point into
    the checkout), else ``configs/`` beside the package (a checkout without the link)."""
    package = os.path.dirname(os.path.abspath(__file__))
    for candidate in (os.path.join(package, 'configs'),
                      os.path.join(os.path.dirname(package), 'configs')):
        if os.path.isdir(candidate):
            return os.path.realpath(candidate)
    raise ConfigError(f'the shipped configs are not installed: neither {package}/configs nor '
                      f'{os.path.dirname(package)}/configs exists; reinstall the zoo')


def shipped_config(path: str) -> str:
    """The file of the shipped recipe ``zoo::<path>`` (or ``<path>``, relative to ``configs/``).

    Raises:
        ConfigError: no such recipe; the message names the folder searched.
    """
    rel = path[len(PREFIX):] if path.startswith(PREFIX) else path
    root = shipped_configs_dir()
    full = os.path.normpath(os.path.join(root, rel))
    if not os.path.isfile(full):
        raise ConfigError(f'{PREFIX}{rel}: no such shipped config (looked for {full}; the shipped '
                          f'recipes are the .py files under {root})')
    return full


def _zoo_cfg_path(cfg_path: str, filename: str, _mmengine=Config._get_cfg_path):
    """mmengine's ``Config._get_cfg_path`` (the file of a ``_base_`` entry), plus ``zoo::``."""
    if isinstance(cfg_path, str) and cfg_path.startswith(PREFIX):
        return shipped_config(cfg_path), None
    return _mmengine(cfg_path, filename)


if not getattr(Config._get_cfg_path, '_zoo', False):
    _zoo_cfg_path._zoo = True
    Config._get_cfg_path = staticmethod(_zoo_cfg_path)


def load_config(path: str, cfg_options: Optional[dict] = None) -> Config:
    """Read the config at ``path``, merge ``cfg_options`` (``{'a.b': value}``), return it.

    The merged config gets ``default_scope = 'zoo'`` unless it sets one, so that mmengine's
    ``Runner`` finds the zoo's catalogues.

    Args:
        path: a config file, or ``zoo::<path>`` for a shipped recipe (see the module docstring).

    Raises:
        ConfigError: the file does not exist, cannot be parsed (the parser's message and line are
            kept), an option addresses a key through a value that is not a dict, or an option
            gives a key that holds a number or a boolean a value of another type
            (``train_cfg.max_epochs=abc``; see :func:`check_option_types`).
    """
    if path.startswith(PREFIX):
        path = shipped_config(path)
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


def test_pipeline_of(cfg) -> tuple[list, str]:
    """The config's test pipeline (``test_dataloader``'s, else ``val_dataloader``'s) without the
    steps that load annotations, and the key path it came from (for errors), e.g.
    ``'test_dataloader.dataset.pipeline'``. What ``zoo infer``, ``zoo.Detector`` and ``zoo export``
    prepare an image with.

    Raises:
        ConfigError: the config has neither loader.
    """
    for key in ('test_dataloader', 'val_dataloader'):
        loader = cfg.get(key)
        if loader is not None:
            steps = [t for t in loader['dataset']['pipeline']
                     if 'Annotation' not in t.get('type', '')]
            return steps, f'{key}.dataset.pipeline'
    raise ConfigError('the config has no test_dataloader (or val_dataloader) whose pipeline '
                      'says how images are prepared')
