"""A catalogue of one kind of part, on top of mmengine's :class:`~mmengine.registry.Registry`.

What it adds to mmengine's registry:

* plugin discovery on first use (see :mod:`registry.discovery`);
* an owner per part: the plugin (entry point of the group ``zoo.plugins``) whose module defines it;
* qualified names ``<plugin>.<Name>`` that always reach a part, even one whose short name was
  taken first by another plugin;
* refusal of a second registration of a taken name, naming both owners;
* the registrations of a plugin whose import fails are rolled back (see :mod:`registry.discovery`).

The catalogues use mmengine's scope ``zoo``; those that mmengine's ``Runner`` builds itself
(detector, dataset, transform, metric, loop) are children of mmengine's root registries, so a
config with ``default_scope = 'zoo'`` reaches them.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, Optional

from mmengine.registry import Registry

from . import discovery
from .errors import DuplicatePartError

SCOPE = 'zoo'


@dataclass(frozen=True)
class PartInfo:
    """One registered part, as ``zoo list`` shows it."""

    kind: str
    name: str
    obj: Any
    owner: str
    shadowed: bool = False  # short name taken by another owner; reachable only as ``qualified``

    @property
    def qualified(self) -> str:
        return f'{self.owner}.{self.name}'


def _same_definition(a: Any, b: Any) -> bool:
    """True for one definition seen twice (a module imported again under the same name)."""
    return (getattr(a, '__module__', None), getattr(a, '__qualname__', None)) == \
        (getattr(b, '__module__', None), getattr(b, '__qualname__', None))


class Catalogue(Registry):
    """The registry of one kind of part.

    Args:
        kind: the kind's identifier, e.g. ``'roi_extractor'``; used in messages and ``zoo list``.
        title: the kind in words, e.g. ``'RoI extractor'``.
        parent: an mmengine root registry when mmengine's ``Runner`` builds this kind itself.

    Raises (from ``register_module``):
        DuplicatePartError: the name is taken by a part of another owner. While plugins are
            being discovered the refusal is recorded against the plugin (see ``zoo plugins``) and
            the newcomer stays reachable by its qualified name; outside discovery it is raised.
    """

    def __init__(self, kind: str, title: str, parent: Optional[Registry] = None):
        super().__init__(kind, parent=parent, scope=SCOPE)
        self.kind = kind
        self.title = title
        self._shadowed: list[tuple[str, Any]] = []

    @property
    def plural(self) -> str:
        """The kind in words, plural: 'losses', 'RoI extractors'."""
        return self.title + ('es' if self.title.endswith(('s', 'x', 'ch', 'sh')) else 's')

    # registration -------------------------------------------------------------------------
    def _register_module(self, module, module_name=None, force: bool = False) -> None:
        if not callable(module):
            raise TypeError(f'a {self.title} must be a class or a function, got {module!r}')
        names = [module.__name__] if module_name is None else (
            [module_name] if isinstance(module_name, str) else list(module_name))
        for name in names:
            existing = self._module_dict.get(name)
            if existing is None or existing is module or force or _same_definition(existing, module):
                self._module_dict[name] = module
                discovery.note_registration(module)
                discovery.on_rollback(self._restore_name, name, existing)
                continue
            loading = discovery.is_loading()
            if loading:
                discovery.note_registration(module)  # owned by the plugin being imported
            old_owner, new_owner = discovery.owner_of(existing), discovery.owner_of(module)
            where_old = f'{existing.__module__}.{existing.__qualname__}'
            where_new = f'{module.__module__}.{module.__qualname__}'
            if new_owner != old_owner:
                message = (f'{self.title} {name!r} is already registered by plugin {old_owner!r} '
                           f'({where_old}); the registration by plugin {new_owner!r} '
                           f'({where_new}) is refused. ' +
                           (f'Reach it by its qualified name {new_owner + "." + name!r}.'
                            if loading else 'Register it under another name '
                            '(register_module(name=...)), or pass force=True to replace.'))
            else:
                message = (f'{self.title} {name!r} is registered twice by {old_owner!r}: '
                           f'{where_old} and {where_new}; the second registration is refused' +
                           ('.' if loading else ' (pass force=True to replace the first).'))
            if loading:
                self._shadowed.append((name, module))
                discovery.on_rollback(self._shadowed.remove, (name, module))
                discovery.record_conflict(message)
                warnings.warn(message, stacklevel=3)
            else:
                raise DuplicatePartError(message)

    def _restore_name(self, name: str, previous: Any) -> None:
        """Undo a registration of ``name`` (that of a plugin whose import failed)."""
        if previous is None:
            self._module_dict.pop(name, None)
        else:
            self._module_dict[name] = previous

    # lookup -------------------------------------------------------------------------------
    def get(self, key: str):
        """Return the part registered as ``key`` (short or qualified name), or None."""
        discovery.discover()
        if isinstance(key, str) and '.' in key:
            prefix, name = key.split('.', 1)
            if prefix in discovery.plugin_names() or any(p.owner == prefix for p in self.parts()):
                for info in self.parts(include_shadowed=True):
                    if info.owner == prefix and info.name == name:
                        return info.obj
                return None
        return super().get(key)

    def parts(self, include_shadowed: bool = False) -> list[PartInfo]:
        """The parts of this catalogue (not of mmengine's parent registries), sorted by name."""
        discovery.discover()
        infos = [PartInfo(self.kind, n, obj, discovery.owner_of(obj))
                 for n, obj in self._module_dict.items()]
        if include_shadowed:
            infos += [PartInfo(self.kind, n, obj, discovery.owner_of(obj), shadowed=True)
                      for n, obj in self._shadowed]
        return sorted(infos, key=lambda p: (p.name.lower(), p.owner))

    def names(self, qualified: bool = True) -> list[str]:
        """Names of every part, for suggestions: short ones, and qualified ones too if
        ``qualified`` (a refused part, reachable only by its qualified name, always has it)."""
        out = []
        for info in self.parts(include_shadowed=True):
            if not info.shadowed:
                out.append(info.name)
            if qualified or info.shadowed:
                out.append(info.qualified)
        return out
