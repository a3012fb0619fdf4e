"""``AutocastOptimWrapper``: mixed-precision training on the CPU and on CUDA alike.

mmengine 0.10's ``AmpOptimWrapper`` refuses to be built without a GPU (an assertion), although
``torch.autocast`` runs on the CPU in bfloat16. This wrapper is ``AmpOptimWrapper`` where CUDA
is available (float16 autocast, dynamic loss scaling with ``GradScaler``: its ``loss_scale``,
``dtype`` and ``use_fsdp`` arguments and its checkpoint state as they are), and on the CPU
mmengine's plain ``OptimWrapper`` with the forward pass under
``torch.autocast('cpu', dtype=torch.bfloat16)``: bfloat16 has float32's exponent range, so
gradients do not underflow and need no loss scaling (PyTorch's AMP recipe for bfloat16).

Registered in mmengine's ``OPTIM_WRAPPERS``; ``--amp`` and ``amp = True`` select it
(:func:`zoo.runner.precision.apply_amp`).
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Optional, Union

import torch
from mmengine.optim import AmpOptimWrapper, OptimWrapper
from mmengine.registry import OPTIM_WRAPPERS
from torch import nn

from registry import ConfigError

from .precision import autocast_dtype

__all__ = ['AutocastOptimWrapper']


@OPTIM_WRAPPERS.register_module()
class AutocastOptimWrapper(AmpOptimWrapper):
    """Mixed precision: float16 with loss scaling on CUDA, bfloat16 without on the CPU.

    Args:
        loss_scale: CUDA only: ``'dynamic'`` (default), a float (static) or a dict of
            ``GradScaler`` arguments, as ``AmpOptimWrapper``. Ignored on the CPU.
        dtype: the autocast dtype; default float16 on CUDA, bfloat16 on the CPU (the only one
            accepted there).
        device: ``'cuda'`` or ``'cpu'``; default ``'cuda'`` when a GPU is visible.
        **kwargs: ``OptimWrapper``'s (``optimizer``, ``accumulative_counts``, ``clip_grad``).

    Raises:
        ConfigError: ``device`` not 'cpu'/'cuda', ``device='cuda'`` without a GPU, or a
            ``dtype`` other than bfloat16 on the CPU.
    """

    def __init__(self, loss_scale: Union[str, float, dict] = 'dynamic',
                 dtype: Union[str, torch.dtype, None] = None, use_fsdp: bool = False,
                 device: Optional[str] = None, **kwargs):
        if device is None:
            device = 'cuda' if torch.cuda.is_available() else 'cpu'
        if device not in ('cpu', 'cuda'):
            raise ConfigError(f"optim_wrapper.device: expected 'cpu' or 'cuda', got {device!r}")
        if device == 'cuda' and not torch.cuda.is_available():
            raise ConfigError("optim_wrapper.device = 'cuda' but no CUDA GPU is visible")
        self.device_type = device
        if device == 'cuda':
            super().__init__(loss_scale=loss_scale, dtype=dtype or autocast_dtype('cuda'),
                             use_fsdp=use_fsdp, **kwargs)
            return
        if isinstance(dtype, str):
            dtype = getattr(torch, dtype, dtype)
        if dtype not in (None, torch.bfloat16):
            raise ConfigError(f'optim_wrapper.dtype = {dtype!r}: on the CPU mixed precision is '
                              'bfloat16 (float16 would need loss scaling and has no fast CPU kernels)')
        OptimWrapper.__init__(self, **kwargs)  # not AmpOptimWrapper's: it asserts a GPU
        self._scale_update_param = None
        self.loss_scaler = None
        self.cast_dtype = autocast_dtype('cpu')

    def backward(self, loss: torch.Tensor, **kwargs) -> None:
        if self.loss_scaler is None:
            OptimWrapper.backward(self, loss, **kwargs)
        else:
            super().backward(loss, **kwargs)

    def step(self, **kwargs) -> None:
        if self.loss_scaler is None:
            OptimWrapper.step(self, **kwargs)
        else:
            super().step(**kwargs)

    def state_dict(self) -> dict:
        if self.loss_scaler is None:
            return OptimWrapper.state_dict(self)
        return super().state_dict()

    def load_state_dict(self, state_dict: dict) -> None:
        if self.loss_scaler is None:
            # a checkpoint of a CUDA float16 run resumed on the CPU: its scale has no use here
            state_dict = {k: v for k, v in state_dict.items() if k != 'loss_scaler'}
            if 'base_param_settings' in state_dict:
                self.base_param_settings = state_dict.pop('base_param_settings')
            OptimWrapper.load_state_dict(self, state_dict)
        else:
            super().load_state_dict(state_dict)

    @contextmanager
    def optim_context(self, model: nn.Module):
        """``OptimWrapper``'s context (gradient accumulation) plus autocast on the device."""
        with OptimWrapper.optim_context(self, model), torch.autocast(
                device_type=self.device_type, dtype=self.cast_dtype):
            yield
