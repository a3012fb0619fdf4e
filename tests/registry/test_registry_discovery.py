"""Plugin discovery: once on first use, failures recorded, duplicates refused, loading order.

The plugins here are modules written to a temporary folder and announced as entry points of
the group ``zoo.plugins`` (the ``entrypoints`` reader is replaced by a list); their parts go to
a private catalogue. tests/cli/test_third_party_plugin.py does the same with real, installed
distributions.
"""
from __future__ import annotations

import importlib
import sys
import textwrap
import types
from types import SimpleNamespace

import entrypoints
import pytest

from registry import Catalogue, DuplicatePartError, discovery

CATALOGUE_MODULE = 'zoo_discovery_test_catalogue'


@pytest.fixture
def plugins(tmp_path, monkeypatch):
    """``plugins.add(name, module, source, dist, version)`` declares a plugin; ``plugins.cat`` is
    the catalogue its source reaches as ``from zoo_discovery_test_catalogue import CAT``."""
    cat = Catalogue('backbone', 'backbone')
    holder = types.ModuleType(CATALOGUE_MODULE)
    holder.CAT = cat
    monkeypatch.setitem(sys.modules, CATALOGUE_MODULE, holder)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(discovery, '_records', None)  # discovery has not run yet
    monkeypatch.setattr(discovery, '_registered_by', {})
    eps, reads = [], []

    def add(name, module, source='', dist='acme-zoo', version='1.0'):
        (tmp_path / f'{module}.py').write_text(textwrap.dedent(source))
        eps.append(entrypoints.EntryPoint(name, module, None,
                                          distro=entrypoints.Distribution(dist, version)))

    def get_group_all(group):
        reads.append(group)
        return list(eps)

    monkeypatch.setattr(entrypoints, 'get_group_all', get_group_all)
    importlib.invalidate_caches()
    yield SimpleNamespace(cat=cat, add=add, reads=reads)
    for ep in eps:
        sys.modules.pop(ep.module_name, None)


def net(name, doc='A test backbone.'):
    return f'''
        from {CATALOGUE_MODULE} import CAT

        @CAT.register_module()
        class {name}:
            """{doc}"""
    '''


def test_discovery_runs_once_on_the_first_lookup(plugins):
    plugins.add('acme', 'zoo_disc_acme_a', net('AcmeNet'))
    assert plugins.reads == [] and 'zoo_disc_acme_a' not in sys.modules
    assert plugins.cat.get('AcmeNet').__module__ == 'zoo_disc_acme_a'  # first use: discovery
    assert plugins.reads == ['zoo.plugins']
    first = discovery.discover()
    plugins.cat.get('AcmeNet')
    plugins.cat.parts()
    assert plugins.reads == ['zoo.plugins'] and discovery.discover() is first  # not again
    discovery.discover(reload=True)
    assert plugins.reads == ['zoo.plugins', 'zoo.plugins']


def test_a_plugin_that_fails_to_import_is_reported_and_the_others_still_load(plugins):
    plugins.add('acme', 'zoo_disc_acme_b', net('AcmeNet'), dist='acme-zoo', version='1.2.0')
    plugins.add('broken', 'zoo_disc_broken_b', 'import zoo_disc_missing_dependency\n',
                dist='broken-zoo', version='0.0.1')
    plugins.add('zeta', 'zoo_disc_zeta_b', net('ZetaNet'), dist='zeta-zoo', version='3.0')
    with pytest.warns(UserWarning, match=r"zoo plugin 'broken' \(distribution broken-zoo 0\.0\.1, "
                                         r'module zoo_disc_broken_b\) failed to import: '
                                         r"ModuleNotFoundError: No module named "
                                         r"'zoo_disc_missing_dependency'"):
        records = discovery.discover()
    by_name = {r.name: r for r in records}
    broken = by_name['broken']
    assert not broken.ok
    assert (broken.distribution, broken.version, broken.module) == (
        'broken-zoo', '0.0.1', 'zoo_disc_broken_b')
    assert broken.error == "ModuleNotFoundError: No module named 'zoo_disc_missing_dependency'"
    assert 'Traceback' in broken.traceback
    assert by_name['acme'].ok and by_name['zeta'].ok  # the one after the failure loaded too
    assert [(p.name, p.owner) for p in plugins.cat.parts()] == [('AcmeNet', 'acme'),
                                                                 ('ZetaNet', 'zeta')]


