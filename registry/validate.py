"""Check every ``type`` in a whole config before anything is built.

The kind a ``type`` must belong to follows from its key, as in mmdet's configs: ``backbone``,
``neck``, ``*_head``, ``bbox_roi_extractor``/``roi_layer``, ``anchor_generator``, ``loss_*``,
``bbox_coder``, ``assigner``, ``sampler``, ``model``, ``dataset``, ``pipeline`` items,
``*_evaluator``, ``data_preprocessor`` and its ``batch_augments`` items, and the top-level
``train_cfg``/``val_cfg``/``test_cfg`` (loops). A ``type`` under any other key (optimizer,
hooks, schedulers, ...) must be registered somewhere: in a zoo catalogue or in one of mmengine's
root registries. The arguments of a zoo part are checked against its constructor's signature.
Every problem is reported at once.
"""
from __future__ import annotations

import difflib
import inspect
from typing import Any, Iterator, Optional

from mmengine import registry as mm

from .build import _own, failed_plugins_note, resolve, suggest
from .errors import ConfigError, UnknownPartError
from .kinds import CATALOGUES

_KEY_KINDS = {
    'backbone': 'backbone', 'neck': 'neck', 'anchor_generator': 'anchor_generator',
    'prior_generator': 'anchor_generator', 'bbox_roi_extractor': 'roi_extractor',
    'roi_extractor': 'roi_extractor', 'roi_layer': 'roi_extractor', 'bbox_coder': 'coder',
    'assigner': 'assigner', 'sampler': 'sampler', 'model': 'detector', 'dataset': 'dataset',
    'pipeline': 'transform', 'data_preprocessor': 'transform', 'batch_augments': 'transform',
    'val_evaluator': 'metric', 'test_evaluator': 'metric', 'evaluator': 'metric', 'metric': 'metric',
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


def _walk(node: Any, path: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], Any, dict]]:
    if isinstance(node, dict):
        if 'type' in node:
            yield path, node['type'], node
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


def unexpected_arguments(obj: Any, args: Any) -> Optional[str]:
    """What is wrong with the argument names ``args`` for the part ``obj``, or None.

    Only names the constructor cannot take are problems: missing arguments may still come from
    the part that builds this one (a detector passes ``num_classes``, ``train_cfg``, a neck's
    ``in_channels``). A constructor with ``**kwargs``, one without a signature, and a class
    without a constructor of its own are not checked.
    """
    init = getattr(obj, '__init__', None) if isinstance(obj, type) else obj
    if isinstance(obj, type) and init is object.__init__:
        return None
    try:
        params = inspect.signature(obj).parameters
    except (TypeError, ValueError):
        return None
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return None
    named = [n for n, p in params.items() if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    unknown = [k for k in args if k not in named and k not in ('type', '_scope_')]
    if not unknown:
        return None
    hints = []
    for key in unknown:
        close = difflib.get_close_matches(key, named, n=1, cutoff=0.6)
        hints.append(f'{key!r}' + (f' (did you mean {close[0]!r}?)' if close else ''))
    name = getattr(obj, '__name__', obj)
    accepted = ', '.join(n + ('' if params[n].default is params[n].empty
                              else f'={params[n].default!r}') for n in named)
    return (f'unexpected argument{"s" if len(unknown) > 1 else ""} {", ".join(hints)}; '
            f'{name} accepts: {accepted or "no arguments"}')


def validate_types(cfg: dict) -> int:
    """Resolve every ``type`` of ``cfg`` and check its arguments' names; return how many
    ``type`` entries were checked.

    Every problem of the whole config is found in one run: each ``type`` that is not registered
    where its key says, and each argument that the constructor of a zoo part (a part of one of
    the zoo's catalogues) does not take.

    Raises:
        UnknownPartError: one or more unknown ``type`` (and nothing else); each named with the
            kind, the key path, and the closest registered names with their plugins.
        ConfigError: unexpected arguments (with or without unknown types): every problem, one a
            line, each with its key path.
    """
    _mmengine_roots()  # fills mmengine's registries, the parents of some catalogues (loops)
    count = 0
    unknown, other = [], []
    for path, name, node in _walk(cfg, ()):
        if path and path[-1] == 'nms':
            # the NMS of a head's test settings (``nms=dict(type='nms' | 'diou_nms', ...)``, mmdet's
            # spelling) names no part: the head checks it when it runs (zoo.api.batched_nms_by_cfg)
            continue
        count += 1
        dotted = '.'.join(path)
        kind = kind_of_key(path)
        if kind is not None:
            try:
                obj = resolve(kind, name, dotted)
            except UnknownPartError as err:
                unknown.append(str(err))
                continue
            except ConfigError as err:
                other.append(str(err))
                continue
            if _own(CATALOGUES[kind], obj):
                problem = unexpected_arguments(obj, node)
                if problem:
                    other.append(f'{dotted or kind} ({name if isinstance(name, str) else obj.__name__}): '
                                 f'{problem}')
        elif isinstance(name, str) and not _mmengine_has(name):
            hits = _suggest_anywhere(name)
            unknown.append(
                f'{dotted}.type = {name!r} is registered nowhere (no zoo catalogue, no mmengine '
                f'registry)' + (f'; did you mean {", ".join(map(repr, hits))}?' if hits else '.'))
    problems = unknown + other
    if not problems:
        return count
    note = failed_plugins_note()
    problems = [p[:-len(note)] if note and p.endswith(note) else p for p in problems]
    if len(problems) == 1:
        text = problems[0] + note
    else:
        text = (f'{len(problems)} problems in the config:\n' +
                ''.join(f'  - {p}\n' for p in problems) + note.strip()).rstrip('\n')
    raise (UnknownPartError if not other else ConfigError)(text)
