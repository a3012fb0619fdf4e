"""Frozen batch norm folded into the convolution before it: one pass over the activations less.

A :class:`~torchvision.ops.FrozenBatchNorm2d` after a convolution computes, per output
channel c, ``y_c = conv(x)_c * s_c + (beta_c - mean_c * s_c)`` with
``s_c = gamma_c / sqrt(var_c + eps)`` (torchvision's own formula). The same numbers come from
one convolution whose weights are scaled, ``W'_c = W_c * s_c``, and whose bias is
``b'_c = beta_c - mean_c * s_c (+ b_c * s_c)``, so the separate multiply-add over the whole
activation map (forward and backward) disappears. On the CPU that pass is about a third of
ResNet-50's time (see docs/performance.md). The results differ from the unfolded network by
floating-point rounding only (about 1e-6 relative).

The state dict does not change: the convolution and batch-norm modules keep their parameters
and buffers, and the folded weights are computed from them,

* every call while gradients flow into the convolution (training of a trainable stage), by
  :class:`ScaledWeightConv2d`: the convolution's weight gets exactly the gradient the
  unfolded network gives it, and the folded weights are recomputed in the backward pass
  rather than kept from the forward one (they would otherwise stay alive until backward: the
  size of every trainable weight once more, about 90 MB for R50-FPN's three trainable stages);
* once, then reused, otherwise (inference, frozen stages), until a parameter or buffer changes
  in place (an optimizer step, ``load_state_dict``) or moves (``.to``), which the cache detects
  from the tensors' version counters and storage.

Source: the folding is the standard inference-time fusion (e.g. ``torch.fx`` experimental
``fuse``, ``torch.ao.nn.intrinsic``); doing it on the fly in training is possible only because
the statistics and the affine transform are frozen.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchvision.ops import FrozenBatchNorm2d

__all__ = ['ScaledWeightConv2d', 'conv_frozen_bn', 'forward_block']


def _key(conv: nn.Conv2d, bn: FrozenBatchNorm2d) -> tuple:
    tensors = [conv.weight, bn.weight, bn.bias, bn.running_mean, bn.running_var]
    if conv.bias is not None:
        tensors.append(conv.bias)
    return tuple((t._version, t.data_ptr(), t.dtype, t.device) for t in tensors)


def folded_weight_bias(conv: nn.Conv2d, bn: FrozenBatchNorm2d) -> tuple[Tensor, Tensor]:
    """``(W', b')`` of the module docstring: (C_out, C_in / groups, kh, kw) and (C_out,)."""
    scale, bias = _scale_bias(conv, bn)
    return conv.weight * scale.reshape(-1, 1, 1, 1), bias


def _scale_bias(conv: nn.Conv2d, bn: FrozenBatchNorm2d) -> tuple[Tensor, Tensor]:
    """``s`` and ``b'`` of the module docstring, both (C_out,)."""
    scale = bn.weight * (bn.running_var + bn.eps).rsqrt()
    bias = bn.bias - bn.running_mean * scale
    if conv.bias is not None:
        bias = bias + conv.bias * scale
    return scale, bias


