"""Backbones from other frameworks: TorchvisionBackbone and TimmBackbone.

Their measured ``out_channels`` and ``strides`` are checked against the real forward of the
underlying classification model (forward hooks on the named modules, same weights, the outputs
themselves compared); frozen layers, the norm replacements and local weight files are checked
on the modules and tensors. The timm tests are skipped when timm (the optional extra ``timm``)
is not installed, except the one that shows a clear error without it.
"""
from __future__ import annotations

import ast
import inspect
import sys

import pytest
import torch
import torchvision
from torch import nn
from torchvision.ops import FrozenBatchNorm2d

import plugins  # noqa: F401  (registers the parts)
from plugins.backbones import TimmBackbone, TorchvisionBackbone
from plugins.backbones import timm_backbone as timm_backbone_module
from plugins.backbones.feature_probe import PROBE_SIZES, measure_features
from registry import BACKBONES

H, W = 96, 128  # test image: every stride up to 32 divides it


def _hooked_outputs(model: nn.Module, modules: list[str], x: torch.Tensor) -> list[torch.Tensor]:
    """The outputs of ``modules`` during ``model``'s own forward (the classification network)."""
    outs = {}
    handles = [model.get_submodule(m).register_forward_hook(
        lambda _mod, _inp, out, m=m: outs.__setitem__(m, out)) for m in modules]
    try:
        model(x)
    finally:
        for h in handles:
            h.remove()
    return [outs[m] for m in modules]


