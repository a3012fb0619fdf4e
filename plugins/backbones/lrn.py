"""Caffe's local response normalization (LRN), both of its normalization regions.

Caffe's ``LRN`` layer (``src/caffe/layers/lrn_layer.cpp``; reference in
``src/caffe/test/test_lrn_layer.cpp``, ``ReferenceLRNForward``) computes, with ``n = local_size``
and ``k = 1``:

* ``norm_region: ACROSS_CHANNELS`` (Caffe's default; AlexNet):
  ``y = x / (k + alpha / n * sum_{c' in window(c)} x_{c'}^2) ** beta``, the window being the
  ``n`` channels centred on ``c`` (clipped at the ends; the division is always by ``n``).
  This is exactly :class:`torch.nn.LocalResponseNorm(n, alpha, beta, k)`, which also divides
  ``alpha`` by ``n`` (it averages the zero-padded squares over the window).
* ``norm_region: WITHIN_CHANNEL`` (py-faster-rcnn's ZF net):
  ``y = x / (1 + alpha / n**2 * sum_{(h', w') in n x n window} x_{h'w'}^2) ** beta``, the window
  being the ``n x n`` spatial neighbourhood in the same channel, zero-padded by ``(n - 1) / 2``
  (Caffe builds it from an AVE pooling layer with that padding, whose divisor counts the padding,
  so the division is always by ``n**2``). Caffe's WITHIN_CHANNEL ignores ``k`` (shift fixed to 1).

py-faster-rcnn's ZF prototxts (``models/pascal_voc/ZF/*/train.prototxt``, layers ``norm1`` and
``norm2``) use ``local_size: 3, alpha: 0.00005, beta: 0.75, norm_region: WITHIN_CHANNEL``.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ['CaffeLRN']

_REGIONS = ('within_channel', 'across_channels')


class CaffeLRN(nn.Module):
    """Caffe's LRN layer (no parameters).

    Args:
        local_size: odd window size ``n`` (Caffe refuses even sizes).
        alpha: Caffe's ``alpha`` (divided by ``n`` or ``n**2`` as in Caffe; see the module doc).
        beta: exponent.
        k: Caffe's ``k`` (ACROSS_CHANNELS only; WITHIN_CHANNEL always uses 1, as Caffe does).
        norm_region: ``'within_channel'`` or ``'across_channels'``.

    Shapes:
        forward: (B, C, H, W) -> (B, C, H, W), same dtype. Half and bfloat16 inputs are
        normalized in float32 (the squares of activations above 256 overflow float16).

    Raises:
        ValueError: ``local_size`` not a positive odd int, ``norm_region`` unknown, or an input
            that is not 4-D.
    """

    def __init__(self, local_size: int, alpha: float, beta: float, k: float = 1.0,
                 norm_region: str = 'within_channel'):
        super().__init__()
        if not isinstance(local_size, int) or local_size < 1 or local_size % 2 == 0:
            raise ValueError(f'CaffeLRN: local_size must be a positive odd int (as in Caffe), '
                             f'got {local_size!r}')
        if norm_region not in _REGIONS:
            raise ValueError(f'CaffeLRN: norm_region must be one of {_REGIONS}, got {norm_region!r}')
        self.local_size = local_size
        self.alpha = float(alpha)
        self.beta = float(beta)
        self.k = float(k)
        self.norm_region = norm_region

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() != 4:
            raise ValueError(f'CaffeLRN expects a (B, C, H, W) tensor, got shape {tuple(x.shape)}')
        dtype = x.dtype
        if dtype in (torch.float16, torch.bfloat16):
            x = x.float()
        if self.norm_region == 'across_channels':
            out = F.local_response_norm(x, self.local_size, self.alpha, self.beta, self.k)
        else:
            n = self.local_size
            mean_sq = F.avg_pool2d(x * x, n, stride=1, padding=(n - 1) // 2,
                                   count_include_pad=True)
            out = x * (1.0 + self.alpha * mean_sq).pow(-self.beta)
        return out.to(dtype)

    def extra_repr(self) -> str:
        return (f'local_size={self.local_size}, alpha={self.alpha}, beta={self.beta}, '
                f'k={self.k}, norm_region={self.norm_region!r}')
