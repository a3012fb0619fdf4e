"""Cost of a trained variant: parameters, GFLOPs at a stated input size, inference latency.

- Parameters: every parameter of the model, trainable or frozen.
- GFLOPs: ``torch.utils.flop_counter.FlopCounterMode`` over one ``predict`` pass on the first
  test image after the test pipeline (its padded input size is stated). The counter counts
  2 FLOPs per multiply-add of convolutions and matrix products; RoI pooling, NMS and other
  operators without a formula count 0, so a two-stage model's count is its dense and fc work.
- Latency: median wall time of ``predict`` on that image at batch 1, preprocessing (normalise,
  pad) included, after warm-up runs; on the GPU, synchronised. The device and, on a CPU, the
  number of threads are recorded beside it: latencies compare only within one device.
"""
from __future__ import annotations

import statistics
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

__all__ = ['profile_model']


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
                  runs: int = 10) -> dict:
    """Profile the config's model with the checkpoint's weights.

    Args:
        cfg: the run's config (its ``model`` and ``test_dataloader``).
        checkpoint: a checkpoint file of that model.
        device: ``'cuda'`` or ``'cpu'``; default the GPU when there is one.
        warmup, runs: timed runs are ``runs`` after ``warmup`` untimed ones.

    Returns:
        ``dict(params, gflops, input_size=[H, W] (padded input, pixels), latency_ms (median),
        latency_runs, device, threads)``.

    Raises:
        ConfigError: no test data; ValueError: the checkpoint does not fit the model.
    """
    from zoo.detectors.builder import load_model
    device = device or ('cuda' if torch.cuda.is_available() else 'cpu')
    model = load_model(cfg, checkpoint, device)
    params = sum(p.numel() for p in model.parameters())
    batch = _first_test_batch(cfg)

    def predict():
        with torch.no_grad():
            data = model.data_preprocessor(batch, False)
            return model(**data, mode='predict'), data['inputs'].shape[-2:]

    counter = FlopCounterMode(display=False)
    with counter:
        _, size = predict()
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
                threads=torch.get_num_threads() if device == 'cpu' else None)
