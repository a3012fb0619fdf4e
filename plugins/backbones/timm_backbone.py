"""Any timm model as a backbone: ``timm.create_model(..., features_only=True)``.

timm (PyTorch Image Models, Ross Wightman) builds the feature-extraction form of most of its
models itself: ``features_only=True`` returns the outputs of the stages ``out_indices`` and
describes them in ``feature_info`` (channels and ``reduction``, the stride). This part takes
those, checks them against one probe forward (:mod:`plugins.backbones.feature_probe`) and
refuses a model whose real outputs differ from what timm declares.

timm is an optional dependency (``pip install 'detection-zoo[timm]'``): this module imports
without it, and only building a ``TimmBackbone`` needs it.

Weights: nothing is downloaded (timm gets the weights themselves, never a name or address). A
local file in timm's own format (the state dict of ``timm.create_model(model_name)``, i.e. what
timm's ``pytorch_model.bin`` / ``.pth`` files hold, classifier included) is read with the zoo's safe
loader (:func:`~plugins.backbones.pretrained.load_pretrained`: ``torch.load(weights_only=True)``,
every key checked, all or nothing) into the full classification model first, then handed to timm
as the weights of the feature model (``pretrained_cfg_overlay=dict(state_dict=...)``).
State-dict keys of this part are ``body.<key of timm's feature model>``; timm renames some of the
classification model's (a flattened ``stages.0`` becomes ``stages_0``), which is why a file is
always read through the classification model.
"""
from __future__ import annotations

import difflib
import importlib
from typing import Optional, Sequence

from torch import Tensor, nn

from registry import BACKBONES

from .feature_probe import measure_features
from .pretrained import load_pretrained

__all__ = ['TimmBackbone']

_INSTALL = "pip install 'detection-zoo[timm]' (or: pip install timm)"


def _import_timm():
    try:
        return importlib.import_module('timm')
    except ImportError as err:
        raise ImportError(f'TimmBackbone needs the optional package timm, which is not installed: '
                          f'{_INSTALL}') from err


@BACKBONES.register_module()
class TimmBackbone(nn.Module):
    """The stage outputs of a timm model, as timm's ``features_only`` form gives them.

    Args:
        model_name: a timm model name (``timm.list_models()``), e.g. ``'resnet18'``,
            ``'efficientnet_b0'``, ``'mobilenetv3_large_100'``, ``'regnety_004'``,
            ``'convnext_atto'``; a pretrained tag (``'resnet50.a1_in1k'``) is allowed and only
            selects timm's configuration (nothing is downloaded).
        out_indices: the feature levels to return, indices into timm's ``feature_info`` of the
            model (most CNNs: 0 = stride 2 ... 4 = stride 32); default (1, 2, 3, 4), strides 4-32
            for most models.
        pretrained: local state-dict file in timm's format (see the module docstring), or None
            for timm's random initialisation.
        model_kwargs: more arguments of ``timm.create_model`` (e.g. ``drop_path_rate=0.1``,
            ``output_stride=16``); ``pretrained``, ``features_only`` and ``out_indices`` are set
            by this part.

    Attributes:
        body: timm's feature model (``FeatureListNet`` or another of timm's feature wrappers).
        model_name, out_indices: as given.
        out_channels: per returned level, timm's ``feature_info.channels()``, equal to the
            measured channels.
        strides: per returned level, timm's ``feature_info.reduction()``, equal to the measured
            strides.

    Shapes:
        forward: ``x`` (B, 3, H, W) -> tuple of (B, out_channels[i], ~H / strides[i],
        ~W / strides[i]).

    Raises:
        ImportError: timm is not installed (the message names the extra to install).
        ValueError: ``model_name`` not a timm model (close names offered); ``out_indices`` empty
            or not ints; a key of ``model_kwargs`` this part sets; timm's error for an index out
            of range or a model without a features form; the measured channels or strides differ
            from ``feature_info``'s (the message gives both); a pretrained file that does not fit
            the model; at forward, ``x`` not (B, 3, H, W).
        FileNotFoundError: ``pretrained`` names no file.
    """

    def __init__(self, model_name: str, out_indices: Sequence[int] = (1, 2, 3, 4),
                 pretrained: Optional[str] = None, model_kwargs: Optional[dict] = None):
        super().__init__()
        timm = _import_timm()
        owner = f'TimmBackbone({model_name!r})'
        if not isinstance(model_name, str) or not timm.is_model(model_name):
            close = difflib.get_close_matches(str(model_name), timm.list_models(), n=5, cutoff=0.6)
            raise ValueError(f'TimmBackbone: model_name {model_name!r} is not a timm model'
                             + (f'; did you mean {", ".join(map(repr, close))}?' if close else '')
                             + ' (all: timm.list_models())')
        if (isinstance(out_indices, (str, bytes)) or not isinstance(out_indices, Sequence)
                or not out_indices
                or any(not isinstance(i, int) or isinstance(i, bool) for i in out_indices)):
            raise ValueError(f'{owner}: out_indices must be a non-empty list of ints (indices of '
                             f'timm\'s feature_info levels), got {out_indices!r}')
        out_indices = tuple(out_indices)
        model_kwargs = dict(model_kwargs or {})
        clash = sorted({'pretrained', 'features_only', 'out_indices', 'pretrained_cfg_overlay'}
                       & set(model_kwargs))
        if clash:
            raise ValueError(f'{owner}: model_kwargs may not set {clash}; they are set by '
                             'TimmBackbone (use its pretrained and out_indices arguments)')

        overlay = {}
        if pretrained is not None:
            full = timm.create_model(model_name, pretrained=False, **model_kwargs)
            load_pretrained(full, pretrained)
            overlay = dict(pretrained_cfg_overlay=dict(state_dict=full.state_dict()))
            del full
        try:
            self.body = timm.create_model(model_name, pretrained=pretrained is not None,
                                          features_only=True, out_indices=out_indices,
                                          **overlay, **model_kwargs)
        except (IndexError, AssertionError, RuntimeError) as err:
            # timm's own errors for out_indices out of range / no features form
            raise ValueError(f'{owner}: timm cannot build its features_only form with '
                             f'out_indices={list(out_indices)}: {type(err).__name__}: {err}') from err
        self.model_name = model_name
        self.out_indices = out_indices
        info = self.body.feature_info
        declared_channels = tuple(int(c) for c in info.channels())
        declared_strides = tuple(int(r) for r in info.reduction())
        names = [f'out_indices[{k}] = {i} ({m})' for k, (i, m) in
                 enumerate(zip(out_indices, info.module_name(), strict=True))]
        channels, strides = measure_features(self.body, names, owner)
        if (channels, strides) != (declared_channels, declared_strides):
            raise ValueError(f'{owner}: timm\'s feature_info declares channels '
                             f'{list(declared_channels)} at strides {list(declared_strides)}, the '
                             f'model produces channels {list(channels)} at strides {list(strides)} '
                             f'(measured on a probe image)')
        self.out_channels = channels
        self.strides = strides

    def forward(self, x: Tensor) -> tuple[Tensor, ...]:
        if x.dim() != 4 or x.shape[1] != 3:
            raise ValueError(f'TimmBackbone({self.model_name!r}) expects images of shape '
                             f'(B, 3, H, W), got {tuple(x.shape)}')
        return tuple(self.body(x))
