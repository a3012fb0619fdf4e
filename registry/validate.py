"""Check every ``type`` in a whole config before anything is built.

The kind a ``type`` must belong to follows from its key, as in mmdet's configs: ``backbone``,
``neck``, ``*_head``, ``bbox_roi_extractor``/``roi_layer``, ``anchor_generator``, ``loss_*``,
``bbox_coder``, ``assigner``, ``sampler``, ``model``, ``dataset``, ``pipeline`` items,
``*_evaluator``, ``data_preprocessor``, and the top-level ``train_cfg``/``val_cfg``/``test_cfg``
(loops). A ``type`` under any other key (optimizer, hooks, schedulers, ...) must be registered
somewhere: in a zoo catalogue or in one of mmengine's root registries.
"""
from __future__ import annotations

import difflib
from typing import Any, Iterator, Optional

from mmengine import registry as mm

from .build import resolve, suggest
from .errors import UnknownPartError
from .kinds import CATALOGUES

_KEY_KINDS = {
    'backbone': 'backbone', 'neck': 'neck', 'anchor_generator': 'anchor_generator',
    'prior_generator': 'anchor_generator', 'bbox_roi_extractor': 'roi_extractor',
    'roi_extractor': 'roi_extractor', 'roi_layer': 'roi_extractor', 'bbox_coder': 'coder',
    'assigner': 'assigner', 'sampler': 'sampler', 'model': 'detector', 'dataset': 'dataset',
    'pipeline': 'transform', 'data_preprocessor': 'transform', 'val_evaluator': 'metric',
    'test_evaluator': 'metric', 'evaluator': 'metric', 'metric': 'metric',
}


def kind_of_key(path: tuple[str, ...]) -> Optional[str]:
    """The kind a ``type`` at key path ``path`` must belong to, or None when any registry will do."""
    key = path[-1] if path else ''
    if key.isdigit() and len(path) > 1:  # an item of a list, e.g. pipeline.0
        path = path[:-1]
        key = path[-1]
    parent = path[-2] if len(path) > 1 else ''
    if parent.endswith('dataloader') and key in ('sampler', 'batch_sampler', 'collate_fn'):
        return None  # mmengine's data samplers and collate functions, not RoI samplers
    if key in _KEY_KINDS:
        return _KEY_KINDS[key]
    if key.endswith('_head') or key == 'head':
        return 'head'
    if key.startswith('loss_') or key == 'loss':
        return 'loss'
    if len(path) == 1 and key in ('train_cfg', 'val_cfg', 'test_cfg'):
        return 'loop'
    return None


def _walk(node: Any, path: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], Any]]:
    if isinstance(node, dict):
        if 'type' in node:
            yield path, node['type']
        for k, v in node.items():
            if k != 'type':
                yield from _walk(v, path + (str(k),))
    elif isinstance(node, (list, tuple)):
        for i, v in enumerate(node):
            yield from _walk(v, path + (str(i),))


def _mmengine_roots() -> list:
    """mmengine's root registries, filled: they are filled as mmengine's modules are imported,
    so import those that register (optimizers, schedulers, hooks, loops, samplers, ...)."""
    import mmengine.runner  # noqa: F401  (imports mmengine's hooks, optim, dataset, evaluator)
    return [reg for reg in vars(mm).values() if isinstance(reg, mm.Registry) and reg.parent is None]


def _mmengine_has(name: str) -> bool:
    if any(reg.get(name) is not None for reg in _mmengine_roots()):
        return True
    return any(c.get(name) is not None for c in CATALOGUES.values())


def _suggest_anywhere(name: str, n: int = 3) -> list[str]:
    """Closest names in the zoo's catalogues and in mmengine's root registries."""
    names = set(suggest(name, n=n))
    for reg in _mmengine_roots():
        names.update(reg._module_dict)
    return difflib.get_close_matches(name, sorted(names), n=n, cutoff=0.5) or suggest(name, n=n)


def validate_types(cfg: dict) -> int:
    """Resolve every ``type`` of ``cfg``; return how many were checked.

    Raises:
        UnknownPartError: for the first ``type`` that is not registered where its key says,
            naming the kind, the key path, and the closest registered names with their plugins.
    """
    _mmengine_roots()  # fills mmengine's registries, the parents of some catalogues (loops)
    count = 0
    for path, name in _walk(cfg, ()):
        count += 1
        dotted = '.'.join(path)
        kind = kind_of_key(path)
        if kind is not None:
            resolve(kind, name, dotted)
        elif isinstance(name, str) and not _mmengine_has(name):
            hits = _suggest_anywhere(name)
            raise UnknownPartError(
                f'{dotted}.type = {name!r} is registered nowhere (no zoo catalogue, no mmengine '
                f'registry)' + (f'; did you mean {", ".join(map(repr, hits))}?' if hits else '.'))
    return count
