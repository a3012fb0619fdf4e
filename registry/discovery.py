"""Plugin discovery through the entry-point group ``zoo.plugins``.

Each entry point names a module; importing it registers its parts (``@BACKBONES.register_module()``
and the like). The zoo's own parts are the distribution's ``builtin = "plugins"`` entry point,
found exactly as a third-party package's would be. Discovery runs once, on the first lookup of
any catalogue. A plugin whose import fails is recorded with its distribution, version and the
error, a warning is issued, and the other plugins still load.

A plugin fails alone, and wholly:

* what it registered before the error is rolled back: its parts are kept only if its whole
  import succeeds, so a half-imported plugin leaves no part that could be built;
* ``SystemExit`` (``sys.exit``, an argparse usage error) and ``KeyboardInterrupt`` raised by its
  import are caught and recorded like any other error;
* it is imported with ``sys.argv`` reduced to its module name, so that a plugin that parses the
  command line at import sees no arguments rather than the zoo's own; what it writes to
  ``sys.stderr`` while being imported is held back, and its last line quoted in the error if
  the import fails (argparse writes its usage error there; ``zoo plugins --debug`` shows all of
  it with the traceback), written out otherwise.

Plugins load in a fixed order: the zoo's own distribution first, then the others sorted by
distribution name and entry-point name. When two plugins register the same short name, the first
keeps it and the second's part is reachable by its qualified name ``<plugin>.<Name>`` only.

Entry points are read with the ``entrypoints`` package (it scans ``sys.path`` for
``*.dist-info/entry_points.txt``, so a plugin installed with ``pip install --target DIR`` is found
when ``DIR`` is on ``PYTHONPATH``).
"""
from __future__ import annotations

import contextlib
import importlib
import importlib.metadata
import io
import re
import sys
import threading
import traceback
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import entrypoints

GROUP = 'zoo.plugins'
OWN_DISTRIBUTION = 'detection-zoo'  # normalized name of the zoo's own distribution


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
_registered_by: dict[Any, str] = {}  # part -> the plugin being imported when it was registered
_undo: list[tuple[Callable, tuple]] = []  # how to roll back what the plugin being imported did


def _normalized(name: Optional[str]) -> str:
    return re.sub(r'[-_.]+', '-', name or '').lower()


def _entry_points() -> list[Any]:
    """The entry points of the group in loading order: the zoo's own distribution first (in the
    order its pyproject declares them), then the others sorted by distribution and entry-point
    name, so that which plugin keeps a contested short name never depends on the order of
    ``sys.path`` or of a directory listing."""
    seen, out = set(), []
    for ep in entrypoints.get_group_all(GROUP):
        key = (ep.name, ep.module_name)
        if key not in seen:  # a distribution visible twice on sys.path
            seen.add(key)
            out.append(ep)

    def order(ep: Any) -> tuple:
        dist = _normalized(getattr(getattr(ep, 'distro', None), 'name', None))
        return (0, '', '') if dist == OWN_DISTRIBUTION else (1, dist, ep.name)
    return sorted(out, key=order)  # stable: the own entry points keep their declared order


def _version(distro: Any) -> Optional[str]:
    version = getattr(distro, 'version', None)
    name = getattr(distro, 'name', None)
    if version is None and name:  # entrypoints leaves it None for some dist-info layouts
        try:
            version = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            version = None
    return version


def discover(reload: bool = False) -> list[PluginRecord]:
    """Import every plugin of the group ``zoo.plugins`` once; return what happened.

    Args:
        reload: run discovery again (new entry points are imported; modules already imported
            are not imported twice).

    Returns:
        One :class:`PluginRecord` per entry point, in loading order. Failures are recorded
        there and warned about, never raised: one broken plugin must not stop the others, and
        what a failed plugin registered is rolled back. An entry point whose name is already
        used by another distribution is not loaded and is recorded as failed (its qualified
        names would be ambiguous).
    """
    global _records, _loading
    with _lock:
        if _records is not None and not reload:
            return _records
        _records = []  # set first: lookups made while importing plugins must not recurse
        taken: dict[str, PluginRecord] = {}
        for ep in _entry_points():
            distro = getattr(ep, 'distro', None)
            record = PluginRecord(ep.name, ep.module_name, getattr(distro, 'name', None),
                                  _version(distro))
            _records.append(record)
            first = taken.setdefault(ep.name, record)
            if first is not record:
                record.error = (f'the plugin name {ep.name!r} is taken by distribution '
                                f'{first.distribution} {first.version} (module {first.module}); '
                                f'this one (module {ep.module_name}) is not loaded')
                warnings.warn(f'zoo plugin {ep.name!r} of distribution {record.distribution}: '
                              f'{record.error}', stacklevel=2)
                continue
            _loading = record
            _undo.clear()
            try:
                _import_alone(ep.module_name, record)
            finally:
                _loading = None
            if not record.ok:
                for undo, args in reversed(_undo):
                    undo(*args)
                record.conflicts.clear()  # its refused names are rolled back with the rest
                warnings.warn(
                    f'zoo plugin {ep.name!r} (distribution {record.distribution} '
                    f'{record.version}, module {ep.module_name}) failed to import: {record.error}',
                    stacklevel=2)
            _undo.clear()
        return _records


def _import_alone(module: str, record: PluginRecord) -> None:
    """Import ``module`` with ``sys.argv`` reduced to its name and ``sys.stderr`` held back;
    record any error (``SystemExit`` and ``KeyboardInterrupt`` included) in ``record``."""
    argv, held = sys.argv, io.StringIO()
    sys.argv = [module]
    try:
        with contextlib.redirect_stderr(held):
            importlib.import_module(module)
    except (Exception, SystemExit, KeyboardInterrupt) as exc:  # others go on loading
        record.error = f'{type(exc).__name__}: {exc}'
        if isinstance(exc, SystemExit):
            record.error += ' (the plugin exited while it was being imported)'
        said = held.getvalue().strip().splitlines()
        if said:
            record.error += f'; it wrote: {said[-1].strip()}'
        record.traceback = traceback.format_exc() + (
            'What the plugin wrote to stderr while it was imported:\n' + held.getvalue()
            if said else '')
    finally:
        sys.argv = argv
    if record.ok and held.getvalue():
        sys.stderr.write(held.getvalue())


def on_rollback(undo: Callable, *args: Any) -> None:
    """Remember ``undo(*args)``, to be called if the plugin being imported fails (called by
    the catalogues for every registration made while a plugin is imported)."""
    if _loading is not None:
        _undo.append((undo, args))


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


def note_registration(obj: Any) -> None:
    """Remember which plugin's import registered ``obj`` (called by the catalogues)."""
    if _loading is not None and getattr(obj, '__hash__', None) is not None \
            and obj not in _registered_by:
        _registered_by[obj] = _loading.name
        on_rollback(_registered_by.pop, obj, None)


def owner_of(obj: Any) -> str:
    """The plugin that owns ``obj``: the one whose import registered it; else the entry point
    whose module contains ``obj.__module__``; else (a script, a test) its top-level package.
    """
    owner = _registered_by.get(obj) if getattr(obj, '__hash__', None) is not None else None
    if owner is not None:
        return owner
    module = getattr(obj, '__module__', None) or '?'
    best = None
    for record in (_records or []):
        if module == record.module or module.startswith(record.module + '.'):
            if best is None or len(record.module) > len(best.module):
                best = record
    return best.name if best is not None else module.split('.')[0]


def failed() -> list[PluginRecord]:
    """The plugins whose import failed (running discovery if it has not run)."""
    return [r for r in discover() if not r.ok]