class ScaledWeightConv2d(torch.autograd.Function):
    """``conv2d(x, weight * scale[:, None, None, None], bias)`` saving ``weight`` and ``scale``
    for backward, not the scaled weight: that is recomputed (one multiply over the weights)
    when the gradient is needed.

    ``apply(x, weight, scale, bias, stride, padding, dilation, groups, dtype)`` with
    x (B, C_in, H, W), weight (C_out, C_in / groups, kh, kw), scale (C_out,), bias (C_out,) or
    None, integer-pair stride/padding/dilation, and ``dtype`` the type the convolution runs
    in (autocast's, or None for the inputs' own). The gradients are those of autograd through
    the unfused expression: ``torch.ops.aten.convolution_backward`` (what autograd calls for
    a convolution) with the recomputed weight, then the multiply's and the casts' gradients.
    """

    @staticmethod
    def forward(ctx, x, weight, scale, bias, stride, padding, dilation, groups, dtype):
        folded = weight * scale.reshape(-1, 1, 1, 1)
        ctx.x_dtype = x.dtype
        ctx.bias_dtype = None if bias is None else bias.dtype
        if dtype is not None:  # autocast's casts, done here as autocast would do them
            x = x.to(dtype)
            folded = folded.to(dtype)
            bias = None if bias is None else bias.to(dtype)
        with torch.autocast(x.device.type, enabled=False):
            out = F.conv2d(x, folded, bias, stride, padding, dilation, groups)
        ctx.save_for_backward(x, weight, scale)
        ctx.conf = (bias is not None, stride, padding, dilation, groups, dtype)
        return out

    @staticmethod
    def backward(ctx, grad):
        x, weight, scale = ctx.saved_tensors
        has_bias, stride, padding, dilation, groups, dtype = ctx.conf
        need_x, need_w, need_s, need_b = ctx.needs_input_grad[:4]
        folded = weight * scale.reshape(-1, 1, 1, 1)
        if dtype is not None:
            folded = folded.to(dtype)
        grad_x, grad_folded, grad_b = torch.ops.aten.convolution_backward(
            grad, x, folded, [weight.shape[0]] if has_bias else None, list(stride),
            list(padding), list(dilation), False, [0, 0], groups,
            [need_x, need_w or need_s, need_b and has_bias])
        grad_w = grad_s = None
        if grad_folded is not None:
            grad_folded = grad_folded.to(weight.dtype)
            if need_w:
                grad_w = grad_folded * scale.reshape(-1, 1, 1, 1)
            if need_s:
                grad_s = (grad_folded * weight).sum((1, 2, 3))
        if grad_x is not None:
            grad_x = grad_x.to(ctx.x_dtype)
        if grad_b is not None:
            grad_b = grad_b.to(ctx.bias_dtype)
        return grad_x, grad_w, grad_s, grad_b, None, None, None, None, None


def _plain_padding(conv: nn.Conv2d) -> bool:
    return (conv.padding_mode == 'zeros' and not isinstance(conv.padding, str)
            and not conv.transposed)


def conv_frozen_bn(conv: nn.Conv2d, bn: nn.Module, x: Tensor) -> Tensor:
    """``bn(conv(x))`` as one convolution when ``bn`` is a FrozenBatchNorm2d, else unchanged.

    Args:
        conv: the convolution; bn: the norm layer after it.
        x: (B, C_in, H, W), any memory format.

    Returns:
        (B, C_out, H', W'), as ``bn(conv(x))`` up to rounding.
    """
    if not isinstance(bn, FrozenBatchNorm2d) or not isinstance(conv, nn.Conv2d):
        return bn(conv(x))
    if torch.is_grad_enabled() and conv.weight.requires_grad:
        if torch.compiler.is_compiling() or not _plain_padding(conv):
            # a compiler chooses itself what to keep for backward
            weight, bias = folded_weight_bias(conv, bn)
            return conv._conv_forward(x, weight, bias)
        scale, bias = _scale_bias(conv, bn)
        dtype = (torch.get_autocast_dtype(x.device.type)
                 if torch.is_autocast_enabled(x.device.type) else None)
        return ScaledWeightConv2d.apply(x, conv.weight, scale, bias, conv.stride, conv.padding,
                                        conv.dilation, conv.groups, dtype)
    key = _key(conv, bn)
    cached = conv.__dict__.get('_zoo_folded')
    if cached is None or cached[0] != key:
        with torch.no_grad():
            cached = (key, *folded_weight_bias(conv, bn))
        conv.__dict__['_zoo_folded'] = cached
    return conv._conv_forward(x, cached[1], cached[2])


def forward_block(block: nn.Module, x: Tensor) -> Tensor:
    """torchvision's ``Bottleneck.forward`` / ``BasicBlock.forward`` with every conv-BN pair
    (the downsample branch's included) through :func:`conv_frozen_bn`."""
    identity = x
    out = block.relu(conv_frozen_bn(block.conv1, block.bn1, x))
    if hasattr(block, 'conv3'):  # Bottleneck
        out = block.relu(conv_frozen_bn(block.conv2, block.bn2, out))
        out = conv_frozen_bn(block.conv3, block.bn3, out)
    else:  # BasicBlock
        out = conv_frozen_bn(block.conv2, block.bn2, out)
    if block.downsample is not None:
        down = block.downsample
        if (isinstance(down, nn.Sequential) and len(down) == 2
                and isinstance(down[0], nn.Conv2d)):
            identity = conv_frozen_bn(down[0], down[1], x)
        else:
            identity = down(x)
    out += identity
    return block.relu(out)
