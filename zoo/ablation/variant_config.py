"""A variant's full config: its base file, the ablation's common overrides, its own overrides;
and the differences between two configs, key by key."""
from __future__ import annotations

import copy
from typing import Any

from mmengine.config import Config

from registry import ConfigError
from zoo.config import load_config
from zoo.data import check_num_classes

from .spec import AblationSpec, Variant

__all__ = ['variant_config', 'run_config', 'flatten', 'config_diff', 'ABSENT']

#: shown for a key that one of two configs does not have
ABSENT = '(absent)'


def _merge(cfg: Config, key: str, value: Any, replace: bool, where: str) -> None:
    value = copy.deepcopy(value)
    if replace and isinstance(value, dict):
        value = dict(value, _delete_=True)
    try:
        cfg.merge_from_dict({key: value}, allow_list_keys=True)
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as err:
        raise ConfigError(f'{where}: cannot set {key!r}: {type(err).__name__}: {err}') from err


def variant_config(spec: AblationSpec, variant: Variant) -> Config:
    """The variant's config: ``variant.base`` loaded, ``spec.common`` merged, then the
    variant's overrides (axes set their key, named variants merge).

    Raises:
        ConfigError: the base file cannot be read, or an override addresses a key through a
            value that is not a dict or a list (the message names the variant and the key);
            the variant's model ``num_classes`` or class lists disagree with its datasets'
            (:func:`zoo.data.check_num_classes`, as ``zoo train`` checks them, but before any
            variant trains).
    """
    cfg = load_config(variant.base)
    for key, value in spec.common.items():
        _merge(cfg, key, value, False, f'{spec.path}: common')
    for key, value, replace in variant.overrides:
        _merge(cfg, key, value, replace, f'{spec.path}: variant {variant.name!r}')
    try:
        check_num_classes(cfg)
    except ConfigError as err:
        raise ConfigError(f'{spec.path}: variant {variant.name!r}: {err}') from err
    return cfg


def run_config(cfg: Config, seed: int, work_dir: str) -> Config:
    """The config of one ablation run: ``cfg`` with the seed and work dir set, and without
    validation during training (each run is tested once, on its last checkpoint, after
    training: no variant gets to pick its best epoch on the test data)."""
    cfg = copy.deepcopy(cfg)
    cfg.randomness = dict(cfg.get('randomness') or {}, seed=seed)
    cfg.work_dir = work_dir
    for key in ('val_dataloader', 'val_cfg', 'val_evaluator'):
        cfg.pop(key, None)
    train_cfg = cfg.get('train_cfg') or {}
    if 'val_interval' in train_cfg:
        train_cfg.pop('val_interval')
    hooks = cfg.get('default_hooks') or {}
    ckpt = hooks.get('checkpoint')
    if isinstance(ckpt, dict):
        ckpt.pop('save_best', None)
        ckpt.pop('rule', None)
    return cfg


def flatten(node: Any, prefix: str = '') -> dict:
    """``{'a': {'b': 1}}`` -> ``{'a.b': 1}``; lists and tuples are leaves (a pipeline is one
    value); an empty dict is a leaf too."""
    if isinstance(node, dict) and node:
        out = {}
        for key, value in node.items():
            out.update(flatten(value, f'{prefix}{key}.'))
        return out
    return {prefix[:-1]: _plain(node)}


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def config_diff(base: dict, other: dict, ignore: tuple = ('work_dir',)) -> list:
    """The keys whose values differ: ``[(dotted key, base value, other value)]``, sorted by
    key; :data:`ABSENT` stands for a key that one side lacks."""
    a, b = flatten(base), flatten(other)
    rows = []
    for key in sorted(set(a) | set(b)):
        if key in ignore or any(key.startswith(i + '.') for i in ignore):
            continue
        va, vb = a.get(key, ABSENT), b.get(key, ABSENT)
        if va != vb:
            rows.append((key, va, vb))
    return rows