def test_a_taken_name_is_refused_during_discovery_and_stays_reachable_qualified(plugins):
    # declared first, but loaded second: plugins load sorted by distribution name
    plugins.add('rival', 'zoo_disc_rival_c', net('TinyNet', 'The rival.'), dist='rival-zoo')
    plugins.add('acme', 'zoo_disc_acme_c', net('TinyNet', 'The first.'), dist='acme-zoo')
    with pytest.warns(UserWarning, match="backbone 'TinyNet' is already registered by plugin "
                                         "'acme'"):
        records = discovery.discover()
    assert [r.name for r in records] == ['acme', 'rival'] and all(r.ok for r in records)
    rival = records[1]
    assert rival.conflicts == [
        "backbone 'TinyNet' is already registered by plugin 'acme' (zoo_disc_acme_c.TinyNet); "
        "the registration by plugin 'rival' (zoo_disc_rival_c.TinyNet) is refused. "
        "Reach it by its qualified name 'rival.TinyNet'."]
    cat = plugins.cat
    assert cat.get('TinyNet').__doc__ == 'The first.'
    assert cat.get('acme.TinyNet').__doc__ == 'The first.'
    assert cat.get('rival.TinyNet').__doc__ == 'The rival.'
    assert [(p.qualified, p.shadowed) for p in cat.parts(include_shadowed=True)] == [
        ('acme.TinyNet', False), ('rival.TinyNet', True)]
    assert cat.names(qualified=False) == ['TinyNet', 'rival.TinyNet']


def test_after_discovery_a_taken_name_raises_naming_the_plugin_that_has_it(plugins):
    plugins.add('acme', 'zoo_disc_acme_d', net('TinyNet'))
    discovery.discover()
    mine = type('TinyNet', (), {'__module__': 'my_script', '__qualname__': 'TinyNet'})
    with pytest.raises(DuplicatePartError, match="backbone 'TinyNet' is already registered by "
                                                 r"plugin 'acme' \(zoo_disc_acme_d.TinyNet\); the "
                                                 "registration by plugin 'my_script'"):
        plugins.cat.register_module(module=mine)


def test_the_zoos_own_distribution_loads_first_then_the_others_by_distribution(plugins):
    plugins.add('zeta', 'zoo_disc_zeta_e', dist='aaa-first-alphabetically')
    plugins.add('builtin', 'zoo_disc_builtin_e', dist='detection_zoo', version='0.1.0')
    plugins.add('beta', 'zoo_disc_beta_e', dist='bbb-zoo')
    plugins.add('zoo', 'zoo_disc_zoo_e', dist='detection-zoo', version='0.1.0')
    plugins.add('alpha', 'zoo_disc_alpha_e', dist='bbb-zoo')
    names = [r.name for r in discovery.discover()]
    assert names == ['builtin', 'zoo', 'zeta', 'alpha', 'beta']


def test_a_second_distribution_using_a_taken_plugin_name_is_not_loaded(plugins):
    plugins.add('acme', 'zoo_disc_acme_f', net('AcmeNet'), dist='acme-zoo', version='1.0')
    plugins.add('acme', 'zoo_disc_copy_f', net('CopyNet'), dist='copy-zoo', version='2.0')
    with pytest.warns(UserWarning, match="the plugin name 'acme' is taken by distribution "
                                         'acme-zoo 1.0'):
        records = discovery.discover()
    assert records[0].ok and not records[1].ok
    assert 'zoo_disc_copy_f' not in sys.modules
    assert plugins.cat.get('CopyNet') is None


def test_owner_falls_back_to_the_plugin_module_or_the_top_level_package(plugins):
    plugins.add('acme', 'zoo_disc_acme_g', net('AcmeNet'))
    discovery.discover()
    outside = type('X', (), {'__module__': 'zoo_disc_acme_g.sub'})  # not registered in discovery
    assert discovery.owner_of(outside) == 'acme'
    assert discovery.owner_of(type('Y', (), {'__module__': 'scripts.train'})) == 'scripts'
