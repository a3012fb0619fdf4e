"""Reading an ablation file and expanding it into variants.

An ablation file is an mmengine config (Python) with these variables::

    base = '../faster_rcnn/faster_rcnn_zf_bccd.py'   # the config every variant starts from,
                                                    # relative to the ablation file
    common = {'train_cfg.max_epochs': 3}            # optional: overrides of every variant
    seeds = [0, 1]                                  # optional (default [0]); --seeds wins
    axes = dict(                                    # a grid: one axis per config key
        roi=dict(key='model.roi_head.bbox_roi_extractor.roi_layer',
                 values=dict(RoIPool=dict(type='RoIPool', output_size=6),
                             RoIAlign=dict(type='RoIAlign', output_size=6, sampling_ratio=2))),
        fc=dict(key='model.roi_head.bbox_head.fc_out_channels', values=[512, 1024]))
    variants = dict(                                # and/or named variants
        joint=dict(),
        alternating=dict(base='../faster_rcnn/faster_rcnn_zf_alternating_bccd.py'),
        focal={'model.rpn_head.loss_cls': dict(type='FocalLoss', use_sigmoid=True)})

- An axis *sets* its key to each value (a dict value replaces the dict there, as
  ``_delete_=True`` would). ``values`` is a list (labels made from the values: a dict's
  ``type``, else its text) or a dict label -> value.
- A named variant is a dict of overrides *merged* like ``--cfg-options`` and ``_base_``
  inheritance: dotted keys or nested dicts, ``_delete_=True`` to replace a dict. Its reserved
  key ``base`` names another config file to start from.
- Names starting with ``_`` are the file's own helpers (a pipeline to reuse, ...); a file may
  inherit another with ``_base_`` (its ``common`` dicts merge, as configs' dicts do).
- With both, the variants are the product (each named variant x each grid point); with
  neither, the base config alone is the one variant.

Every error is a :class:`~registry.ConfigError` naming the ablation file and the key.
"""
from __future__ import annotations

import itertools
import os
import re
from dataclasses import dataclass, field
from typing import Any, Optional

from registry import ConfigError

__all__ = ['AblationSpec', 'Variant', 'load_ablation']

_KNOWN = {'base', 'common', 'seeds', 'axes', 'variants', 'work_dir'}


@dataclass
class Variant:
    """One point of an ablation: a name, the config file it starts from and its overrides.

    ``overrides`` is applied in order: ``(key, value, replace)``; ``replace`` sets the key
    outright (axes), otherwise the value is merged (named variants).
    """
    name: str
    base: str
    overrides: list = field(default_factory=list)

    @property
    def dirname(self) -> str:
        """The name as a folder name: letters, digits, ``.``, ``_``, ``-`` and ``=`` only."""
        text = self.name.replace(', ', '__')
        return re.sub(r'[^A-Za-z0-9._=-]+', '_', text) or 'base'


@dataclass
class AblationSpec:
    """An ablation file, read: its path and name, base config, common overrides, seeds,
    and the expanded variants (in grid order: the last axis varies fastest)."""
    path: str
    name: str
    base: str
    common: dict
    seeds: list
    variants: list
    work_dir: Optional[str] = None


def _label(value: Any) -> str:
    if isinstance(value, dict):
        return str(value.get('type', value))
    if isinstance(value, (list, tuple)):
        return 'x'.join(_label(v) for v in value)
    return str(value)


def _resolve(path: str, relative_to: str, what: str) -> str:
    if not isinstance(path, str):
        raise ConfigError(f'{relative_to}: `{what}` must be a config file path, got {path!r}')
    if path.startswith('zoo::'):  # a shipped recipe, wherever the zoo is installed
        from zoo.config import shipped_config
        path = shipped_config(path)
    full = path if os.path.isabs(path) else os.path.join(os.path.dirname(relative_to), path)
    full = os.path.normpath(full)
    if not os.path.isfile(full):
        raise ConfigError(f'{relative_to}: `{what}` = {path!r}: no such config file ({full})')
    return full


