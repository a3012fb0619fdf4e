"""Assembly checks: producers declare out_channels/strides, consumers declare ``consumes()``, and
check_link names the key path, the value held and what the neighbour produces."""
from __future__ import annotations

import pytest

import registry
from registry import AssemblyError, ConfigError, FeatureSpec, Requires, check_link


# tiny parts: a backbone, a neck, a head, an anchor scheme and a detector that assembles them --
class _TestTinyBackbone:
    """Produces ``len(widths)`` levels of ``widths[i]`` channels at strides 4, 8, ..."""

    def __init__(self, widths=(8, 32)):
        self.out_channels = tuple(widths)
        self.strides = tuple(4 * 2 ** i for i in range(len(widths)))


class _TestTinyNeck:
    """Consumes the backbone's channels (one per level) and strides; produces ``out_channels``
    at every level."""

    def __init__(self, in_channels, out_channels=16, strides=(4, 8)):
        self.in_channels, self.strides_in = in_channels, strides
        self.out_channels = out_channels  # an int: the same at every level
        self.strides = tuple(strides)

    def consumes(self):
        return [Requires('in_channels', self.in_channels, 'channels'),
                Requires('strides', self.strides_in, 'strides')]


class _TestTinyAnchors:
    def __init__(self, strides=(4, 8)):
        self.anchor_strides = strides

    def consumes(self):
        return [Requires('strides', self.anchor_strides, 'strides', rule='subset'),
                Requires('strides', self.anchor_strides, 'num_levels', rule='count')]


class _TestTinyHead:
    def __init__(self, in_channels, anchor_generator=None):
        self.in_channels = in_channels
        self.anchor_generator = registry.build('anchor_generator', anchor_generator,
                                               key='anchor_generator')

    def consumes(self):
        return [Requires('in_channels', self.in_channels, 'channels', rule='each')]


class _TestTinyDetector:
    """Builds its parts, then checks each link before anything runs (as the real detectors do)."""

    def __init__(self, backbone, neck, head):
        self.backbone = registry.build('backbone', backbone, key='backbone')
        self.neck = registry.build('neck', neck, key='neck')
        check_link(self.backbone, self.neck)
        self.head = registry.build('head', head, key='head')
        check_link(self.neck, self.head)
        if self.head.anchor_generator is not None:
            check_link(self.neck, self.head.anchor_generator)


@pytest.fixture
def tiny(cats):
    cats['backbone'].register_module(module=_TestTinyBackbone)
    cats['neck'].register_module(module=_TestTinyNeck)
    cats['head'].register_module(module=_TestTinyHead)
    cats['anchor_generator'].register_module(module=_TestTinyAnchors)
    cats['detector'].register_module(module=_TestTinyDetector)
    return cats


def model(neck=None, head=None, backbone=None):
    return dict(type='_TestTinyDetector',
                backbone=dict(type='_TestTinyBackbone', **(backbone or {})),
                neck=dict(type='_TestTinyNeck', **(neck or dict(in_channels=[8, 32]))),
                head=dict(type='_TestTinyHead', **(head or dict(in_channels=16))))


def test_agreeing_neighbours_assemble(tiny):
    det = registry.build('detector', model(head=dict(
        in_channels=16, anchor_generator=dict(type='_TestTinyAnchors', strides=[4, 8]))),
        key='model')
    assert FeatureSpec.of(det.neck) == FeatureSpec((16, 16), (4, 8))


def test_neck_channels_disagreeing_with_the_backbone_name_both_key_paths(tiny):
    with pytest.raises(AssemblyError) as info:
        registry.build('detector', model(neck=dict(in_channels=[8, 16])), key='model')
    assert str(info.value) == (
        'model.neck.in_channels = [8, 16], but model.backbone (_TestTinyBackbone) produces '
        'channels [8, 32]. model.backbone (_TestTinyBackbone) produces channels [8, 32] at '
        'strides [4, 8].')
    assert isinstance(info.value, ConfigError)  # `zoo config --build` exits with status 2


