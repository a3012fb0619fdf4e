"""Float32 regions inside mixed precision: :func:`force_fp32`.

Under ``torch.autocast`` (``zoo train --amp``: bfloat16 on the CPU, float16 on CUDA) the
convolutions and matrix products of a detector run in low precision, which is where the time
goes. Some of its operations must not:

* they have no low-precision CPU kernel: torchvision's ``roi_pool`` and ``roi_align`` fail on
  bfloat16 (``roi_pool_forward_kernel not implemented for 'BFloat16'``);
* they need the precision: box coding (``exp`` of deltas, pixel coordinates up to thousands,
  where bfloat16 keeps 8 bits of mantissa: steps of 4-8 pixels at 1000), IoU for matching and
  NMS, losses and their sums, softmax scores for ranking.

The parts that do these (RoI layers, box coders, losses, the heads' ``loss_by_feat`` /
``predict_by_feat``) are decorated with :func:`force_fp32`. It is mmcv's ``force_fp32``
(mmcv 1.x, ``mmcv/runner/fp16_utils.py``) made for ``torch.autocast``: inside an autocast
region the decorated function runs with autocast off and its low-precision floating-point
tensor arguments cast to float32; outside any autocast region it is a plain call (no cast, no
copy), so float32 training is untouched bit for bit. Its results are float32, and the layers
after it autocast again. A third-party part uses it the same way.
"""
from __future__ import annotations

import contextlib
import functools
from typing import Any, Callable

import torch

__all__ = ['force_fp32']

#: device types whose autocast state is checked (torch's autocast is per device type)
_DEVICE_TYPES = ('cpu', 'cuda')
_LOW = (torch.float16, torch.bfloat16)


def _to_float32(value: Any) -> Any:
    """``value`` with every float16/bfloat16 tensor in it cast to float32 (tensors, and lists,
    tuples and dicts of them, recursively; anything else as it is)."""
    if isinstance(value, torch.Tensor):
        return value.float() if value.dtype in _LOW else value
    if isinstance(value, (list, tuple)):
        cast = [_to_float32(v) for v in value]
        if isinstance(value, tuple) and hasattr(value, '_fields'):  # a namedtuple
            return type(value)(*cast)
        return type(value)(cast)
    if isinstance(value, dict):
        return type(value)((k, _to_float32(v)) for k, v in value.items())
    return value


def force_fp32(fn: Callable) -> Callable:
    """Decorator: run ``fn`` in float32 when called inside a ``torch.autocast`` region.

    Inside autocast (any of the CPU and CUDA device types enabled): autocast is disabled for
    the call and every float16/bfloat16 tensor among the arguments (also inside lists, tuples
    and dicts) is cast to float32 first. Outside autocast: ``fn`` is called as it is.

    Example::

        class MyRoILayer(nn.Module):
            @force_fp32
            def forward(self, feat, rois):  # (B, C, H, W), (K, 5): float32 here
                ...
    """
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        active = [d for d in _DEVICE_TYPES if torch.is_autocast_enabled(d)]
        if not active:
            return fn(*args, **kwargs)
        with contextlib.ExitStack() as stack:
            for device_type in active:
                stack.enter_context(torch.autocast(device_type=device_type, enabled=False))
            return fn(*_to_float32(args), **_to_float32(kwargs))
    return wrapper
