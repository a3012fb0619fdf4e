"""torchvision's CPU ``roi_align`` and ``roi_pool`` on all cores: the RoIs split over a thread pool.

torchvision's CPU kernels of ``roi_align``, ``roi_pool`` and their backward run on one thread (a
loop over the RoIs), while everything around them in a detector uses every core; with 2 cores
they are about a sixth of a Faster R-CNN R50-FPN step. The kernels release the GIL, so splitting the
RoIs over a pool of ``torch.get_num_threads()`` Python threads divides their time by the
number of cores, with the results unchanged bit for bit:

* forward: the RoIs in contiguous chunks, one kernel call per chunk; every output row depends
  on its RoI alone, so the concatenation equals the single call;
* backward: the RoIs grouped by image (a stable sort, so each image keeps its RoI order; no
  sort when they come grouped, as the detectors make them), one kernel call per image
  writing that image's slice of the feature gradient; a RoI touches only its own image, in
  the same order as in the single call, so the sums are the same (``roi_pool``'s backward
  adds each output's gradient at its forward ``argmax`` cell, in RoI order: the same holds).
  The per-image results are copied into one (B, C, H, W) tensor as they come, so at most
  ``workers`` single-image gradients exist besides it.

CUDA tensors, small inputs and traced calls (ONNX export, which knows torchvision's op but not
this autograd Function) go straight to :func:`torchvision.ops.roi_align`.
"""
from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Optional

import torch
from torch import Tensor
from torchvision.ops import roi_align, roi_pool

__all__ = ['threaded_roi_align', 'threaded_roi_pool']

#: fewer RoIs than this: one call (thread hand-off would cost more than it saves)
MIN_ROIS = 64

_lock = threading.Lock()
_pool: Optional[ThreadPoolExecutor] = None
_pool_key: tuple = ()


def _executor(workers: int) -> ThreadPoolExecutor:
    """One pool per process and size (rebuilt after a fork: threads do not survive it)."""
    global _pool, _pool_key
    key = (os.getpid(), workers)
    with _lock:
        if _pool is None or _pool_key != key:
            _pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix='zoo-roi')
            _pool_key = key
        return _pool


def _map(fn, items, workers: int) -> list:
    if workers <= 1 or len(items) <= 1:
        return [fn(i) for i in items]
    return list(_executor(workers).map(fn, items))


def _per_image_grad(rois: Tensor, shape: torch.Size, workers: int, kernel, grad: Tensor,
                    *per_roi: Tensor) -> Tensor:
    """The (B, C, H, W) input gradient, one kernel call per image on the pool.

    The RoIs are grouped by image (a stable sort, none when they come grouped, as the detectors
    make them), given batch index 0, and ``kernel(rois_i, grad_i, *per_roi_i)`` -> (1, C, H, W)
    runs for each image ``i``; its result is copied into the image's slice as it comes.
    ``per_roi``: more tensors with a row per RoI (``roi_pool``'s ``argmax``), split likewise.
    """
    img = rois[:, 0].long()
    rows = (grad,) + per_roi
    if bool((img[1:] >= img[:-1]).all()):
        local, rows = rois.clone(), [t.contiguous() for t in rows]
    else:
        order = torch.sort(img, stable=True).indices
        local, rows = rois[order], [t[order].contiguous() for t in rows]
    local[:, 0] = 0  # each call sees one image
    counts = torch.bincount(img, minlength=shape[0]).tolist()
    rois_per_img, parts = local.split(counts), [t.split(counts) for t in rows]
    out = grad.new_empty(shape)

    def one(i: int) -> None:
        out[i].copy_(kernel(rois_per_img[i], *(p[i] for p in parts))[0])
    _map(one, list(range(shape[0])), workers)
    return out


