"""Plugin discovery through the entry-point group ``zoo.plugins``.

Each entry point names a module; importing it registers its parts (``@BACKBONES.register_module()``
and the like). The zoo's own parts are the distribution's ``builtin = "plugins"`` entry point,
found exactly as a third-party package's would be. Discovery runs once, on the first lookup of
any catalogue. A plugin whose import fails is recorded with its distribution, version and the
error, a warning is issued, and the other plugins still load.

Entry points are read with the ``entrypoints`` package (it scans ``sys.path`` for
``*.dist-info/entry_points.txt``, so a plugin installed with ``pip install --target DIR`` is found
when ``DIR`` is on ``PYTHONPATH``).
"""
from __future__ import annotations

import importlib
import threading
import traceback
import warnings
from dataclasses import dataclass, field
from typing import Any, Optional

import entrypoints

GROUP = 'zoo.plugins'


@dataclass
class PluginRecord:
    """What discovery learnt about one entry point of the group ``zoo.plugins``."""

    name: str                       # entry-point name: the prefix of qualified part names
    module: str                     # the module whose import registers the parts
    distribution: Optional[str]     # the distribution that declares the entry point
    version: Optional[str]
    error: Optional[str] = None     # 'ExceptionType: message' when the import failed
    traceback: Optional[str] = None
    conflicts: list[str] = field(default_factory=list)  # refused duplicate names

    @property
    def ok(self) -> bool:
        return self.error is None


_lock = threading.RLock()
_records: Optional[list[PluginRecord]] = None
_loading: Optional[PluginRecord] = None


def _entry_points() -> list[Any]:
    seen, out = set(), []
    for ep in entrypoints.get_group_all(GROUP):
        key = (ep.name, ep.module_name)
        if key not in seen:  # a distribution visible twice on sys.path
            seen.add(key)
            out.append(ep)
    return out


def discover(reload: bool = False) -> list[PluginRecord]:
    """Import every plugin of the group ``zoo.plugins`` once; return what happened.

    Args:
        reload: run discovery again (new entry points are imported; modules already imported
            are not imported twice).

    Returns:
        One :class:`PluginRecord` per entry point, in discovery order. Failures are recorded
        there and warned about, never raised: one broken plugin must not stop the others.
    """
    global _records, _loading
    with _lock:
        if _records is not None and not reload:
            return _records
        _records = []  # set first: lookups made while importing plugins must not recurse
        for ep in _entry_points():
            distro = getattr(ep, 'distro', None)
            record = PluginRecord(ep.name, ep.module_name, getattr(distro, 'name', None),
                                  getattr(distro, 'version', None))
            _records.append(record)
            _loading = record
            try:
                importlib.import_module(ep.module_name)
            except Exception as exc:  # reported below and by `zoo plugins`; others go on loading
                record.error = f'{type(exc).__name__}: {exc}'
                record.traceback = traceback.format_exc()
                warnings.warn(
                    f'zoo plugin {ep.name!r} (distribution {record.distribution} '
                    f'{record.version}, module {ep.module_name}) failed to import: {record.error}',
                    stacklevel=2)
            finally:
                _loading = None
        return _records


def records() -> list[PluginRecord]:
    """The plugins found by :func:`discover` (running it if it has not run)."""
    return discover()


def plugin_names() -> set[str]:
    return {r.name for r in discover()}


def is_loading() -> bool:
    """True while a plugin module is being imported by :func:`discover`."""
    return _loading is not None


def record_conflict(message: str) -> None:
    if _loading is not None:
        _loading.conflicts.append(message)


def owner_of(obj: Any) -> str:
    """The plugin that defines ``obj``: the entry point whose module contains ``obj.__module__``.

    Parts defined outside any plugin (a script, a test) are owned by their top-level package.
    """
    module = getattr(obj, '__module__', None) or '?'
    best = None
    for record in (_records or []):
        if module == record.module or module.startswith(record.module + '.'):
            if best is None or len(record.module) > len(best.module):
                best = record
    return best.name if best is not None else module.split('.')[0]
