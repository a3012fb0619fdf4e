"""Timing and peak memory of competing implementations, measured in one process.

Interleaved timing: after warm-up, every repetition runs each implementation once, the order
reversed on every other repetition, so that a slow phase of the machine (another process,
thermal throttling, a cache state) falls on all of them alike; the reported figure is the
median. On CUDA each call is bracketed by ``torch.cuda.synchronize``.

Peak memory: on CUDA, ``torch.cuda.max_memory_allocated`` above what was allocated before the
call. On the CPU, PyTorch keeps no allocator statistics, so the call runs once under
``torch.profiler`` with ``profile_memory=True``: every tensor allocation and free of the call,
replayed in time order, gives the largest total of live tensor bytes the call added (the
weights and inputs allocated before it are not counted). Both count tensors only, not the
interpreter or the allocator's cache.
"""
from __future__ import annotations

import statistics
import time
from typing import Callable, Mapping

import torch


def _sync(device: torch.device) -> None:
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def interleaved_times(fns: Mapping[str, Callable[[], object]], repeats: int, warmup: int,
                      device: torch.device | str = 'cpu') -> dict[str, list[float]]:
    """Seconds per call of each function, run in turn.

    Args:
        fns: name -> a callable that does one unit of work (e.g. one inference of a batch).
        repeats: timed calls of each function (>= 1).
        warmup: untimed calls of each function first (first-call allocations, oneDNN primitive
            creation, cuDNN autotuning).
        device: synchronized around every call when CUDA.

    Returns:
        name -> the ``repeats`` durations in seconds, in the order they were taken.

    Raises:
        ValueError: ``repeats`` < 1 or ``warmup`` < 0.
    """
    if repeats < 1 or warmup < 0:
        raise ValueError(f'interleaved_times: repeats must be >= 1 and warmup >= 0, got '
                         f'repeats={repeats}, warmup={warmup}')
    device = torch.device(device)
    names = list(fns)
    for _ in range(warmup):
        for name in names:
            fns[name]()
    _sync(device)
    times: dict[str, list[float]] = {name: [] for name in names}
    for rep in range(repeats):
        for name in (names if rep % 2 == 0 else names[::-1]):
            _sync(device)
            start = time.perf_counter()
            fns[name]()
            _sync(device)
            times[name].append(time.perf_counter() - start)
    return times


def median(values) -> float:
    return float(statistics.median(values))


def peak_memory_bytes(fn: Callable[[], object], device: torch.device | str = 'cpu') -> int:
    """Largest number of tensor bytes that ``fn()`` holds at once beyond what existed before.

    See the module docstring for how it is measured on the CPU and on CUDA.
    """
    device = torch.device(device)
    if device.type == 'cuda':
        torch.cuda.synchronize(device)
        torch.cuda.empty_cache()
        base = torch.cuda.memory_allocated(device)
        torch.cuda.reset_peak_memory_stats(device)
        fn()
        torch.cuda.synchronize(device)
        return int(torch.cuda.max_memory_allocated(device) - base)
    from torch.profiler import ProfilerActivity, profile
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        fn()
    current = peak = 0
    for event in sorted(prof.events(), key=lambda e: e.time_range.start):
        # a '[memory]' event is an allocation or free outside any operator (a tensor
        # released by Python); an operator's own allocations are its self memory
        delta = event.cpu_memory_usage if event.name == '[memory]' else event.self_cpu_memory_usage
        current += delta
        peak = max(peak, current)
    return int(peak)
