"""Any torchvision classification model as a backbone, through torchvision's feature extraction.

The model is built by ``torchvision.models.get_model(model_name, weights=None, **model_kwargs)``
(nothing is downloaded), traced by
:func:`torchvision.models.feature_extraction.create_feature_extractor` into a network that
returns the outputs of the graph nodes ``out_nodes`` and nothing after the last of them (the
classifier is dropped). Node names are those of
:func:`torchvision.models.feature_extraction.get_graph_node_names`: module paths for the
outputs of leaf modules (``'layer2.1.relu_1'``, ``'features.0'``) and ``path.op`` for functional
operations (``'features.6.add'``); the path of any module (``'layer2'``, ``'features.6'``) names
the last node inside it, i.e. the module's output (torchvision's rule). The error for an unknown
name lists close ones.

``out_channels`` and ``strides`` are not given by the user: they are measured by one probe
forward when the backbone is built (:mod:`plugins.backbones.feature_probe`), so they are what
the network produces.

State dict: the traced network is ``self.body`` and keeps torchvision's module paths, so the
keys are ``body.<torchvision key>`` (``body.features.0.0.weight``), and a torchvision ImageNet
file (``mobilenet_v3_large-8738ca79.pth``, ``resnet18-f37072fd.pth``) fits ``pretrained`` as it
is; its ``classifier.*``/``fc.*`` entries and those of the layers after the last output node
are ignored and logged.

Source: torchvision's detection backbones (``models/detection/backbone_utils.py``:
``_resnet_fpn_extractor``, ``_mobilenet_extractor``) do the same with ``IntermediateLayerGetter``
for two families; ``create_feature_extractor`` (torch.fx) extends it to every model.
"""
from __future__ import annotations

import difflib
from typing import Optional, Sequence

import torchvision
from torch import Tensor, nn
from torchvision.models.feature_extraction import create_feature_extractor, get_graph_node_names
from torchvision.ops import FrozenBatchNorm2d

from registry import BACKBONES

from .feature_probe import measure_features
from .pretrained import load_pretrained

__all__ = ['TorchvisionBackbone']

_NORMS = ('bn', 'frozen_bn', 'gn')
_TRACER_KWARGS = {'leaf_modules': [FrozenBatchNorm2d]}


def _frozen_bn(bn: nn.BatchNorm2d) -> FrozenBatchNorm2d:
    out = FrozenBatchNorm2d(bn.num_features, eps=bn.eps)
    if bn.affine:
        out.weight.copy_(bn.weight.detach())
        out.bias.copy_(bn.bias.detach())
    if bn.track_running_stats:
        out.running_mean.copy_(bn.running_mean)
        out.running_var.copy_(bn.running_var)
    return out


def _group_norm(bn: nn.BatchNorm2d, max_groups: int) -> nn.GroupNorm:
    c = bn.num_features
    groups = max(g for g in range(1, min(max_groups, c) + 1) if c % g == 0)
    out = nn.GroupNorm(groups, c, eps=bn.eps, affine=bn.affine)
    if bn.affine:  # keep the model's own initialisation (e.g. zero-init of residual branches)
        out.weight.data.copy_(bn.weight.detach())
        out.bias.data.copy_(bn.bias.detach())
    return out


def _replace_norms(model: nn.Module, norm: str, gn_groups: int) -> int:
    """Replace every BatchNorm2d of ``model`` in place; the number replaced."""
    targets = [(name, m) for name, m in model.named_modules() if isinstance(m, nn.BatchNorm2d)]
    for name, bn in targets:
        parent_name, _, attr = name.rpartition('.')
        parent = model.get_submodule(parent_name) if parent_name else model
        new = _frozen_bn(bn) if norm == 'frozen_bn' else _group_norm(bn, gn_groups)
        setattr(parent, attr, new)
    return len(targets)


def _unknown_node(model: nn.Module, owner: str, out_nodes: Sequence[str],
                  frozen_until: Optional[str]) -> Optional[str]:
    """The message for the first node of ``out_nodes``/``frozen_until`` that is not in ``model``'s
    graph, with the closest names; None if every one is."""
    train_nodes, eval_nodes = get_graph_node_names(model, tracer_kwargs=_TRACER_KWARGS)
    known = [n for n in train_nodes if n in set(eval_nodes)]
    for arg, node in [*(('out_nodes', n) for n in out_nodes), ('frozen_until', frozen_until)]:
        # a module path names the last node inside it (torchvision's rule)
        if node is not None and not any(n == node or n.startswith(f'{node}.') for n in known):
            modules = {n.rsplit('.', k)[0] for n in known for k in range(1, n.count('.') + 1)}
            close = difflib.get_close_matches(str(node), sorted(modules | set(known)), n=5,
                                              cutoff=0.6)
            return (f'{owner}: {arg} names {node!r}, not a node of the model\'s graph'
                    + (f'; did you mean {", ".join(map(repr, close))}?' if close else '')
                    + f' Its nodes: {", ".join(known[:12])}, ... {", ".join(known[-4:])} '
                    '(torchvision.models.feature_extraction.get_graph_node_names)')
    return None