def test_every_disagreement_of_one_link_is_reported_at_once(tiny):
    with pytest.raises(AssemblyError) as info:
        registry.build('detector', model(neck=dict(in_channels=[8, 16], strides=(8, 16))),
                       key='model')
    msg = str(info.value)
    assert 'model.neck.in_channels = [8, 16], but model.backbone' in msg
    assert 'model.neck.strides = (8, 16), but model.backbone (_TestTinyBackbone) produces ' \
           'strides [4, 8]' in msg


def test_head_channels_must_match_every_level_of_the_neck(tiny):
    with pytest.raises(AssemblyError, match=r'model\.head\.in_channels = 32, but model\.neck '
                                            r'\(_TestTinyNeck\) produces channels \[16, 16\] '
                                            r'\(the same at every level\)'):
        registry.build('detector', model(head=dict(in_channels=32)), key='model')


def test_anchor_strides_and_levels_must_match_the_features(tiny):
    head = dict(in_channels=16, anchor_generator=dict(type='_TestTinyAnchors', strides=[4, 8, 16]))
    with pytest.raises(AssemblyError) as info:
        registry.build('detector', model(head=head), key='model')
    msg = str(info.value)
    assert ('model.head.anchor_generator.strides = [4, 8, 16], but model.neck (_TestTinyNeck) '
            'produces strides [4, 8] (each must be among them)') in msg
    assert ('model.head.anchor_generator.strides = [4, 8, 16], but model.neck (_TestTinyNeck) '
            'produces 2 feature levels (strides [4, 8]) (one per level)') in msg


def test_a_part_that_consumes_nothing_is_not_checked(tiny):
    check_link(_TestTinyBackbone(), object())


def test_a_producer_must_declare_its_features():
    with pytest.raises(AssemblyError, match='object does not declare out_channels and strides'):
        check_link(object(), _TestTinyNeck([8]))


# the rules ------------------------------------------------------------------------------------
SPEC = FeatureSpec(channels=(256, 256, 512), strides=(8, 16, 32))


@pytest.mark.parametrize('req, holds', [
    (Requires('in_channels', [256, 256, 512], 'channels'), True),
    (Requires('in_channels', (256, 256, 512), 'channels'), True),
    (Requires('in_channels', [256, 512], 'channels'), False),
    (Requires('in_channels', 256, 'channels'), False),
    (Requires('in_channels', 256, 'channels', rule='each'), False),
    (Requires('in_channels', 512, 'channels', rule='each'), False),
    (Requires('featmap_strides', [8, 32], 'strides', rule='subset'), True),
    (Requires('featmap_strides', [4, 8], 'strides', rule='subset'), False),
    (Requires('featmap_strides', 16, 'strides', rule='subset'), True),
    (Requires('strides', [1, 2, 3], 'strides', rule='count'), True),
    (Requires('num_outs', 3, 'num_levels', rule='count'), True),
    (Requires('num_outs', 5, 'num_levels', rule='count'), False),
    (Requires('strides', [8, 16, 32], 'strides'), True),
])
def test_rules(req, holds):
    assert req.holds(SPEC) is holds


def test_each_rule_on_a_uniform_producer():
    assert Requires('in_channels', 256, 'channels', rule='each').holds(
        FeatureSpec((256, 256), (8, 16)))


def test_an_unknown_rule_is_refused():
    with pytest.raises(ValueError, match="rule must be one of"):
        Requires('in_channels', 1, 'channels', rule='similar')


def test_feature_spec_of_parts_with_ints_and_sequences():
    one = type('One', (), {'out_channels': 512, 'strides': 16})()
    assert FeatureSpec.of(one) == FeatureSpec((512,), (16,))
    uniform = type('Uniform', (), {'out_channels': 256, 'strides': [4, 8, 16]})()
    assert FeatureSpec.of(uniform) == FeatureSpec((256, 256, 256), (4, 8, 16))
    assert str(FeatureSpec.of(uniform)) == 'channels [256, 256, 256] at strides [4, 8, 16]'
    assert FeatureSpec.of(uniform).num_levels == 3
    with pytest.raises(ValueError, match='2 channel counts for 1 strides'):
        FeatureSpec((1, 2), (4,))