class _ThreadedRoIAlign(torch.autograd.Function):

    @staticmethod
    def forward(ctx, feat: Tensor, rois: Tensor, output_size: int, spatial_scale: float,
                sampling_ratio: int, aligned: bool, workers: int) -> Tensor:
        feat = feat.contiguous()  # the kernel's layout, made once and not per chunk
        chunks = [c for c in rois.tensor_split(workers) if c.shape[0]]
        outs = _map(lambda r: torch.ops.torchvision.roi_align(
            feat, r, spatial_scale, output_size, output_size, sampling_ratio, aligned),
            chunks, workers)
        ctx.save_for_backward(rois)
        ctx.args = (feat.shape, output_size, spatial_scale, sampling_ratio, aligned, workers)
        return torch.cat(outs)

    @staticmethod
    def backward(ctx, grad: Tensor):
        (rois,) = ctx.saved_tensors
        (b, c, h, w), size, scale, ratio, aligned, workers = ctx.args
        out = _per_image_grad(rois, (b, c, h, w), workers,
                              lambda r, g: torch.ops.torchvision._roi_align_backward(
                                  g, r, scale, size, size, 1, c, h, w, ratio, aligned), grad)
        return out, None, None, None, None, None, None


class _ThreadedRoIPool(torch.autograd.Function):

    @staticmethod
    def forward(ctx, feat: Tensor, rois: Tensor, output_size: int, spatial_scale: float,
                workers: int) -> Tensor:
        feat = feat.contiguous()  # the kernel's layout, made once and not per chunk
        chunks = [c for c in rois.tensor_split(workers) if c.shape[0]]
        outs = _map(lambda r: torch.ops.torchvision.roi_pool(
            feat, r, spatial_scale, output_size, output_size), chunks, workers)
        argmax = torch.cat([a for _, a in outs])
        ctx.save_for_backward(rois, argmax)
        ctx.args = (feat.shape, output_size, spatial_scale, workers)
        return torch.cat([o for o, _ in outs])

    @staticmethod
    def backward(ctx, grad: Tensor):
        rois, argmax = ctx.saved_tensors
        (b, c, h, w), size, scale, workers = ctx.args
        out = _per_image_grad(rois, (b, c, h, w), workers,
                              lambda r, g, a: torch.ops.torchvision._roi_pool_backward(
                                  g, r, a, scale, size, size, 1, c, h, w), grad, argmax)
        return out, None, None, None, None


def threaded_roi_align(feat: Tensor, rois: Tensor, output_size: int, spatial_scale: float,
                       sampling_ratio: int, aligned: bool) -> Tensor:
    """:func:`torchvision.ops.roi_align` (same arguments and result), threaded on the CPU.

    Args:
        feat: (B, C, H, W) float, any memory format.
        rois: (K, 5) ``[batch_index, x1, y1, x2, y2]`` in input pixels.
        output_size: S; spatial_scale: ``1 / stride``; sampling_ratio, aligned: as torchvision's.

    Returns:
        (K, C, S, S), bitwise equal to ``roi_align(feat, rois, S, spatial_scale,
        sampling_ratio, aligned)``, with the same gradient for ``feat``.
    """
    workers = torch.get_num_threads()
    if (feat.device.type != 'cpu' or workers <= 1 or rois.shape[0] < MIN_ROIS
            or rois.requires_grad or torch.jit.is_scripting() or torch.jit.is_tracing()):
        return roi_align(feat, rois, output_size, spatial_scale, sampling_ratio, aligned)
    return _ThreadedRoIAlign.apply(feat, rois, int(output_size), float(spatial_scale),
                                   int(sampling_ratio), bool(aligned), workers)


def threaded_roi_pool(feat: Tensor, rois: Tensor, output_size: int, spatial_scale: float) -> Tensor:
    """:func:`torchvision.ops.roi_pool` (same arguments and result), threaded on the CPU.

    Args:
        feat: (B, C, H, W) float, any memory format.
        rois: (K, 5) ``[batch_index, x1, y1, x2, y2]`` in input pixels.
        output_size: S; spatial_scale: ``1 / stride``.

    Returns:
        (K, C, S, S), bitwise equal to ``roi_pool(feat, rois, S, spatial_scale)``, with the
        same gradient for ``feat``.
    """
    workers = torch.get_num_threads()
    if (feat.device.type != 'cpu' or workers <= 1 or rois.shape[0] < MIN_ROIS
            or rois.requires_grad or torch.jit.is_scripting() or torch.jit.is_tracing()):
        return roi_pool(feat, rois, output_size, spatial_scale)
    return _ThreadedRoIPool.apply(feat, rois, int(output_size), float(spatial_scale), workers)
