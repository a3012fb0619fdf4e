"""How far from the hardware: FLOPs of a workload, the machine's matrix-product peak, and the
fraction of it a workload achieves.

* FLOPs are counted by :class:`torch.utils.flop_counter.FlopCounterMode` (PyTorch's own
  counter: matrix products, convolutions and their backward, attention; 2 FLOPs per
  multiply-add). Element-wise operations, pooling, RoIAlign/RoIPool and NMS are not counted:
  they are a small share of a detector's arithmetic, so the count is a slight underestimate
  and the achieved rate a slight underestimate too.
* The peak is measured, not taken from a data sheet: the median rate of an ``n x n`` by
  ``n x n`` matrix product (``2 n^3`` FLOPs) in the given dtype, timed after warm-up. On CPUs
  with AMX or AVX-512 BF16 units (through oneDNN) a bfloat16 product runs several times
  faster than a float32 one: each precision has its own physical limit, which a convolution
  network can approach but not pass.
* The fraction is ``achieved / peak`` in the workload's precision.
"""
from __future__ import annotations

import time
from typing import Callable

import torch

from .timing import median

__all__ = ['count_flops', 'gflops_per_second', 'peak_fraction', 'matmul_peak']


def count_flops(fn: Callable[[], object]) -> int:
    """FLOPs of one call ``fn()`` (which runs once, for real), counted by
    :class:`torch.utils.flop_counter.FlopCounterMode`; forward and, if ``fn`` calls
    ``backward``, backward. The call runs under whatever autocast or ``no_grad`` state the
    caller set: the count is of the operations that actually ran."""
    from torch.utils.flop_counter import FlopCounterMode
    counter = FlopCounterMode(display=False)
    with counter:
        fn()
    return int(counter.get_total_flops())


def gflops_per_second(flops: float, seconds: float) -> float:
    """``flops / seconds / 1e9``.

    Raises:
        ValueError: ``seconds`` <= 0 or ``flops`` < 0.
    """
    if seconds <= 0 or flops < 0:
        raise ValueError(f'gflops_per_second: need flops >= 0 and seconds > 0, got '
                         f'flops={flops}, seconds={seconds}')
    return flops / seconds / 1e9


def peak_fraction(achieved_gflops: float, peak_gflops: float) -> float:
    """``achieved / peak`` (both GFLOP/s).

    Raises:
        ValueError: ``peak_gflops`` <= 0.
    """
    if peak_gflops <= 0:
        raise ValueError(f'peak_fraction: the peak must be > 0 GFLOP/s, got {peak_gflops}')
    return achieved_gflops / peak_gflops


def matmul_peak(dtype: torch.dtype = torch.float32, n: int = 2048, repeats: int = 5,
                warmup: int = 2, device: torch.device | str = 'cpu') -> dict:
    """The measured matrix-product rate of this machine in ``dtype``.

    Times ``torch.mm`` of two random ``n x n`` matrices ``repeats`` times after ``warmup``
    untimed calls (synchronized on CUDA).

    Returns:
        ``dict(dtype, n, flops=2 n^3, seconds=[...], gflops=<median rate>,
        best_gflops=<fastest call's rate>)``; ``gflops`` is the peak the workloads are
        compared with (a median, like their own times).

    Raises:
        ValueError: ``n`` < 1, ``repeats`` < 1 or ``warmup`` < 0.
    """
    if n < 1 or repeats < 1 or warmup < 0:
        raise ValueError(f'matmul_peak: need n >= 1, repeats >= 1, warmup >= 0, got n={n}, '
                         f'repeats={repeats}, warmup={warmup}')
    device = torch.device(device)
    g = torch.Generator().manual_seed(0)
    a = torch.randn(n, n, generator=g).to(device=device, dtype=dtype)
    b = torch.randn(n, n, generator=g).to(device=device, dtype=dtype)

    def sync():
        if device.type == 'cuda':
            torch.cuda.synchronize(device)
    for _ in range(warmup):
        torch.mm(a, b)
    sync()
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        torch.mm(a, b)
        sync()
        seconds.append(time.perf_counter() - start)
    flops = 2 * n ** 3
    return dict(dtype=str(dtype).replace('torch.', ''), n=n, flops=flops, seconds=seconds,
                gflops=gflops_per_second(flops, median(seconds)),
                best_gflops=gflops_per_second(flops, min(seconds)))
