"""Building parts from config dicts, with the config key path in every error.

``build('backbone', cfg, key='backbone')`` looks ``cfg['type']`` up in the backbone catalogue,
checks the remaining keys against the part's signature, and builds it. Key paths nest: a part
built while another is being built extends its path, so the RoI layer built inside the RoI
extractor inside the RoI head of the model is reported as
``model.roi_head.bbox_roi_extractor.roi_layer``.
"""
from __future__ import annotations

import contextlib
import contextvars
import difflib
import inspect
from typing import Any, Iterator, Optional

from .catalogue import Catalogue
from .errors import ConfigError, UnknownPartError
from .kinds import CATALOGUES, catalogue

_KEY_PATH: contextvars.ContextVar[tuple[str, ...]] = contextvars.ContextVar('zoo_key_path', default=())


def current_key_path() -> str:
    """The key path of the part being built right now ('' at the top)."""
    return '.'.join(_KEY_PATH.get())


@contextlib.contextmanager
def key_path(key: str) -> Iterator[str]:
    """Extend the current key path by ``key`` (dotted allowed) for the duration of the block."""
    parts = tuple(p for p in key.split('.') if p) if key else ()
    token = _KEY_PATH.set(_KEY_PATH.get() + parts)
    try:
        yield current_key_path()
    finally:
        _KEY_PATH.reset(token)


def suggest(name: str, kind: Optional[str] = None, n: int = 3) -> list[str]:
    """Registered names closest to ``name`` (in ``kind``, or in every catalogue), best first."""
    cats = [CATALOGUES[kind]] if kind else list(CATALOGUES.values())
    names = sorted({x for c in cats for x in c.names()})
    lowered = {x.lower(): x for x in names}
    out = [lowered[name.lower()]] if name.lower() in lowered and lowered[name.lower()] != name else []
    for hit in difflib.get_close_matches(name.lower(), list(lowered), n=n, cutoff=0.5):
        if lowered[hit] not in out:
            out.append(lowered[hit])
    return out[:n]


def unknown_part_message(cat: Catalogue, name: str, path: str) -> str:
    """The paragraph for an unknown ``type``: kind, key path, closest names and their plugins."""
    lines = [f'{path}.type = {name!r}: no {cat.title} of that name is registered'
             if path else f'no {cat.title} named {name!r} is registered']
    hits = suggest(name, cat.kind)
    if hits:
        owners = {p.name: p.owner for p in cat.parts()} | {p.qualified: p.owner
                                                          for p in cat.parts(True)}
        lines.append('did you mean ' + ', '.join(f'{h!r} (plugin {owners.get(h, "?")})'
                                                 for h in hits) + '?')
    elsewhere = [c.title for c in CATALOGUES.values() if c is not cat and c.get(name) is not None]
    if elsewhere:
        lines.append(f'{name!r} is a {" and a ".join(elsewhere)}, not a {cat.title}')
    if not hits and not elsewhere:
        known = [p.name for p in cat.parts()]
        lines.append(f'the {cat.title}s are: {", ".join(known)}' if known else
                     f'no {cat.title} is registered at all; is a plugin missing? (see `zoo plugins`)')
    return '; '.join(lines) + '.'


def resolve(kind: str, name: Any, path: str = '') -> Any:
    """The class (or function) that ``name`` stands for in ``kind``; a class passes through.

    Raises:
        UnknownPartError: ``name`` is not registered; names kind, key path and suggestions.
    """
    cat = catalogue(kind)
    if not isinstance(name, str):
        if callable(name):
            return name
        raise ConfigError(f'{path}.type must name a {cat.title} (a string), got {name!r}')
    obj = cat.get(name)
    if obj is None:
        raise UnknownPartError(unknown_part_message(cat, name, path))
    return obj


def _signature_problem(obj: Any, args: dict) -> Optional[str]:
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):  # a builtin without a signature: nothing to check
        return None
    try:
        sig.bind(**args)
    except TypeError as err:
        accepted = ', '.join(str(p) for p in sig.parameters.values()
                             if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD))
        return f'{err}; {obj.__name__} accepts: {accepted}'
    return None


def build(kind: str, cfg: Any, key: str = '', default_args: Optional[dict] = None) -> Any:
    """Build a part of ``kind`` from ``cfg`` at config key ``key`` (relative to the current path).

    Args:
        kind: catalogue identifier, e.g. ``'backbone'``.
        cfg: a dict (or mmengine ConfigDict) with ``type`` and the part's arguments; an already
            built object (not a dict) is returned unchanged, and None gives None.
        key: config key of this part, relative to the part being built (``'backbone'``).
        default_args: arguments used where ``cfg`` has none (e.g. ``num_classes`` from the detector).

    Returns:
        The part, stamped with ``_zoo_key_path`` and ``_zoo_type`` (used by assembly checks).

    Raises:
        ConfigError: ``cfg`` is not a dict with ``type``; an argument is unknown or missing.
        UnknownPartError: the ``type`` is not registered in ``kind``.
    """
    if cfg is None or not isinstance(cfg, dict):
        return cfg
    with key_path(key) as path:
        args = dict(cfg)
        for k, v in (default_args or {}).items():
            args.setdefault(k, v)
        if 'type' not in args:
            raise ConfigError(f'{path or kind}: a {catalogue(kind).title} config needs a `type` key; '
                              f'got keys {sorted(args)}')
        type_name = args.pop('type')
        obj = resolve(kind, type_name, path)
        problem = _signature_problem(obj, args)
        if problem:
            raise ConfigError(f'{path or kind} ({getattr(obj, "__name__", obj)}): {problem}')
        part = obj(**args)
        if hasattr(part, '__dict__'):  # objects with __slots__ are not stamped; messages fall back
            part._zoo_key_path = path
            part._zoo_type = type_name if isinstance(type_name, str) else obj.__name__
        return part
