"""registry.build: unknown types, signature checks and config key paths in every message."""
from __future__ import annotations

import sys

import pytest

import registry
from registry import ConfigError, UnknownPartError, current_key_path, key_path


def owned(cls, module):
    """``cls`` as if defined in ``module``: its plugin is the module's top-level package."""
    cls.__module__ = module
    return cls


class ResNet:
    """A stand-in backbone."""

    def __init__(self, depth: int = 50, frozen_stages: int = 1):
        self.depth, self.frozen_stages = depth, frozen_stages


class ResNeXt:
    def __init__(self, groups: int = 32):
        self.groups = groups


class RoIAlign:
    def __init__(self, output_size: int = 7):
        self.output_size = output_size
        self.path_seen = current_key_path()


class SingleRoIExtractor:
    def __init__(self, roi_layer: dict, out_channels: int = 256):
        self.roi_layer = registry.build('roi_extractor', roi_layer, key='roi_layer')
        self.path_seen = current_key_path()


class StandardRoIHead:
    def __init__(self, bbox_roi_extractor: dict):
        self.bbox_roi_extractor = registry.build('roi_extractor', bbox_roi_extractor,
                                                 key='bbox_roi_extractor')


class TwoStage:
    def __init__(self, backbone: dict, roi_head: dict, num_classes: int = 3):
        self.backbone = registry.build('backbone', backbone, key='backbone')
        self.roi_head = registry.build('head', roi_head, key='roi_head')


class ScaledL1Loss:
    def __init__(self, scale: float = 1.0):
        self.scale = scale


class NeedsDepth:
    def __init__(self, depth):
        self.depth = depth


class Explodes:
    def __init__(self, width: int = 8):
        if width < 0:
            raise RuntimeError('out of memory')  # not about the config: propagates as it is
        raise ValueError(f'width {width} is not a multiple of 16')


@pytest.fixture
def parts(cats):
    """Stand-in parts of two plugin packages, acme_zoo and other_zoo, in fresh catalogues."""
    cats['backbone'].register_module(module=owned(ResNet, 'acme_zoo.backbones.resnet'))
    cats['backbone'].register_module(module=owned(ResNeXt, 'other_zoo.resnext'))
    cats['backbone'].register_module(module=owned(NeedsDepth, 'acme_zoo.backbones.misc'))
    cats['backbone'].register_module(module=owned(Explodes, 'acme_zoo.backbones.misc'))
    cats['roi_extractor'].register_module(module=owned(RoIAlign, 'acme_zoo.roi'))
    cats['roi_extractor'].register_module(module=owned(SingleRoIExtractor, 'acme_zoo.roi'))
    cats['head'].register_module(module=owned(StandardRoIHead, 'acme_zoo.heads'))
    cats['detector'].register_module(module=owned(TwoStage, 'acme_zoo.detectors'))
    cats['loss'].register_module(module=owned(ScaledL1Loss, 'other_zoo.losses'))
    return cats


def model_cfg(roi_layer_type='RoIAlign', **roi_layer):
    return dict(type='TwoStage', backbone=dict(type='ResNet', depth=50),
                roi_head=dict(type='StandardRoIHead', bbox_roi_extractor=dict(
                    type='SingleRoIExtractor', roi_layer=dict(type=roi_layer_type, **roi_layer))))


# unknown types --------------------------------------------------------------------------------
def test_unknown_type_names_kind_key_path_suggestions_and_their_plugins(parts):
    with pytest.raises(UnknownPartError) as info:
        registry.build('backbone', dict(type='ResNte'), key='model.backbone')
    msg = str(info.value)
    assert msg.startswith("model.backbone.type = 'ResNte': no backbone of that name is registered")
    assert "did you mean 'ResNet' (plugin acme_zoo), 'ResNeXt' (plugin other_zoo)?" in msg
    assert not msg.endswith('?.')  # one paragraph, punctuated once
    assert isinstance(info.value, ConfigError)  # the command line maps it to exit status 2


def test_unknown_type_deep_in_a_nested_config_names_the_whole_key_path(parts):
    with pytest.raises(UnknownPartError) as info:
        registry.build('detector', model_cfg('RoIAlgin'), key='model')
    msg = str(info.value)
    assert "model.roi_head.bbox_roi_extractor.roi_layer.type = 'RoIAlgin'" in msg
    assert 'no RoI extractor of that name' in msg
    assert "'RoIAlign' (plugin acme_zoo)" in msg


def test_a_name_of_another_kind_says_which_kind_it_is(parts):
    with pytest.raises(UnknownPartError) as info:
        registry.build('backbone', dict(type='ScaledL1Loss'), key='model.backbone')
    assert "'ScaledL1Loss' is a loss, not a backbone" in str(info.value)