def _check_against_real(backbone, real: list[torch.Tensor], out: tuple) -> None:
    assert backbone.out_channels == tuple(t.shape[1] for t in real)
    assert backbone.strides == tuple(H // t.shape[2] for t in real)
    assert backbone.strides == tuple(W // t.shape[3] for t in real)
    assert len(out) == len(real)
    for mine, theirs in zip(out, real, strict=True):
        assert mine.shape == theirs.shape
        torch.testing.assert_close(mine, theirs, rtol=1e-5, atol=1e-5)


# TorchvisionBackbone ----------------------------------------------------------------------------

TV_MODELS = [
    ('resnet18', ['layer1', 'layer2', 'layer3', 'layer4'], (64, 128, 256, 512), (4, 8, 16, 32)),
    ('mobilenet_v3_small', ['features.1', 'features.3', 'features.8', 'features.12'],
     (16, 24, 48, 576), (4, 8, 16, 32)),
    ('regnet_y_400mf', [f'trunk_output.block{i}' for i in range(1, 5)],
     (48, 104, 208, 440), (4, 8, 16, 32)),
]


@pytest.mark.parametrize('name,nodes,channels,strides', TV_MODELS, ids=[m[0] for m in TV_MODELS])
def test_torchvision_backbone_measures_what_the_model_produces(name, nodes, channels, strides):
    torch.manual_seed(0)
    model = torchvision.models.get_model(name).eval()
    backbone = BACKBONES.build(dict(type='TorchvisionBackbone', model_name=name, out_nodes=nodes))
    # the published sizes of these models (torchvision's docs / papers)
    assert (backbone.out_channels, backbone.strides) == (channels, strides)
    result = backbone.body.load_state_dict(model.state_dict(), strict=False)
    assert result.missing_keys == []
    backbone.eval()
    x = torch.randn(1, 3, H, W)
    with torch.no_grad():
        _check_against_real(backbone, _hooked_outputs(model, nodes, x), backbone(x))


def test_torchvision_backbone_frozen_stages_freeze_what_the_node_depends_on():
    backbone = TorchvisionBackbone('resnet18', ['layer1', 'layer2', 'layer3', 'layer4'],
                                   frozen_stages=1)
    frozen = {n for n, p in backbone.named_parameters() if not p.requires_grad}
    expected = {n for n, _ in backbone.named_parameters()
                if n.startswith(('body.conv1.', 'body.bn1.', 'body.layer1.'))}
    assert frozen == expected and len(expected) == 15  # conv1, bn1 (2), layer1: 2 x (2 + 2 x 2)
    body = backbone.body  # a GraphModule: torchvision's module paths, plain containers
    backbone.train()
    assert not body.bn1.training and not body.get_submodule('layer1.1.bn2').training
    assert body.get_submodule('layer2.0.bn1').training
    # a training step moves neither the frozen weights nor the frozen BN statistics
    stats = body.get_buffer('layer1.0.bn1.running_mean').clone()
    weight = body.conv1.weight.clone()
    sum(o.sum() for o in backbone(torch.randn(2, 3, 64, 64))).backward()
    assert torch.equal(body.get_buffer('layer1.0.bn1.running_mean'), stats)
    assert body.conv1.weight.grad is None and torch.equal(body.conv1.weight, weight)
    assert body.get_parameter('layer2.0.conv1.weight').grad is not None


def test_torchvision_backbone_frozen_until_a_node():
    backbone = TorchvisionBackbone('mobilenet_v3_large', ['features.6', 'features.12', 'features.16'],
                                   frozen_until='features.3')
    for n, p in backbone.named_parameters():
        block = int(n.split('.')[2])  # body.features.<block>....
        assert p.requires_grad == (block > 3), n


def test_torchvision_backbone_norm_choices():
    gn = TorchvisionBackbone('mobilenet_v3_large', ['features.16'], norm='gn')
    assert not any(isinstance(m, nn.BatchNorm2d) for m in gn.modules())
    groups = {m.num_channels: m.num_groups for m in gn.modules() if isinstance(m, nn.GroupNorm)}
    assert groups[16] == 16 and groups[960] == 32 and groups[184] == 23 and groups[120] == 30
    assert all(m.eps == 0.001 for m in gn.modules() if isinstance(m, nn.GroupNorm))  # MobileNetV3's
    frozen = TorchvisionBackbone('resnet18', ['layer4'], norm='frozen_bn')
    assert sum(isinstance(m, FrozenBatchNorm2d) for m in frozen.modules()) == 20
    assert not any(isinstance(m, nn.BatchNorm2d) for m in frozen.modules())
    with pytest.raises(ValueError, match="norm='gn' replaces BatchNorm2d layers, and this model has "
                                         'none'):
        TorchvisionBackbone('squeezenet1_1', ['features'], norm='gn')


def test_torchvision_backbone_loads_a_local_weights_file(tmp_path):
    torch.manual_seed(1)
    model = torchvision.models.resnet18()
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_var.uniform_(0.5, 2.0)
    path = tmp_path / 'resnet18.pth'
    torch.save(model.state_dict(), path)  # torchvision's layout, fc.* included
    torch.manual_seed(2)
    for norm in ('bn', 'frozen_bn'):
        backbone = TorchvisionBackbone('resnet18', ['layer2', 'layer4'], pretrained=str(path),
                                       norm=norm)
        assert torch.equal(backbone.body.get_parameter('layer2.0.conv1.weight'),
                           model.layer2[0].conv1.weight)
        assert torch.equal(backbone.body.get_buffer('layer2.1.bn2.running_var'),
                           model.layer2[1].bn2.running_var)
    with pytest.raises(ValueError, match='missing keys'):
        TorchvisionBackbone('mobilenet_v3_small', ['features.12'], pretrained=str(path))


def test_torchvision_backbone_errors_name_the_value_and_close_names():
    with pytest.raises(ValueError, match=r"'resnet_18' is not a torchvision classification model; "
                                         r"did you mean 'resnet18'"):
        TorchvisionBackbone('resnet_18', ['layer4'])
    with pytest.raises(ValueError, match=r"out_nodes names 'layr4', not a node .* did you mean "
                                         r"'layer4'"):
        TorchvisionBackbone('resnet18', ['layer3', 'layr4'])
    with pytest.raises(ValueError, match='give frozen_stages or frozen_until, not both'):
        TorchvisionBackbone('resnet18', ['layer4'], frozen_stages=1, frozen_until='layer1')


def test_probe_refuses_channels_last_maps_and_takes_modules_without_meta_kernels():
    class ChannelsLast(nn.Module):
        def forward(self, x):
            return (x[:, :, ::4, ::4].permute(0, 2, 3, 1),)

    with pytest.raises(ValueError, match=r"'c2' gives maps of shapes \(1, 64, 96, 3\) and "
                                         r"\(1, 128, 192, 3\) .* not \(B, C, H, W\)"):
        measure_features(ChannelsLast(), ['c2'], 'Test')

    class NoMeta(nn.Module):  # .item() has no meta kernel: measured by a real forward instead
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 5, 3, stride=2, padding=1)

        def forward(self, x):
            y = self.conv(x)
            return (y * (y.abs().max().item() > -1),)

    assert measure_features(NoMeta(), ['c1'], 'Test') == ((5,), (2,))
    assert all(h != w for h, w in PROBE_SIZES)
    # unpadded convolutions and ceil-mode pooling: the map advances by one cell per 16 pixels
    squeeze = TorchvisionBackbone('squeezenet1_1', ['features'])
    assert (squeeze.out_channels, squeeze.strides) == ((512,), (16,))


# TimmBackbone -----------------------------------------------------------------------------------

TIMM_MODELS = [('resnet18', (1, 2, 3, 4)), ('mobilenetv3_small_100', (2, 3, 4)),
               ('regnetx_002', (1, 2, 3, 4)), ('convnext_atto', (0, 1, 2, 3))]


@pytest.mark.parametrize('name,out_indices', TIMM_MODELS, ids=[m[0] for m in TIMM_MODELS])
def test_timm_backbone_measures_what_the_model_produces_and_loads_its_file(name, out_indices,
                                                                            tmp_path):
    timm = pytest.importorskip('timm')
    torch.manual_seed(1)
    model = timm.create_model(name, pretrained=False).eval()
    path = tmp_path / f'{name}.pth'
    torch.save(model.state_dict(), path)  # timm's layout, classifier included
    torch.manual_seed(2)  # another random init: only the file makes the outputs equal
    backbone = BACKBONES.build(dict(type='TimmBackbone', model_name=name,
                                    out_indices=list(out_indices), pretrained=str(path))).eval()
    info = backbone.body.feature_info
    assert backbone.out_channels == tuple(info.channels())
    assert backbone.strides == tuple(info.reduction())
    first = next(n for n, p in backbone.body.named_parameters() if p.dim() == 4)
    own = dict(model.named_parameters())
    assert torch.equal(backbone.body.get_parameter(first), own[first.replace('_', '.', 1)]
                       if first not in own else own[first])
    x = torch.randn(1, 3, H, W)
    with torch.no_grad():
        real = _hooked_outputs(model, info.module_name(), x)
        _check_against_real(backbone, real, backbone(x))


def test_timm_backbone_refuses_a_model_whose_feature_info_lies(monkeypatch):
    timm = pytest.importorskip('timm')
    create = timm.create_model

    def lying(*args, **kwargs):
        model = create(*args, **kwargs)
        if kwargs.get('features_only'):
            for entry in model.feature_info.info:
                entry['reduction'] *= 2
        return model

    monkeypatch.setattr(timm, 'create_model', lying)
    with pytest.raises(ValueError, match=r"declares channels \[128, 256, 512\] at strides "
                                         r"\[16, 32, 64\], the model produces channels "
                                         r"\[128, 256, 512\] at strides \[8, 16, 32\]"):
        TimmBackbone('resnet18', out_indices=(2, 3, 4))


def test_timm_backbone_without_timm_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, 'timm', None)  # import timm now raises ImportError
    with pytest.raises(ImportError, match=r"pip install 'detection-zoo\[timm\]'"):
        TimmBackbone('resnet18')
    # and the module itself imports timm only when a TimmBackbone is built
    tree = ast.parse(inspect.getsource(timm_backbone_module))
    top = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    names = {a.name for n in top for a in n.names} | {n.module for n in top
                                                      if isinstance(n, ast.ImportFrom)}
    assert not any(str(n).split('.')[0] == 'timm' for n in names)