def _axes(axes: Any, path: str) -> list[list[tuple[str, str, Any]]]:
    """Per axis, its points ``(axis name, label, (key, value))``."""
    if not isinstance(axes, dict):
        raise ConfigError(f'{path}: `axes` must be a dict name -> dict(key=..., values=...), '
                          f'got {type(axes).__name__}')
    out = []
    for name, axis in axes.items():
        where = f'{path}: axes.{name}'
        if not isinstance(axis, dict) or set(axis) != {'key', 'values'}:
            raise ConfigError(f'{where} must be dict(key=<dotted config key>, values=<list or '
                              f'dict label -> value>), got {axis!r}')
        key, values = axis['key'], axis['values']
        if not isinstance(key, str) or not key:
            raise ConfigError(f'{where}.key must be a dotted config key, got {key!r}')
        if isinstance(values, dict):
            points = [(str(label), value) for label, value in values.items()]
        elif isinstance(values, (list, tuple)):
            points = [(_label(v), v) for v in values]
        else:
            raise ConfigError(f'{where}.values must be a list or a dict, got {values!r}')
        if not points:
            raise ConfigError(f'{where}.values is empty')
        labels = [label for label, _ in points]
        if len(set(labels)) != len(labels):
            raise ConfigError(f'{where}.values: labels {labels} repeat; give values as a dict '
                              'label -> value')
        out.append([(name, label, (key, value)) for label, value in points])
    return out


def load_ablation(path: str, seeds: Optional[list] = None) -> AblationSpec:
    """Read the ablation file at ``path`` and expand its variants.

    Args:
        path: the ablation file.
        seeds: overrides the file's ``seeds`` (``zoo ablate --seeds``).

    Raises:
        ConfigError: the file is missing or unreadable, a base config is missing, an unknown
            top-level variable, malformed ``axes``/``variants``/``seeds``, or two variants with
            the same folder name.
    """
    from mmengine.config import Config

    import zoo.config  # noqa: F401  (teaches mmengine the zoo:: prefix of _base_ entries)

    if not os.path.isfile(path):
        raise ConfigError(f'ablation file {path!r} does not exist')
    try:
        raw = Config.fromfile(path).to_dict()
    except Exception as err:  # whatever stops the file from being read is the file's fault
        raise ConfigError(f'ablation file {path!r} cannot be read: {type(err).__name__}: {err}') \
            from err
    unknown = sorted(k for k in set(raw) - _KNOWN if not k.startswith('_'))  # _x: helpers
    if unknown:
        raise ConfigError(f'{path}: unknown variable(s) {unknown}; an ablation file holds '
                          f'{sorted(_KNOWN)}')
    if 'base' not in raw:
        raise ConfigError(f'{path}: no `base` (the config file every variant starts from)')
    base = _resolve(raw['base'], path, 'base')
    common = raw.get('common') or {}
    if not isinstance(common, dict):
        raise ConfigError(f'{path}: `common` must be a dict of overrides, got {common!r}')
    seeds = list(seeds if seeds is not None else raw.get('seeds', [0]))
    if not seeds or not all(isinstance(s, int) and not isinstance(s, bool) for s in seeds):
        raise ConfigError(f'{path}: seeds must be a non-empty list of ints, got {seeds!r}')

    named = raw.get('variants')
    if named is None:
        named_points = [(None, base, {})]
    else:
        if not isinstance(named, dict) or not named:
            raise ConfigError(f'{path}: `variants` must be a non-empty dict name -> overrides')
        named_points = []
        for name, overrides in named.items():
            if not isinstance(overrides, dict):
                raise ConfigError(f'{path}: variants.{name} must be a dict of overrides, got '
                                  f'{overrides!r}')
            overrides = dict(overrides)
            vbase = _resolve(overrides.pop('base'), path, f'variants.{name}.base') \
                if 'base' in overrides else base
            named_points.append((str(name), vbase, overrides))
    grid = list(itertools.product(*_axes(raw['axes'], path))) if 'axes' in raw else [()]

    variants = []
    for (vname, vbase, overrides), point in itertools.product(named_points, grid):
        parts = ([vname] if vname else []) + [f'{axis}={label}' for axis, label, _ in point]
        ops = [(k, v, False) for k, v in overrides.items()]
        ops += [(key, value, True) for _, _, (key, value) in point]
        variants.append(Variant(name=', '.join(parts) or 'base', base=vbase, overrides=ops))
    dirs = [v.dirname for v in variants]
    clash = sorted({d for d in dirs if dirs.count(d) > 1})
    if clash:
        raise ConfigError(f'{path}: variants share the folder name(s) {clash}; rename them')
    name = os.path.splitext(os.path.basename(path))[0]
    return AblationSpec(path=os.path.abspath(path), name=name, base=base, common=common,
                        seeds=seeds, variants=variants, work_dir=raw.get('work_dir'))
