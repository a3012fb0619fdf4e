"""Catalogue: owners, qualified names, refusal of duplicates (outside discovery), kinds."""
from __future__ import annotations

import pytest
from mmengine.registry import MODELS, DefaultScope

from registry import (BACKBONES, DETECTORS, Catalogue, ConfigError, DuplicatePartError,
                      catalogue, discovery)


def make(name, module, doc=None):
    """A fresh class called ``name`` as if defined in ``module`` (its plugin: the top package)."""
    return type(name, (), {'__module__': module, '__qualname__': name, '__doc__': doc})


@pytest.fixture
def cat(cats):
    return Catalogue('backbone', 'backbone')


def test_a_taken_name_is_refused_naming_both_owners(cat):
    first, second = make('TinyNet', 'acme_zoo.nets'), make('TinyNet', 'other_zoo.models')
    cat.register_module(module=first)
    with pytest.raises(DuplicatePartError) as info:
        cat.register_module(module=second)
    msg = str(info.value)
    assert msg.startswith("backbone 'TinyNet' is already registered by plugin 'acme_zoo' "
                          '(acme_zoo.nets.TinyNet); the registration by plugin '
                          "'other_zoo' (other_zoo.models.TinyNet) is refused.")
    assert 'register_module(name=...)' in msg
    assert cat.get('TinyNet') is first  # the first keeps the name


def test_the_same_owner_registering_twice_is_refused_too(cat):
    cat.register_module(module=make('TinyNet', 'acme_zoo.a'))
    with pytest.raises(DuplicatePartError, match="registered twice by 'acme_zoo': "
                                                 'acme_zoo.a.TinyNet and acme_zoo.b.TinyNet'):
        cat.register_module(module=make('TinyNet', 'acme_zoo.b'))


def test_one_definition_seen_twice_and_force_replace_quietly(cat):
    cat.register_module(module=make('TinyNet', 'acme_zoo.a'))
    again = make('TinyNet', 'acme_zoo.a')  # the module imported again: same module and qualname
    cat.register_module(module=again)
    assert cat.get('TinyNet') is again
    forced = make('TinyNet', 'other_zoo.b')
    cat.register_module(module=forced, force=True)
    assert cat.get('TinyNet') is forced


def test_qualified_names_reach_parts_and_owners_are_listed(cat):
    tiny, big = make('TinyNet', 'acme_zoo.nets', 'Tiny.'), make('BigNet', 'other_zoo.nets')
    cat.register_module(module=tiny)
    cat.register_module(module=big)
    assert cat.get('acme_zoo.TinyNet') is tiny
    assert cat.get('other_zoo.BigNet') is big
    assert cat.get('other_zoo.TinyNet') is None  # a known owner, but not this part's
    assert cat.get('acme_zoo.Missing') is None
    assert 'acme_zoo.TinyNet' in cat
    assert [(p.name, p.owner, p.qualified) for p in cat.parts()] == [
        ('BigNet', 'other_zoo', 'other_zoo.BigNet'), ('TinyNet', 'acme_zoo', 'acme_zoo.TinyNet')]
    assert cat.names() == ['BigNet', 'other_zoo.BigNet', 'TinyNet', 'acme_zoo.TinyNet']
    assert cat.names(qualified=False) == ['BigNet', 'TinyNet']


def test_aliases_with_register_module_name(cat):
    net = make('TinyNet', 'acme_zoo.nets')
    cat.register_module(name=['Tiny', 'TinyNetV1'], module=net)
    assert cat.get('Tiny') is net and cat.get('TinyNetV1') is net and cat.get('TinyNet') is None


def test_only_callables_can_be_registered(cat):
    with pytest.raises(TypeError, match='a backbone must be a class or a function'):
        cat.register_module(name='x', module=42)


def test_plural_titles():
    assert catalogue('loss').plural == 'losses'
    assert catalogue('roi_extractor').plural == 'RoI extractors'
    assert catalogue('anchors').plural == 'anchor schemes'


@pytest.mark.parametrize('name, kind', [
    ('backbone', 'backbone'), ('backbones', 'backbone'), ('Losses', 'loss'),
    ('anchors', 'anchor_generator'), ('prior_generator', 'anchor_generator'),
    ('roi_layer', 'roi_extractor'), ('bbox_coder', 'coder'), ('model', 'detector'),
    ('roi-extractors', 'roi_extractor'), ('metrics', 'metric'), ('loops', 'loop'),
])
def test_kinds_by_identifier_plural_or_alias(name, kind):
    assert catalogue(name).kind == kind


def test_an_unknown_kind_is_a_config_error_listing_the_kinds():
    with pytest.raises(ConfigError, match="unknown kind of part 'wheel'; the kinds are: "
                                          'backbone, neck, anchor_generator'):
        catalogue('wheel')


def test_mmengine_builds_a_zoo_part_from_its_root_registry_with_scope_zoo(monkeypatch):
    """The Runner builds ``model`` from mmengine's MODELS with default_scope 'zoo': it must reach
    the zoo's detector catalogue (a child of MODELS)."""
    monkeypatch.setattr(discovery, '_records', [])  # no plugin import needed here
    assert DETECTORS.parent is MODELS and BACKBONES.parent is None
    part = make('_RegistryTestDetector', 'zoo_registry_tests.detectors')
    DETECTORS.register_module(module=part)
    try:
        with DefaultScope.overwrite_default_scope('zoo'):
            built = MODELS.build(dict(type='_RegistryTestDetector'))
        assert isinstance(built, part)
    finally:
        DETECTORS._module_dict.pop('_RegistryTestDetector')
