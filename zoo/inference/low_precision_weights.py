"""Inference weights cast once to autocast's dtype, instead of on every call.

Under ``torch.autocast`` every convolution and linear layer casts its float32 weight and bias to
bfloat16 (CPU) or float16 (CUDA) on each call. Inference turns autocast's weight-cast cache off
(:func:`zoo.runner.precision.autocast`: the cache would keep a second copy of the whole network
alive until the forward pass ends), so these casts are redone for every image: for the ZF
recipe about a tenth of its bfloat16 inference time at batch 1 (the 1024 x 9216 ``fc6`` weight
alone is 9.4 M values, read in float32 and written in bfloat16 per image).

A model used only for inference (:class:`zoo.Detector`, ``zoo infer``) can instead keep those
weights in the low precision: :func:`cast_autocast_weights` records, during one forward pass
under autocast, which layers ran with autocast on, and then replaces their weight and bias by
the low-precision values autocast computed from them. Those are the exact values the layer used
before, so every later forward pass gives bit for bit the same outputs as casting per call,
without the casts, and the model holds half the bytes for those weights (mmdet's
``wrap_fp16_model`` and Ultralytics' ``half=True`` convert whole models; here only what autocast
would cast anyway changes, so the float32 regions of :func:`zoo.api.force_fp32` stay float32).

A layer is cast only when it is an ``nn.Conv1d/2d/3d`` or ``nn.Linear`` (exactly: a subclass
may use its weight differently), ran under autocast in the recorded pass, and never ran outside
it (a layer called in a float32 region keeps float32 weights). A layer whose forward did not
run is left alone: its weight may be read directly by other code (the frozen batch-norm
folding of the ResNet backbone reads its convolutions' weights to fold them, in float32).
"""
from __future__ import annotations

import contextlib
from typing import Iterator

import torch
from torch import nn

__all__ = ['LAYER_TYPES', 'cast_autocast_weights']

#: the layer types whose weights are cast (autocast runs them in low precision)
LAYER_TYPES = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear)
_DEVICE_TYPES = ('cpu', 'cuda')


def _autocast_dtype(device_type: str):
    """autocast's dtype for ``device_type`` when autocast is on there, else None."""
    if device_type in _DEVICE_TYPES and torch.is_autocast_enabled(device_type):
        return torch.get_autocast_dtype(device_type)
    return None


@contextlib.contextmanager
def cast_autocast_weights(model: nn.Module) -> Iterator[dict]:
    """Record the layers that run under autocast inside the block; on leaving it without an
    error, cast their float32 weight and bias to the dtype they ran in, in place.

    Use it around one inference call under autocast, then run the model as before::

        with torch.no_grad(), autocast('cpu', cache_enabled=False):
            with cast_autocast_weights(model) as report:
                model(**batch, mode='predict')
        report['cast']  # names of the layers now holding bfloat16 weights

    Args:
        model: the model, used for inference only from now on: the cast parameters no longer
            require gradients, and its state dict holds them in the low precision.

    Yields:
        a dict filled when the block ends: ``cast`` (the layers' qualified names, in model
        order), ``dtype`` (the low precision, or None when no layer ran under autocast) and
        ``kept`` (layers that ran outside autocast at least once: float32, left as they are).

    Raises:
        ValueError: layers ran under autocast in two different low-precision dtypes.
        Exceptions from the block pass through; nothing is cast then.
    """
    low: dict[str, torch.dtype] = {}
    full: set[str] = set()
    layers = {name: m for name, m in model.named_modules() if type(m) in LAYER_TYPES}

    def recorder(name: str):
        def hook(module: nn.Module, args) -> None:
            x = args[0] if args and isinstance(args[0], torch.Tensor) else module.weight
            dtype = _autocast_dtype(x.device.type)
            if dtype is None:
                full.add(name)
            else:
                low[name] = dtype
        return hook

    handles = [m.register_forward_pre_hook(recorder(name)) for name, m in layers.items()]
    report: dict = dict(cast=[], dtype=None, kept=[])
    try:
        yield report
    finally:
        for h in handles:
            h.remove()
    dtypes = set(low.values())
    if len(dtypes) > 1:
        raise ValueError(f'layers ran under autocast in several dtypes {sorted(map(str, dtypes))}; '
                         'cast_autocast_weights needs one forward pass in one precision')
    report['dtype'] = dtypes.pop() if dtypes else None
    report['kept'] = [n for n in layers if n in full]
    with torch.no_grad():
        for name, module in layers.items():
            if name not in low or name in full:
                continue
            for pname in ('weight', 'bias'):
                p = getattr(module, pname, None)
                if isinstance(p, torch.Tensor) and p.dtype == torch.float32:
                    setattr(module, pname, nn.Parameter(p.detach().to(low[name]), requires_grad=False))
            report['cast'].append(name)