def test_a_kind_with_no_part_at_all_points_to_zoo_plugins(parts):
    with pytest.raises(UnknownPartError) as info:
        registry.build('sampler', dict(type='RandomSampler'), key='train_cfg.rcnn.sampler')
    msg = str(info.value)
    assert "train_cfg.rcnn.sampler.type = 'RandomSampler'" in msg
    assert 'is a plugin missing? (see `zoo plugins`)' in msg


def test_no_close_name_lists_the_parts_of_the_kind(parts):
    with pytest.raises(UnknownPartError) as info:
        registry.build('loss', dict(type='Zzzz'), key='loss')
    assert str(info.value) == ("loss.type = 'Zzzz': no loss of that name is registered; "
                               'the losses are: ScaledL1Loss.')


def test_qualified_names_are_suggested_for_qualified_input_only(parts):
    assert registry.suggest('ResNte', 'backbone') == ['ResNet', 'ResNeXt']
    assert registry.suggest('acme_zoo.ResNte', 'backbone')[0] == 'acme_zoo.ResNet'


def test_unknown_kind_lists_the_kinds(parts):
    with pytest.raises(ConfigError) as info:
        registry.build('bakbone', dict(type='ResNet'))
    assert "unknown kind of part 'bakbone'" in str(info.value)
    assert 'backbone, neck, anchor_generator' in str(info.value)


# signature checks -----------------------------------------------------------------------------
def test_unknown_argument_names_key_path_type_and_accepted_arguments(parts):
    with pytest.raises(ConfigError) as info:
        registry.build('detector', dict(model_cfg(), backbone=dict(type='ResNet', dept=101)),
                       key='model')
    msg = str(info.value)
    assert msg.startswith('model.backbone (ResNet): ')
    assert "unexpected keyword argument 'dept'" in msg
    assert 'ResNet accepts: depth=50, frozen_stages=1' in msg


def test_missing_argument_is_a_config_error(parts):
    with pytest.raises(ConfigError, match=r"model\.backbone \(NeedsDepth\): missing a required "
                                          r"argument: 'depth'"):
        registry.build('backbone', dict(type='NeedsDepth'), key='model.backbone')


def test_a_config_without_type(parts):
    with pytest.raises(ConfigError, match=r'model\.backbone: a backbone config needs a `type` '
                                          r"key; got keys \['depth'\]"):
        registry.build('backbone', dict(depth=50), key='model.backbone')


# key paths ------------------------------------------------------------------------------------
def test_key_paths_nest_and_are_stamped_on_the_parts(parts):
    model = registry.build('detector', model_cfg(output_size=14), key='model')
    extractor = model.roi_head.bbox_roi_extractor
    assert extractor.path_seen == 'model.roi_head.bbox_roi_extractor'
    assert extractor.roi_layer.path_seen == 'model.roi_head.bbox_roi_extractor.roi_layer'
    assert extractor.roi_layer.output_size == 14
    assert model.backbone._zoo_key_path == 'model.backbone'
    assert model.backbone._zoo_type == 'ResNet'
    assert current_key_path() == ''  # restored after the build


def test_key_path_is_restored_after_an_error(parts):
    with pytest.raises(UnknownPartError):
        registry.build('detector', model_cfg('Nope'), key='model')
    assert current_key_path() == ''
    with key_path('a.b'):
        with key_path('c'):
            assert current_key_path() == 'a.b.c'
        assert current_key_path() == 'a.b'


def test_default_args_fill_only_missing_keys(parts):
    backbone = registry.build('backbone', dict(type='ResNet', depth=101),
                              default_args=dict(depth=18, frozen_stages=4))
    assert (backbone.depth, backbone.frozen_stages) == (101, 4)


def test_none_objects_and_classes_as_type(parts):
    assert registry.build('backbone', None) is None
    built = ResNet()
    assert registry.build('backbone', built) is built
    assert isinstance(registry.build('backbone', dict(type=ResNet)), ResNet)
    assert isinstance(registry.build('backbone', dict(type='acme_zoo.ResNet')), ResNet)


def test_a_value_the_constructor_refuses_is_a_config_error_naming_the_key_path(parts):
    """A part's ``ValueError`` (the parts' way to refuse an argument value) is a config error
    (exit status 2), prefixed with the key path and the type; the original is its cause."""
    cfg = dict(model_cfg(), backbone=dict(type='Explodes', width=10))
    with pytest.raises(ConfigError) as info:
        registry.build('detector', cfg, key='model')
    assert str(info.value) == 'model.backbone (Explodes): width 10 is not a multiple of 16'
    assert type(info.value.__cause__) is ValueError


@pytest.mark.skipif(sys.version_info < (3, 11), reason='exception notes need Python 3.11')
def test_another_error_of_the_constructor_keeps_its_type_and_gets_the_key_path_as_a_note(parts):
    cfg = dict(model_cfg(), backbone=dict(type='Explodes', width=-1))
    with pytest.raises(RuntimeError, match='out of memory') as info:
        registry.build('detector', cfg, key='model')
    assert info.value.__notes__ == ['while building model.backbone (Explodes)']  # innermost only
