"""Incomplete declared contracts are refused when the part is built (docs/parts.md).

A box loss written as a bare ``nn.Module`` (no ``loss_kind``, no ``takes_decoded_boxes``) used to
build and train on deltas where boxes were meant; a RoI layer without ``output_size`` used to
fail with a plain ValueError. Both are now an AssemblyError naming the key path and the missing
attribute; the declared form (the example plugin's ``ScaledL1Loss``) builds in every built-in head.
"""
from __future__ import annotations

from typing import ClassVar

import pytest
import torch
from torch import nn

import registry
from plugins.roi_extractors import SingleRoIExtractor
from registry import AssemblyError, Catalogue
from registry.kinds import CATALOGUES
from zoo.api import WeightedLoss


class BareL1(nn.Module):
    """The old docs' example: a loss with the call signature but no declared contract."""

    def forward(self, pred, target, weight=None, avg_factor=None):
        return (pred - target).abs().sum() / (avg_factor or max(pred.numel(), 1))


class KindOnlyL1(BareL1):
    loss_kind = 'regression'  # but not whether it takes deltas or decoded boxes


class WeightedNoKind(WeightedLoss):
    def elementwise(self, pred, target):
        return (pred - target).abs()


class DeclaredL1(WeightedLoss):
    """The example plugin's form: both attributes declared."""
    loss_kind: ClassVar[str] = 'regression'
    takes_decoded_boxes: ClassVar[bool] = False

    def elementwise(self, pred, target):
        return (pred - target).abs()


class DecodedL1(DeclaredL1):
    takes_decoded_boxes: ClassVar[bool] = True


def rpn(loss_bbox):
    return registry.build('head', dict(type='RPNHead', in_channels=4, feat_channels=4,
                                       anchor_generator=dict(type='AnchorGenerator', strides=[4],
                                                             sizes=[[8]]),
                                       loss_bbox=loss_bbox), key='model.rpn_head')


def bbox_head(loss_bbox):
    return registry.build('head', dict(type='Shared2FCBBoxHead', num_classes=2, in_channels=4,
                                       roi_feat_size=2, fc_out_channels=8, loss_bbox=loss_bbox),
                          key='model.roi_head.bbox_head')


def yolov3(loss_bbox):
    return registry.build('head', dict(type='YOLOV3Head', num_classes=2, in_channels=[4],
                                       anchor_generator=dict(type='YOLOAnchorGenerator', strides=[16],
                                                             base_sizes=[[(16, 16)]]),
                                       loss_bbox=loss_bbox), key='model.bbox_head')


def yolov1(loss_bbox):
    return registry.build('head', dict(type='YOLOV1Head', num_classes=2, in_channels=4, grid_size=2,
                                       num_boxes=1, feat_channels=4, fc_channels=8,
                                       loss_bbox=loss_bbox), key='model.bbox_head')


HEADS = [rpn, bbox_head, yolov3, yolov1]


@pytest.fixture(scope='module', autouse=True)
def _parts():
    registry.discover()


@pytest.mark.parametrize('make', HEADS, ids=lambda f: f.__name__)
@pytest.mark.parametrize('loss, missing', [(BareL1, 'loss_kind'), (WeightedNoKind, 'loss_kind'),
                                           (KindOnlyL1, 'takes_decoded_boxes')])
def test_a_box_loss_without_its_declarations_is_refused_naming_the_attribute(make, loss, missing):
    with pytest.raises(AssemblyError) as err:
        make(loss())
    msg = str(err.value)
    assert msg.startswith(f'loss_bbox.type = {loss.__name__!r}') and missing in msg, msg
    assert 'docs/parts.md' in msg


@pytest.mark.parametrize('make', HEADS, ids=lambda f: f.__name__)
def test_a_declared_box_loss_builds_and_the_head_reads_its_declaration(make):
    head = make(DeclaredL1())
    assert head.loss_bbox.takes_decoded_boxes is False
    assert make(DecodedL1()).loss_bbox.takes_decoded_boxes is True


def test_a_classification_key_refuses_an_undeclared_loss_too():
    with pytest.raises(AssemblyError, match="loss_cls.type = 'BareL1' does not declare its kind"):
        registry.build('head', dict(type='RPNHead', in_channels=4, feat_channels=4,
                                    anchor_generator=dict(type='AnchorGenerator', strides=[4],
                                                          sizes=[[8]]),
                                    loss_cls=BareL1()), key='model.rpn_head')


def test_the_declared_loss_reduces_like_every_zoo_loss():
    loss = DeclaredL1(loss_weight=2.0)
    pred, target = torch.zeros(3, 4), torch.ones(3, 4)
    assert loss(pred, target).item() == pytest.approx(2.0)                        # 2 * mean
    assert loss(pred, target, weight=torch.tensor([1.0, 0.0, 1.0]),
                avg_factor=4.0).item() == pytest.approx(2.0 * 8 / 4, rel=1e-6)    # 2 * sum / 4


class SizelessRoILayer(nn.Module):
    """A RoI layer that takes ``spatial_scale`` but does not declare ``output_size``."""

    def __init__(self, spatial_scale: float = 1.0, size: int = 7):
        super().__init__()
        self.spatial_scale, self.size = spatial_scale, size


class PairRoILayer(SizelessRoILayer):
    def __init__(self, spatial_scale: float = 1.0, output_size=(5, 5)):
        super().__init__(spatial_scale)
        self.output_size = output_size


@pytest.fixture
def roi_layers(monkeypatch):
    cat = Catalogue('roi_extractor', CATALOGUES['roi_extractor'].title)
    cat.parent = CATALOGUES['roi_extractor'].parent
    for part in (SizelessRoILayer, PairRoILayer, SingleRoIExtractor):
        cat.register_module(module=part)
    monkeypatch.setitem(CATALOGUES, 'roi_extractor', cat)


def test_a_roi_layer_without_output_size_is_refused_naming_it(roi_layers):
    with pytest.raises(AssemblyError) as err:
        registry.build('roi_extractor', dict(type='SingleRoIExtractor', out_channels=4,
                                             featmap_strides=[16],
                                             roi_layer=dict(type='SizelessRoILayer')),
                       key='model.roi_head.bbox_roi_extractor')
    msg = str(err.value)
    assert msg.startswith("model.roi_head.bbox_roi_extractor.roi_layer.type = 'SizelessRoILayer'")
    assert 'output_size' in msg and 'docs/parts.md' in msg


def test_a_roi_layer_declaring_a_square_pair_gives_its_side(roi_layers):
    ext = registry.build('roi_extractor', dict(type='SingleRoIExtractor', out_channels=4,
                                               featmap_strides=[8, 16],
                                               roi_layer=dict(type='PairRoILayer')))
    assert ext.output_size == 5
    assert [layer.spatial_scale for layer in ext.roi_layers] == [1 / 8, 1 / 16]
