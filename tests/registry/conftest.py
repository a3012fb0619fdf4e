"""Fixtures of the registry's unit tests: fresh catalogues, so that no test part leaks into the
real ones and the tests do not depend on which built-in parts exist."""
from __future__ import annotations

import pytest

from registry import Catalogue, discovery
from registry.kinds import CATALOGUES


@pytest.fixture
def cats(monkeypatch) -> dict[str, Catalogue]:
    """A fresh, empty catalogue for every kind, in place of the real ones for this test.

    ``registry.build``, ``resolve``, ``suggest`` and ``validate_types`` look catalogues up in
    ``CATALOGUES``, so they see only these. Discovery is marked as done with no plugin, so no
    plugin is imported and a part's owner is the top-level package of its ``__module__``
    (tests set ``__module__`` to stand for a plugin package, e.g. ``acme_zoo.backbones``).
    """
    fresh = {}
    for kind, real in list(CATALOGUES.items()):
        fresh[kind] = Catalogue(kind, real.title)
        fresh[kind].parent = real.parent  # mmengine's root registry, looked up by get(); the
        monkeypatch.setitem(CATALOGUES, kind, fresh[kind])  # root's child stays the real one
    monkeypatch.setattr(discovery, '_records', [])
    monkeypatch.setattr(discovery, '_registered_by', {})
    return fresh

