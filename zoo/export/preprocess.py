"""The test pipeline's image preparation as traceable tensor operations, for the ONNX graph.

:class:`GraphPreprocess` turns a raw image, uint8 (H, W, 3) RGB of any size, into what the
detector sees in ``zoo test``: the ``Resize`` step of the config's test pipeline (size rule
and bilinear, antialiased interpolation of :class:`zoo.transforms.resize.Resize`), then the
data preprocessor's ``(img - mean) / std`` and zero padding to a multiple of
``pad_size_divisor`` (:class:`zoo.transforms.data_preprocessor.DetDataPreprocessor`). Every
size is computed from the input's shape inside the graph, so the exported model takes any H, W.

The resize reproduces torchvision's uint8 kernel (``F.resize(..., antialias=True)`` on a uint8
tensor, which PyTorch computes with the separable "Pillow-SIMD" algorithm): per axis a
triangle filter stretched by the downscale factor (Pillow's ``ImagingResample``), its weights
rounded to fixed point, the horizontal pass rounded to uint8 before the vertical pass. The
arithmetic here is float64, where the fixed-point sums are exact, so a pixel may differ from
PyTorch's by one grey level at most where the two round a weight differently (measured:
docs/export.md, "Tolerance").
"""
from __future__ import annotations

from typing import Optional, Sequence

import torch
from torch import Tensor, nn
from torch.onnx.operators import shape_as_tensor

from registry import ConfigError

#: the pipeline steps that the graph reproduces (the others are refused by name)
GRAPH_STEPS = ('LoadImageFromFile', 'Resize', 'PackDetInputs')


def resize_params(pipeline: Sequence[dict], key: str = 'test_dataloader.dataset.pipeline'
                  ) -> Optional[dict]:
    """The ``Resize`` step of a test pipeline (``None`` without one), checked for export.

    Raises:
        ConfigError: a step other than those of :data:`GRAPH_STEPS` (flips, photometric
            changes), more than one ``Resize``, an interpolation other than bilinear, or
            ``antialias=False`` (named with the key path and the value).
    """
    from zoo.transforms.resize import Resize

    resize = None
    for i, step in enumerate(pipeline):
        kind = step.get('type')
        if kind not in GRAPH_STEPS:
            raise ConfigError(f'{key}[{i}].type = {kind!r}: ONNX export puts only '
                              f'{", ".join(GRAPH_STEPS)} into the graph')
        if kind == 'Resize':
            if resize is not None:
                raise ConfigError(f'{key}[{i}]: ONNX export handles one Resize step, found two')
            args = {k: v for k, v in step.items() if k != 'type'}
            resize = Resize(**args)  # the transform's own checks
            if resize.interpolation != 'bilinear' or not resize.antialias:
                raise ConfigError(f'{key}[{i}]: ONNX export reproduces bilinear antialiased '
                                  f'resizing only, got interpolation={resize.interpolation!r}, '
                                  f'antialias={resize.antialias!r}')
    if resize is None:
        return None
    return dict(scale=resize.scale, scale_factor=resize.scale_factor, keep_ratio=resize.keep_ratio)


def _round_half_up(x: Tensor) -> Tensor:
    return torch.floor(x + 0.5)


def _aa_weights(in_size: Tensor, out_size: Tensor) -> tuple[Tensor, Tensor]:
    """(out, in) float64 fixed-point weights of torchvision's uint8 antialiased bilinear resize
    along one axis, and the fixed-point unit: ``(round(weights * 2**p), 2**p)``.

    ``in_size``, ``out_size``: int64 (1,). Sizes are kept 1-d: the TorchScript exporter casts
    0-d traced values to float32 before a division, which would change the weights.

    Source: PyTorch ``aten/src/ATen/native/cpu/UpSampleKernel.cpp``
    (``_compute_indices_min_size_weights_aa``, ``compute_index_ranges_int16_weights``), which
    follows Pillow's ``ImagingResample``.
    """
    in_f, out_f = in_size.to(torch.float64), out_size.to(torch.float64)
    scale = in_f / out_f
    support = torch.where(scale >= 1.0, scale, torch.ones_like(scale))  # interp_size 2 * 0.5
    invscale = torch.where(scale >= 1.0, 1.0 / scale, torch.ones_like(scale))
    i = torch.arange(out_size[0], dtype=torch.float64)[:, None]
    j = torch.arange(in_size[0], dtype=torch.float64)[None, :]
    center = scale * (i + 0.5)
    # PyTorch truncates toward zero; floor is the same here: the lower bound is clamped at 0,
    # the upper one is positive (and ONNX has no Trunc)
    xmin = torch.clamp(torch.floor(center - support + 0.5), min=0.0)
    xmax = torch.minimum(torch.floor(center + support + 0.5), in_f)
    w = torch.clamp(1.0 - torch.abs((j - center + 0.5) * invscale), min=0.0)
    w = torch.where((j >= xmin) & (j < xmax), w, torch.zeros_like(w))
    w = w / w.sum(1, keepdim=True)
    # fixed point: the largest precision p < 22 such that the largest weight * 2**(p+1) still
    # fits an int16, as PyTorch chooses it
    top = w.amax(dim=(0, 1), keepdim=True).reshape(1)
    p = torch.arange(22, dtype=torch.float64)
    fits = torch.floor(0.5 + top * torch.pow(2.0, p + 1)) < 32768.0
    one = torch.pow(2.0, fits.to(torch.float64).sum(0, keepdim=True))  # fits for p < precision
    return torch.floor(w * one + 0.5), one  # w >= 0: PyTorch's (int)(0.5 + w * one)


