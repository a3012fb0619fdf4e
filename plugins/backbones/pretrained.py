"""Loading ImageNet (or any) weights into a backbone from a local state-dict file.

Every backbone takes ``pretrained: str | None``: the path of a file written by ``torch.save`` that
holds a state dict, e.g. torchvision's ImageNet files ``vgg16-397923af.pth`` or
``resnet50-0676ba61.pth``. Nothing is ever downloaded. The file is read with
``torch.load(path, map_location='cpu', weights_only=True)`` (never ``weights_only=False``: a pickle
from somewhere else can run code), so it must contain tensors and plain containers only.

Accepted layouts of the file:

* a state dict: ``{'conv1.weight': Tensor, ...}``;
* a checkpoint with the state dict under ``'state_dict'`` (mmengine, mmdet) or ``'model'``
  (torchvision's reference scripts, detectron2-style); other entries (``meta``, ``optimizer``)
  are ignored;
* keys prefixed by ``module.`` (saved from a ``DistributedDataParallel`` wrapper) on every key.

Rules, the same for every backbone:

* every parameter and buffer of the backbone must be in the file with the same shape, except
  BatchNorm's ``num_batches_tracked`` counters (torchvision's files omit them);
* entries of the file the backbone does not have (an ImageNet classifier: VGG's ``classifier.*``,
  ResNet's ``fc.*``) are ignored and reported in the log;
* otherwise nothing is loaded and a :class:`ValueError` lists the missing keys and the keys whose
  shapes do not fit.
"""
from __future__ import annotations

import os
import pickle
from collections.abc import Mapping
from typing import Union

import torch
from mmengine.logging import print_log
from torch import nn

from registry import current_key_path

__all__ = ['load_pretrained', 'read_state_dict']

_MAX_LISTED = 30  # keys listed per category in an error message


def _where(arg: str) -> str:
    """``model.backbone.pretrained`` while the config is being built, else ``pretrained``."""
    path = current_key_path()
    return f'{path}.{arg}' if path else arg


def _listing(keys: list[str]) -> str:
    shown = ', '.join(keys[:_MAX_LISTED])
    more = len(keys) - _MAX_LISTED
    return shown + (f', ... and {more} more' if more > 0 else '')


def read_state_dict(path: Union[str, os.PathLike], arg: str = 'pretrained') -> dict[str, torch.Tensor]:
    """Read the state dict stored in ``path`` (CPU tensors), unwrapping checkpoint containers.

    Args:
        path: local file written by ``torch.save``.
        arg: the name of the argument that held ``path``, for messages (the config key path of
            the part being built is prepended, e.g. ``model.backbone.pretrained``).

    Returns:
        ``{key: Tensor}``, with a ``module.`` prefix common to all keys removed.

    Raises:
        ValueError: ``path`` is not a string or path; the file cannot be read by
            ``torch.load(weights_only=True)`` (not a PyTorch file, or a pickle of arbitrary
            objects); or it holds no mapping of names to tensors.
        FileNotFoundError: no file at ``path``.
    """
    where = _where(arg)
    if not isinstance(path, (str, os.PathLike)):
        raise ValueError(f'{where} must be the path of a local state-dict file (a string) or None, '
                         f'got {type(path).__name__} {path!r}')
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f'{where} = {path!r}: no such file (pretrained weights are read from '
                                'a local file; nothing is downloaded)')
    try:
        obj = torch.load(path, map_location='cpu', weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError, AttributeError,
            ValueError, TypeError) as err:
        raise ValueError(f'{where} = {path!r} is not a PyTorch state-dict file readable with '
                         f'torch.load(weights_only=True): {type(err).__name__}: {err}') from err
    for container in ('state_dict', 'model'):
        if isinstance(obj, Mapping) and isinstance(obj.get(container), Mapping):
            obj = obj[container]
            break
    if not isinstance(obj, Mapping) or not obj:
        raise ValueError(f'{where} = {path!r} holds {type(obj).__name__}'
                         f'{" (empty)" if isinstance(obj, Mapping) else ""}, not a state dict '
                         '(a mapping of parameter names to tensors, possibly under "state_dict" '
                         'or "model")')
    not_tensors = [str(k) for k, v in obj.items() if not isinstance(k, str)
                   or not isinstance(v, torch.Tensor)]
    if not_tensors:
        raise ValueError(f'{where} = {path!r} is not a state dict: entries that are not '
                         f'name -> tensor: {_listing(not_tensors)}')
    state = dict(obj)
    if all(k.startswith('module.') for k in state):
        state = {k[len('module.'):]: v for k, v in state.items()}
    return state


def load_pretrained(module: nn.Module, path: Union[str, os.PathLike],
                    arg: str = 'pretrained') -> list[str]:
    """Load the state dict in ``path`` into ``module``; all or nothing.

    Args:
        module: the backbone; its ``state_dict()`` keys are what the file must provide.
        path: local state-dict file (see the module docstring for accepted layouts).
        arg: the argument name that held ``path``, for messages.

    Returns:
        The keys of the file that ``module`` does not have (ignored; also logged through
        mmengine's current logger).

    Raises:
        FileNotFoundError: no file at ``path``; the message names the path and the config key.
        ValueError: the file is not a state dict (see :func:`read_state_dict`), or parameters
            or buffers of ``module`` are missing from it, or have other shapes there; the message
            lists the missing keys and ``key: file shape vs. expected shape`` for each mismatch.
            Nothing is loaded in that case.
    """
    where = _where(arg)
    state = read_state_dict(path, arg)
    own = module.state_dict()
    missing = [k for k in own if k not in state and not k.endswith('num_batches_tracked')]
    mismatched = [f'{k}: {tuple(state[k].shape)} in the file vs. {tuple(v.shape)} expected'
                  for k, v in own.items() if k in state and state[k].shape != v.shape]
    if missing or mismatched:
        parts = []
        if missing:
            parts.append(f'{len(missing)} missing keys: {_listing(missing)}')
        if mismatched:
            parts.append(f'{len(mismatched)} keys with other shapes: {_listing(mismatched)}')
        raise ValueError(f'{where} = {os.fspath(path)!r} does not fit {type(module).__name__}: '
                         + '; '.join(parts) + f'. The file has {len(state)} entries, e.g. '
                         f'{_listing(sorted(state)[:5])}.')
    result = module.load_state_dict(state, strict=False)
    ignored = list(result.unexpected_keys)
    print_log(f'{where}: loaded {len(own)} tensors of {type(module).__name__} from {os.fspath(path)}'
              + (f'; ignored {len(ignored)} entries it does not have: {_listing(ignored)}'
                 if ignored else ''), logger='current')
    return ignored
