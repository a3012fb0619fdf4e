"""Cost of a trained variant: parameters, GFLOPs at a stated input size, inference latency.

- Parameters: every parameter of the model, trainable or frozen.
- GFLOPs: ``torch.utils.flop_counter.FlopCounterMode`` over one ``predict`` pass on the first
  test image after the test pipeline (its padded input size is stated). The counter counts
  2 FLOPs per multiply-add of convolutions and matrix products; RoI pooling, NMS and other
  operators without a formula count 0, so a two-stage model's count is its dense and fc work.
- Latency: median wall time of ``predict`` on that image at batch 1, preprocessing (normalise,
  pad) included, after warm-up runs; on the GPU, synchronised. The device and, on a CPU, the
  number of threads are recorded beside it: latencies compare only within one device.
- Precision: the one the config runs in, as ``zoo test`` and ``zoo infer`` run it: with
  ``amp = True`` under autocast (bfloat16 on a CPU, float16 on CUDA; no weight-cast cache) with
  the layers' weights cast once, as :class:`zoo.Detector` does
  (:mod:`zoo.inference.low_precision_weights`); else float32. It is recorded as ``precision``.
"""
from __future__ import annotations

import contextlib
import statistics
import time
from typing import Optional

import torch
from torch.utils.flop_counter import FlopCounterMode

__all__ = ['profile_model', 'same_precision']


def same_precision(profile: dict, cfg) -> bool:
    """Whether a saved ``profile`` was measured in the precision ``cfg`` runs in (mixed when
    its ``amp`` is set, else float32); a profile saved before precisions were recorded was
    measured in float32."""
    return (profile.get('precision', 'float32') != 'float32') == bool(cfg.get('amp'))


def _first_test_batch(cfg) -> dict:
    import registry
    from registry import ConfigError
    loader = cfg.get('test_dataloader')
    if not loader:
        raise ConfigError('the config has no test_dataloader to take a profiling image from')
    dataset = registry.build('dataset', loader['dataset'], key='test_dataloader.dataset')
    if len(dataset) == 0:
        raise ConfigError('test_dataloader.dataset is empty: no image to profile with')
    item = dataset[0]
    return dict(inputs=[item['inputs']], data_samples=[item['data_samples']])


def profile_model(cfg, checkpoint: str, device: str = None, warmup: int = 2,
                  runs: int = 10, amp: Optional[bool] = None) -> dict:
    """Profile the config's model with the checkpoint's weights.

    Args:
        cfg: the run's config (its ``model``, ``test_dataloader`` and ``amp``).
        checkpoint: a checkpoint file of that model.
        device: ``'cuda'`` or ``'cpu'``; default the GPU when there is one.
        warmup, runs: timed runs are ``runs`` after ``warmup`` untimed ones.
        amp: run under mixed precision; default the config's ``amp``.

    Returns:
        ``dict(params, gflops, input_size=[H, W] (padded input, pixels), latency_ms (median),
        latency_runs, device, threads, precision ('float32', 'bfloat16' or 'float16'))``.

    Raises:
        ConfigError: no test data; ValueError: the checkpoint does not fit the model.
    """
    from zoo.detectors.builder import load_model
    from zoo.inference.low_precision_weights import cast_autocast_weights
    from zoo.runner.precision import autocast, autocast_dtype
    device = device or ('cuda' if torch.cuda.is_available() else 'cpu')
    amp = bool(cfg.get('amp')) if amp is None else bool(amp)
    kind = torch.device(device).type
    model = load_model(cfg, checkpoint, device)
    params = sum(p.numel() for p in model.parameters())
    batch = _first_test_batch(cfg)

    def predict():
        with torch.no_grad():
            data = model.data_preprocessor(batch, False)
            with autocast(kind, cache_enabled=False) if amp else contextlib.nullcontext():
                return model(**data, mode='predict'), data['inputs'].shape[-2:]

    counter = FlopCounterMode(display=False)
    with counter, cast_autocast_weights(model) if amp else contextlib.nullcontext():
        _, size = predict()  # (with amp: the layers keep autocast's weights from now on)
    flops = counter.get_total_flops()
    for _ in range(warmup):
        predict()
    times = []
    for _ in range(runs):
        if device.startswith('cuda'):
            torch.cuda.synchronize()
        start = time.perf_counter()
        predict()
        if device.startswith('cuda'):
            torch.cuda.synchronize()
        times.append((time.perf_counter() - start) * 1000.0)
    return dict(params=int(params), gflops=flops / 1e9, input_size=[int(size[0]), int(size[1])],
                latency_ms=statistics.median(times), latency_runs=runs, device=device,
                threads=torch.get_num_threads() if device == 'cpu' else None,
                precision=str(autocast_dtype(kind)).replace('torch.', '') if amp else 'float32')
