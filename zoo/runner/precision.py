"""Mixed precision for a device: the autocast dtype and context, and ``amp`` in a config.

``--amp`` (``zoo train``, ``zoo test``) and ``amp = True`` at the top level of a config mean
the same: autocast in bfloat16 on the CPU (no loss scaling: bfloat16 has float32's exponent
range) and in float16 on CUDA with dynamic loss scaling (mmengine's ``AmpOptimWrapper``),
training through :class:`~zoo.runner.amp_optim_wrapper.AutocastOptimWrapper` and validating
and testing under autocast (mmengine's loops' ``fp16`` switch). What runs in float32 inside
the autocast region is decided by the parts (:func:`zoo.api.force_fp32`), so a config does
not change between precisions.
"""
from __future__ import annotations

import torch
from mmengine.config import Config

from registry import ConfigError

__all__ = ['autocast', 'autocast_dtype', 'apply_amp', 'AMP_WRAPPER']

#: the optimizer wrapper ``amp`` selects (registered by zoo.runner.amp_optim_wrapper)
AMP_WRAPPER = 'AutocastOptimWrapper'
_PLAIN_WRAPPERS = ('OptimWrapper', 'mmengine.OptimWrapper', 'AmpOptimWrapper', AMP_WRAPPER)


def autocast_dtype(device_type: str) -> torch.dtype:
    """bfloat16 for ``'cpu'`` (AVX-512 BF16 / AMX units; float16 has no fast CPU path),
    float16 for ``'cuda'`` (tensor cores, with loss scaling in training).

    Raises:
        ValueError: another device type.
    """
    if device_type == 'cpu':
        return torch.bfloat16
    if device_type == 'cuda':
        return torch.float16
    raise ValueError(f"mixed precision: device type must be 'cpu' or 'cuda', got {device_type!r}")


def autocast(device_type: str, enabled: bool = True, cache_enabled: bool = True) -> torch.autocast:
    """``torch.autocast(device_type, dtype=autocast_dtype(device_type), enabled=enabled,
    cache_enabled=cache_enabled)``: the mixed-precision region the zoo uses for training,
    testing and inference.

    ``cache_enabled=False`` for inference: autocast otherwise keeps the low-precision copy of
    every weight it casts (leaf tensors that require grad) until the region ends, so a forward
    pass holds a second, half-size copy of the whole network at its end (about 270 MB for
    VGG16). Each weight is used once per forward, so not caching costs no time; in training
    the cache saves casting each weight again for the backward pass."""
    return torch.autocast(device_type=device_type, dtype=autocast_dtype(device_type),
                          enabled=enabled, cache_enabled=cache_enabled)


def apply_amp(cfg: Config, flag: bool = False) -> bool:
    """Turn mixed precision on in ``cfg`` when ``flag`` (``--amp``) or ``cfg.amp`` is true.

    Sets ``optim_wrapper.type`` to :data:`AMP_WRAPPER` (when there is an optimizer wrapper)
    and ``fp16=True`` in ``val_cfg`` and ``test_cfg`` (mmengine's loops then run under autocast:
    bfloat16 on the CPU, float16 on CUDA); ``cfg.amp`` is left True.

    Returns:
        whether mixed precision is on.

    Raises:
        ConfigError: ``amp`` is not a bool, or ``optim_wrapper.type`` is a wrapper other than
            mmengine's ``OptimWrapper``/``AmpOptimWrapper`` (a dict of wrappers, or a custom
            one, is not converted silently).
    """
    value = cfg.get('amp', False)
    if not isinstance(value, bool):
        raise ConfigError(f'amp: expected True or False, got {value!r}')
    if not (flag or value):
        return False
    cfg.amp = True
    wrapper = cfg.get('optim_wrapper')
    if wrapper is not None:
        kind = wrapper.get('type', 'OptimWrapper')
        if kind not in _PLAIN_WRAPPERS:
            raise ConfigError(f'amp: optim_wrapper.type = {kind!r}; mixed precision replaces '
                              f'OptimWrapper or AmpOptimWrapper by {AMP_WRAPPER}, not other wrappers')
        wrapper.type = AMP_WRAPPER
    for key in ('val_cfg', 'test_cfg'):
        if cfg.get(key) is not None:
            cfg[key]['fp16'] = True
    return True
