"""The paper's anchors: py-faster-rcnn's ``generate_anchors.py``, literally.

Source: Ren et al., "Faster R-CNN", NIPS 2015, sec. 3.1.1 and 3.3 (3 scales with box areas
128^2, 256^2, 512^2 and 3 aspect ratios 1:1, 1:2, 2:1: k = 9 anchors per position of the
stride-16 feature map); the code is py-faster-rcnn's ``lib/rpn/generate_anchors.py`` (base 16, ratios
[0.5, 1, 2], scales 2 ** arange(3, 6)), tiled as in its ``anchor_target_layer.py`` and
``proposal_layer.py``.
"""
from __future__ import annotations

from typing import Optional, Sequence

import torch
from torch import Tensor

from registry import ANCHOR_GENERATORS

from zoo.api import BaseAnchorGenerator, check_positive_numbers, check_strides

__all__ = ['LegacyAnchorGenerator']


@ANCHOR_GENERATORS.register_module()
class LegacyAnchorGenerator(BaseAnchorGenerator):
    """py-faster-rcnn's anchors (the paper's 9), in its order, tiled over a feature map.

    Base anchors, as ``generate_anchors(base_size, ratios, scales)`` computes them (float64, then
    stored as float32; every value is a multiple of 0.5, so exactly)::

        base = [0, 0, base_size - 1, base_size - 1]      # inclusive pixels: w = x2 - x1 + 1
        ws = round(sqrt(base_size**2 / ratios)); hs = round(ws * ratios)      # _ratio_enum
        ws, hs = ws[:, None] * scales, hs[:, None] * scales                   # _scale_enum
        ctr = (base_size - 1) / 2
        anchor = [ctr - (ws - 1) / 2, ctr - (hs - 1) / 2, ctr + (ws - 1) / 2, ctr + (hs - 1) / 2]

    ordered ratio-major, then scale (anchor ``a = r * len(scales) + s``). ``round`` is numpy's,
    half to even (``round(11.5) == 12``). With the defaults they are exactly::

        [[ -84,  -40,  99,  55], [-176,  -88, 191, 103], [-360, -184, 375, 199],
         [ -56,  -56,  71,  71], [-120, -120, 135, 135], [-248, -248, 263, 263],
         [ -36,  -80,  51,  95], [ -80, -168,  95, 183], [-168, -344, 183, 359]]

    Convention: py-faster-rcnn computes these in its inclusive-pixel convention (the first is
    184 x 96 px there). The zoo takes the numbers as they are and treats them as xyxy boxes with
    no "+1" (183 x 95 px, centred at (7.5, 7.5) of the first cell), exactly as py-faster-rcnn
    itself does when it feeds them to its IoU and box-delta code as boxes; the zoo's coders and
    IoU are the "+1"-free versions of those. Use :class:`AnchorGenerator` for torchvision's
    cell-origin-centred anchors.

    Grid: the anchors of cell (y, x) are these plus ``(x, y, x, y) * stride`` (py-faster-rcnn's
    ``shifts``: ``meshgrid(arange(W) * feat_stride, arange(H) * feat_stride)``, raveled
    row-major), anchor index ``(y * W + x) * A + a``.

    Args:
        strides: per level, input pixels per feature cell; the paper has one level of stride 16
            (ZF conv5, VGG16 conv5_3).
        ratios: aspect ratios h / w (py-faster-rcnn's ``ratios``), the same at every level.
        scales: multipliers of the base size (py-faster-rcnn's ``scales``).
        base_sizes: per level, py-faster-rcnn's ``base_size``; defaults to ``strides``.

    Attributes:
        strides, num_levels, num_base_anchors (9 with the defaults), base_anchors: see
            :class:`~zoo.api.BaseAnchorGenerator`.

    Raises:
        ValueError: strides not positive ints; ratios, scales or base sizes not positive
            numbers; ``base_sizes`` without one entry per level.
    """

    def __init__(self, strides: Sequence[int] = (16,), ratios: Sequence[float] = (0.5, 1.0, 2.0),
                 scales: Sequence[float] = (8, 16, 32),
                 base_sizes: Optional[Sequence[float]] = None):
        name = type(self).__name__
        strides = check_strides(strides, name)
        self.ratios = check_positive_numbers(ratios, 'ratios', name)
        self.scales = check_positive_numbers(scales, 'scales', name)
        base_sizes = check_positive_numbers(strides if base_sizes is None else base_sizes,
                                             'base_sizes', name)
        if len(base_sizes) != len(strides):
            raise ValueError(f'{name}: base_sizes must have one entry per level '
                             f'({len(strides)} for strides {list(strides)}), got {list(base_sizes)!r}')
        self.base_sizes = base_sizes
        super().__init__(strides, [self.generate_base_anchors(b, self.ratios, self.scales)
                                   for b in base_sizes])

    @staticmethod
    def generate_base_anchors(base_size: float, ratios: Sequence[float],
                              scales: Sequence[float]) -> Tensor:
        """py-faster-rcnn's ``generate_anchors(base_size, ratios, scales)``, vectorised.

        Returns:
            float32 (len(ratios) * len(scales), 4), py-faster-rcnn's numbers and order.
        """
        f64 = torch.float64
        ratios_t = torch.as_tensor(ratios, dtype=f64)
        scales_t = torch.as_tensor(scales, dtype=f64)
        # _whctrs of base_anchor = [0, 0, base_size - 1, base_size - 1]
        w = h = torch.tensor(float(base_size), dtype=f64)
        ctr = 0.5 * (w - 1)
        # _ratio_enum
        ws = torch.round(torch.sqrt(w * h / ratios_t))
        hs = torch.round(ws * ratios_t)
        # _scale_enum on each ratio anchor (their centres stay at ctr: all values are exact)
        ws = (ws[:, None] * scales_t[None, :]).reshape(-1)
        hs = (hs[:, None] * scales_t[None, :]).reshape(-1)
        # _mkanchors
        anchors = torch.stack((ctr - 0.5 * (ws - 1), ctr - 0.5 * (hs - 1),
                               ctr + 0.5 * (ws - 1), ctr + 0.5 * (hs - 1)), dim=1)
        return anchors.to(torch.float32)
