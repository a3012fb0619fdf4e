"""Measuring the channels and strides a feature extractor really produces: probe forwards.

The backbones that wrap another framework's models (:class:`TorchvisionBackbone`,
:class:`TimmBackbone`) do not let the user type ``out_channels`` and ``strides``: they run the
wrapped network when it is built on a probe image (two for networks without padding,
``PROBE_SIZES``) and read both from the shapes of what comes out.

The probe runs on PyTorch's ``meta`` device when every operation of the network has a meta
kernel (convolutions, norms, activations, pooling, attention all do): shapes only, no
arithmetic, no memory, whatever the size of the network. When one does not, it runs for real
on the CPU, in eval mode and without gradients, so that no batch-norm statistic moves.
"""
from __future__ import annotations

from typing import Callable, Sequence

import torch
from torch import Tensor, nn

__all__ = ['PROBE_SIZES', 'measure_features']

# (H, W) of the probe images: the second is twice the first; different sides, so that a
# (B, H, W, C) output (channels last, as Swin's stages) is not mistaken for (B, C, H, W); all
# divisible by 256, so that every stride up to 256 divides them exactly.
PROBE_SIZES = ((256, 384), (512, 768))


def _forward_meta(module: nn.Module, x: Tensor):
    tensors = {k: torch.empty_like(v, device='meta')
               for k, v in [*module.named_parameters(), *module.named_buffers()]}
    return torch.func.functional_call(module, tensors, (x.to('meta'),), strict=False)


def _probe(module: nn.Module, size: tuple[int, int], owner: str, to_maps: Callable) -> list:
    x = torch.zeros(1, 3, *size)
    try:
        return list(to_maps(_forward_meta(module, x)))
    except (NotImplementedError, RuntimeError):
        pass  # an operation without a meta kernel: measure with a real forward
    try:
        return list(to_maps(module(x)))
    except Exception as err:
        raise ValueError(f'{owner}: the network does not run on a (1, 3, {size[0]}, {size[1]}) probe '
                         f'image, so its feature maps cannot be measured (a model that takes one '
                         f'input size only?): {type(err).__name__}: {err}') from err


def measure_features(module: nn.Module, names: Sequence[str], owner: str,
                     to_maps: Callable = lambda out: out) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Channels and strides of the feature maps ``module`` returns, measured on two probe images.

    For a network that pads its convolutions ("same" padding: ResNet, MobileNet, EfficientNet,
    RegNet, ConvNeXt) every map of the first ``PROBE_SIZES`` image is the input divided by one
    whole stride, the same for height and width, and that is the measurement. Otherwise (unpadded
    convolutions or ceil-mode pooling, as SqueezeNet's, which lose or gain a few cells at the
    border) the second, twice as large image is run too, and the stride is the change of the
    input's side over the change of the map's side, the same for height and width.

    Args:
        module: maps an image (1, 3, H, W) to feature maps; it runs in eval mode without
            gradients (no statistic moves) and its train/eval mode is restored.
        names: one name per returned map, for messages (the node or stage it comes from).
        owner: the part being built, for messages (e.g. ``TorchvisionBackbone('resnet18')``).
        to_maps: turns the module's output into the sequence of maps (default: itself).

    Returns:
        ``(channels, strides)``: per map, ``C`` and the stride in input pixels per cell.

    Raises:
        ValueError: the module does not run on the probe images; it returns another number of
            maps than ``names``; a map is not a 4-D (B, C, H, W) tensor; its channels change with
            the input size, or its height and width do not advance by one whole stride (a
            (B, H, W, C) map, or not a spatial map).
    """
    (h1, w1), (h2, w2) = PROBE_SIZES
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad():
            probes = [_probe(module, PROBE_SIZES[0], owner, to_maps)]
            if len(probes[0]) == len(names) and all(
                    isinstance(m, Tensor) and m.dim() == 4 and h1 % m.shape[2] == 0
                    and w1 % m.shape[3] == 0 and h1 // m.shape[2] == w1 // m.shape[3]
                    for m in probes[0]):  # every map input / stride exactly: one probe suffices
                return (tuple(int(m.shape[1]) for m in probes[0]),
                        tuple(h1 // m.shape[2] for m in probes[0]))
            probes.append(_probe(module, PROBE_SIZES[1], owner, to_maps))
    finally:
        module.train(was_training)
    channels, strides = [], []
    for maps in probes:
        if len(maps) != len(names):
            raise ValueError(f'{owner}: returned {len(maps)} feature maps for {len(names)} '
                             f'requested ({list(names)})')
    for name, a, b in zip(names, *probes, strict=True):
        for m in (a, b):
            if not isinstance(m, Tensor) or m.dim() != 4:
                raise ValueError(f'{owner}: {name!r} gives '
                                 f'{tuple(m.shape) if isinstance(m, Tensor) else type(m).__name__}, '
                                 'not a (B, C, H, W) feature map')
        dh, dw = b.shape[2] - a.shape[2], b.shape[3] - a.shape[3]
        if (a.shape[1] != b.shape[1] or dh <= 0 or dw <= 0 or (h2 - h1) % dh or (w2 - w1) % dw
                or (h2 - h1) // dh != (w2 - w1) // dw):
            raise ValueError(f'{owner}: {name!r} gives maps of shapes {tuple(a.shape)} and '
                             f'{tuple(b.shape)} for (1, 3, {h1}, {w1}) and (1, 3, {h2}, {w2}) '
                             'inputs: not (B, C, H, W) with a whole stride (is it (B, H, W, C), '
                             'channels last, or not a spatial map?)')
        channels.append(int(a.shape[1]))
        strides.append((h2 - h1) // dh)
    return tuple(channels), tuple(strides)