@BACKBONES.register_module()
class TorchvisionBackbone(nn.Module):
    """The feature maps of a torchvision classification model at the graph nodes ``out_nodes``.

    Args:
        model_name: a name of ``torchvision.models.list_models(module=torchvision.models)``
            (the classification models), e.g. ``'resnet18'``, ``'mobilenet_v3_large'``,
            ``'efficientnet_b0'``, ``'regnet_y_400mf'``, ``'convnext_tiny'``.
        out_nodes: graph nodes whose outputs are returned, in this order (finest first for a
            neck); e.g. ResNet ``['layer1', 'layer2', 'layer3', 'layer4']`` (C2-C5),
            MobileNetV3-Large ``['features.6', 'features.12', 'features.16']`` (strides 8, 16,
            32). Each must give a (B, C, H, W) map.
        pretrained: local state-dict file with torchvision's keys (its ImageNet file), loaded
            with :func:`~plugins.backbones.pretrained.load_pretrained` (all or nothing; nothing is
            downloaded); None for torchvision's random initialisation.
        norm: what every ``BatchNorm2d`` of the model becomes, after it is built and before the
            weights are loaded:
            ``'bn'`` (default) stays as torchvision builds it (statistics learnt in training);
            ``'frozen_bn'`` is :class:`torchvision.ops.FrozenBatchNorm2d` (statistics and affine
            fixed, as torchvision's detection models use with pretrained weights; same keys, so
            a torchvision file loads into it);
            ``'gn'`` is :class:`torch.nn.GroupNorm` over the same channels (for training from
            scratch with small batches: Wu & He, "Group Normalization", 2018), with the largest
            number of groups not above ``gn_groups`` that divides the channels (32 for 64 or
            960 channels, 23 for 184). The replacement keeps each layer's ``eps`` and affine
            initialisation. Models without ``BatchNorm2d`` (ConvNeXt, ViT) take ``'bn'`` only.
        norm_eval: with ``norm='bn'``, keep every BatchNorm2d in eval mode (running statistics
            used, not updated) also in ``train()``, as mmdet's backbones do by default.
        gn_groups: the most groups of each GroupNorm with ``norm='gn'``.
        frozen_stages: how many of ``out_nodes`` are frozen, with everything they are computed
            from: ``k >= 1`` freezes every layer the node ``out_nodes[k - 1]`` depends on (with
            ResNet's C2-C5, ``frozen_stages=1`` is the stem and layer1, as the zoo's
            ``ResNet(frozen_stages=1)`` and torchvision's ``trainable_backbone_layers=3``);
            ``0`` or ``-1``: nothing (the default).
        frozen_until: instead of ``frozen_stages``, any graph node: every layer it depends on,
            itself included, is frozen (e.g. MobileNetV3-Large ``'features.3'``, the layers
            before stride 8). Frozen parameters get ``requires_grad=False`` and frozen layers
            stay in eval mode.
        model_kwargs: more arguments of the torchvision model's builder, e.g.
            ``dict(replace_stride_with_dilation=[False, False, True])`` for ResNet,
            ``dict(width_mult=0.5)`` for MobileNetV2. ``weights`` is not one: use ``pretrained``.

    Attributes:
        body: the traced network (a ``torch.fx.GraphModule`` named after the model's class).
        model_name, out_nodes, norm, norm_eval, frozen_until: as given (``frozen_until`` set from
            ``frozen_stages`` when that is used).
        out_channels: per output node, the channels measured by the probe forward.
        strides: per output node, input pixels per feature cell, measured.

    Shapes:
        forward: ``x`` (B, 3, H, W) -> tuple of (B, out_channels[i], ceil(H / strides[i]),
        ceil(W / strides[i])) (torchvision's padding rounds up at each stride-2 layer).

    Raises:
        ValueError: ``model_name`` not a torchvision classification model (close names are
            offered); a node of ``out_nodes`` or ``frozen_until`` not in the model's graph (close
            names offered); ``out_nodes`` empty or repeated; unknown ``norm``; ``'frozen_bn'`` or
            ``'gn'`` for a model without BatchNorm2d; both ``frozen_stages`` and ``frozen_until``,
            or ``frozen_stages`` outside [-1, len(out_nodes)]; ``weights`` in ``model_kwargs``; a
            node whose output is not a (B, C, H, W) map with a whole stride; a pretrained file
            that does not fit; at forward, ``x`` not (B, 3, H, W).
        FileNotFoundError: ``pretrained`` names no file.
    """

    def __init__(self, model_name: str, out_nodes: Sequence[str], pretrained: Optional[str] = None,
                 norm: str = 'bn', norm_eval: bool = False, gn_groups: int = 32,
                 frozen_stages: int = -1, frozen_until: Optional[str] = None,
                 model_kwargs: Optional[dict] = None):
        super().__init__()
        owner = f'TorchvisionBackbone({model_name!r})'
        names = torchvision.models.list_models(module=torchvision.models)
        if model_name not in names:
            close = difflib.get_close_matches(str(model_name), names, n=5, cutoff=0.5)
            raise ValueError(f'TorchvisionBackbone: model_name {model_name!r} is not a torchvision '
                             'classification model'
                             + (f'; did you mean {", ".join(map(repr, close))}?' if close else '')
                             + ' (all: torchvision.models.list_models(module=torchvision.models))')
        if norm not in _NORMS:
            raise ValueError(f'{owner}: norm must be one of {list(_NORMS)}, got {norm!r}')
        if not isinstance(gn_groups, int) or gn_groups < 1:
            raise ValueError(f'{owner}: gn_groups must be a positive int, got {gn_groups!r}')
        if isinstance(out_nodes, str) or not isinstance(out_nodes, Sequence) or not out_nodes:
            raise ValueError(f'{owner}: out_nodes must be a non-empty list of graph node names, '
                             f'got {out_nodes!r}')
        out_nodes = tuple(out_nodes)
        if len(set(out_nodes)) != len(out_nodes):
            raise ValueError(f'{owner}: out_nodes has repeated names: {list(out_nodes)}')
        model_kwargs = dict(model_kwargs or {})
        if 'weights' in model_kwargs:
            raise ValueError(f'{owner}: model_kwargs may not set weights (nothing is downloaded); '
                             'give a local file as pretrained')
        if frozen_until is not None and frozen_stages not in (-1, 0):
            raise ValueError(f'{owner}: give frozen_stages or frozen_until, not both '
                             f'(got {frozen_stages!r} and {frozen_until!r})')
        if (not isinstance(frozen_stages, int) or isinstance(frozen_stages, bool)
                or not -1 <= frozen_stages <= len(out_nodes)):
            raise ValueError(f'{owner}: frozen_stages must be an int in [-1, {len(out_nodes)}] '
                             f'(the number of out_nodes frozen), got {frozen_stages!r}')
        if frozen_stages > 0:
            frozen_until = out_nodes[frozen_stages - 1]

        model = torchvision.models.get_model(model_name, weights=None, **model_kwargs)
        if norm != 'bn' and _replace_norms(model, norm, gn_groups) == 0:
            raise ValueError(f'{owner}: norm={norm!r} replaces BatchNorm2d layers, and this model '
                             'has none; use norm=\'bn\' (the model\'s own norm layers)')
        try:
            self.body = create_feature_extractor(
                model, return_nodes={n: str(i) for i, n in enumerate(out_nodes)},
                tracer_kwargs=_TRACER_KWARGS)
            upto = None if frozen_until is None else create_feature_extractor(
                model, return_nodes=[frozen_until], tracer_kwargs=_TRACER_KWARGS)
        except ValueError as err:  # torchvision's for an unknown node: say which, and offer names
            message = _unknown_node(model, owner, out_nodes, frozen_until)
            if message is None:
                raise
            raise ValueError(message) from err
        self.model_name = model_name
        self.out_nodes = out_nodes
        self.norm = norm
        self.norm_eval = bool(norm_eval) and norm == 'bn'
        self.frozen_until = frozen_until
        self.out_channels, self.strides = measure_features(
            self.body, out_nodes, owner, to_maps=lambda out: [out[str(i)] for i in range(len(out_nodes))])

        if pretrained is not None:
            load_pretrained(self.body, pretrained)
        self._frozen: list[nn.Module] = []
        if upto is not None:
            frozen_ids = {id(t) for t in [*upto.parameters(), *upto.buffers()]}
            for p in self.body.parameters():
                if id(p) in frozen_ids:
                    p.requires_grad_(False)
            for m in self.body.modules():
                own = [*m.parameters(recurse=False), *m.buffers(recurse=False)]
                if own and all(id(t) in frozen_ids for t in own):
                    self._frozen.append(m)
        self.train()

    def train(self, mode: bool = True) -> 'TorchvisionBackbone':
        """Set train/eval mode; frozen layers (and, with ``norm_eval``, every BN) stay in eval."""
        super().train(mode)
        if mode:
            for m in self._frozen:
                m.eval()
            if self.norm_eval:
                for m in self.modules():
                    if isinstance(m, nn.modules.batchnorm._BatchNorm):
                        m.eval()
        return self

    def forward(self, x: Tensor) -> tuple[Tensor, ...]:
        if x.dim() != 4 or x.shape[1] != 3:
            raise ValueError(f'TorchvisionBackbone({self.model_name!r}) expects images of shape '
                             f'(B, 3, H, W), got {tuple(x.shape)}')
        out = self.body(x)
        return tuple(out[str(i)] for i in range(len(self.out_nodes)))
