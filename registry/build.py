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

from . import discovery
from .catalogue import Catalogue
from .errors import ConfigError, UnknownPartError, ZooError
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
    """Registered names closest to ``name`` (in ``kind``, or in every catalogue), best first.

    Qualified names (``builtin.ResNet``) are offered when ``name`` is qualified itself, or for a
    part whose short name was refused (reachable only qualified); otherwise the short names.
    """
    cats = [CATALOGUES[kind]] if kind else list(CATALOGUES.values())
    qualified = isinstance(name, str) and '.' in name
    names = sorted({x for c in cats for x in c.names(qualified=qualified)})
    lowered = {x.lower(): x for x in names}
    out = [lowered[name.lower()]] if name.lower() in lowered and lowered[name.lower()] != name else []
    for hit in difflib.get_close_matches(name.lower(), list(lowered), n=n, cutoff=0.5):
        if lowered[hit] not in out:
            out.append(lowered[hit])
    return out[:n]


def _own(cat: Catalogue, obj: Any) -> bool:
    """True if ``obj`` is a part of ``cat`` itself (not of an mmengine parent registry)."""
    return obj is not None and any(p.obj is obj for p in cat.parts(include_shadowed=True))


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
    elsewhere = [c.title for c in CATALOGUES.values() if c is not cat and _own(c, c.get(name))]
    if elsewhere:
        lines.append(f'{name!r} is a {" and a ".join(elsewhere)}, not a {cat.title}')
    if not hits and not elsewhere:
        known = [p.name for p in cat.parts()]
        lines.append(f'the {cat.plural} are: {", ".join(known)}' if known else
                     f'no {cat.title} is registered at all; is a plugin missing? (see `zoo plugins`)')
    text = '; '.join(lines)
    text = text if text.endswith(('.', '?')) else text + '.'
    return text + failed_plugins_note()


def failed_plugins_note() -> str:
    """`` Plugins that failed to import (their parts are not registered): half (KeyError: ...).
    See `zoo plugins`.``, or '' when every plugin imported."""
    failed = discovery.failed()
    if not failed:
        return ''
    return (' Plugins that failed to import (their parts are not registered): ' +
            ', '.join(f'{r.name} ({r.error})' for r in failed) + '. See `zoo plugins`.')


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
        accepted = ', '.join(p.name + ('' if p.default is p.empty else f'={p.default!r}')
                             for p in sig.parameters.values()
                             if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD))
        return f'{err}; {getattr(obj, "__name__", obj)!s} accepts: {accepted or "no arguments"}'
    return None


def _note_key_path(err: BaseException, path: str, type_name: Any) -> None:
    """Add ``while building <path> (<type>)`` to an error raised by a part's constructor.

    Only the innermost build adds a note, and the zoo's own errors (which name their key path
    already) get none. The command line appends the note to the error's paragraph.
    """
    if isinstance(err, ZooError) or not hasattr(err, 'add_note'):  # add_note: Python >= 3.11
        return
    if any(str(n).startswith('while building ') for n in getattr(err, '__notes__', ())):
        return
    name = type_name if isinstance(type_name, str) else getattr(type_name, '__name__', type_name)
    err.add_note(f'while building {path} ({name})')


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
        ConfigError: the part's constructor raised ``ValueError`` (the parts' convention for an
            argument value they refuse): the message is prefixed with the key path and type.
        Any other error of the part's constructor propagates unchanged, with the note
        ``while building <key path> (<type>)`` (Python >= 3.11).
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
        try:
            part = obj(**args)
        except ZooError:
            raise
        except ValueError as err:  # a part's constructor refusing a value of its config
            name = type_name if isinstance(type_name, str) else getattr(obj, '__name__', obj)
            raise ConfigError(f'{path or kind} ({name}): {err}') from err
        except Exception as err:
            _note_key_path(err, path or kind, type_name)
            raise
        if hasattr(part, '__dict__'):  # objects with __slots__ are not stamped; messages fall back
            part._zoo_key_path = path
            part._zoo_type = type_name if isinstance(type_name, str) else obj.__name__
        return part