def _resize_axis(img: Tensor, out_size: Tensor, dim: int) -> Tensor:
    """Resize float64 (3, H, W) grey levels along ``dim`` (1: H, 2: W) to ``out_size`` (int64
    (1,)); the result rounded to uint8 levels, as PyTorch's fixed-point kernel does."""
    weights, one = _aa_weights(shape_as_tensor(img)[dim:dim + 1], out_size)
    if dim == 2:
        out = torch.matmul(img, weights.t())
    else:
        out = torch.matmul(weights, img)
    return torch.clamp(torch.floor((out + one / 2) / one), 0.0, 255.0)


class GraphPreprocess(nn.Module):
    """Raw image to the detector's padded input, with the metainfo the heads need.

    Args:
        resize: ``dict(scale, scale_factor, keep_ratio)`` of the test pipeline's ``Resize``
            (:func:`resize_params`), or None for no resizing.
        mean, std: per-channel RGB on the 0..255 scale, or None (no normalization).
        pad_size_divisor, pad_value: as the data preprocessor's.

    ``forward(image)``: ``image`` uint8 (H, W, 3) RGB -> ``(inputs (1, 3, Hp, Wp) float32,
    img_shape int64 (2,) = (h, w) after resizing, scale_factor float32 (2,) = (w / W, h / H),
    ori_shape int64 (2,) = (H, W))``.
    """

    def __init__(self, resize: Optional[dict], mean: Optional[Sequence[float]],
                 std: Optional[Sequence[float]], pad_size_divisor: int = 1, pad_value: float = 0.0):
        super().__init__()
        self.resize = resize
        self.normalize = mean is not None
        if self.normalize:
            self.register_buffer('mean', torch.tensor(mean, dtype=torch.float32).view(3, 1, 1),
                                 persistent=False)
            self.register_buffer('std', torch.tensor(std, dtype=torch.float32).view(3, 1, 1),
                                 persistent=False)
        self.pad_size_divisor = int(pad_size_divisor)
        self.pad_value = float(pad_value)

    def target_size(self, hw: Tensor) -> Tensor:
        """int64 (2,) (h, w) after the Resize step, from the int64 (2,) original (h, w)."""
        if self.resize is None:
            return hw
        hw_f = hw.to(torch.float64)
        scale, factor, keep_ratio = (self.resize['scale'], self.resize['scale_factor'],
                                     self.resize['keep_ratio'])
        if scale is not None and keep_ratio:  # zoo.transforms.resize.rescale_size
            longest = hw_f.amax(0, keepdim=True)  # (1,): see _aa_weights on 0-d values
            shortest = hw_f.amin(0, keepdim=True)
            f = torch.minimum(float(max(scale)) / longest, float(min(scale)) / shortest)
            return _round_half_up(hw_f * f).to(torch.int64)
        if scale is not None:
            return torch.tensor([scale[1], scale[0]], dtype=torch.int64)
        fhw = torch.tensor([factor[1], factor[0]], dtype=torch.float64)
        return torch.clamp(_round_half_up(hw_f * fhw), min=1.0).to(torch.int64)

    def forward(self, image: Tensor):
        ori_hw = shape_as_tensor(image)[:2]
        hw = self.target_size(ori_hw)
        img = image.permute(2, 0, 1)
        if self.resize is not None:  # the horizontal pass first, as PyTorch's kernel
            x = img.to(torch.float64)
            x = _resize_axis(x, hw[1:2], 2)
            x = _resize_axis(x, hw[0:1], 1)
            img = x.to(torch.float32)
        else:
            img = img.to(torch.float32)
        if self.normalize:
            img = (img - self.mean) / self.std
        d = self.pad_size_divisor
        pad = (torch.floor_divide(hw + (d - 1), d) * d) - hw
        # constant padding at the bottom and right (F.pad with traced sizes exports as Pad)
        img = nn.functional.pad(img, [0, pad[1], 0, pad[0]], value=self.pad_value)
        scale_factor = (hw.to(torch.float64).flip(0) / ori_hw.to(torch.float64).flip(0))
        return img[None], hw, scale_factor.to(torch.float32), ori_hw
