"""Per-level anchors of torchvision and mmdet: sizes (or scales of a base size) times ratios.

Source: torchvision ``models/detection/anchor_utils.py`` (``AnchorGenerator.generate_anchors``
and ``grid_anchors``), reproduced exactly, including its rounding of the base anchors;
the ``scales``/``base_sizes`` arguments are mmdet's ``AnchorGenerator`` spelling of the same
sizes. Multi-level use follows FPN (Lin et al. 2017, sec. 4.1: one size per level, 32..512 at
strides 4..64, ratios 1:2, 1:1, 2:1).
"""
from __future__ import annotations

from numbers import Real
from typing import Optional, Sequence

import torch
from torch import Tensor

from registry import ANCHOR_GENERATORS

from zoo.api import BaseAnchorGenerator, check_positive_numbers, check_strides

__all__ = ['AnchorGenerator']


def _is_number(x) -> bool:
    return isinstance(x, Real) and not isinstance(x, bool)


@ANCHOR_GENERATORS.register_module()
class AnchorGenerator(BaseAnchorGenerator):
    """Anchors of several sizes and aspect ratios at every cell of every feature level.

    Give the sizes either torchvision's way, ``sizes`` (pixels, per level), or mmdet's way,
    ``scales`` (multipliers of ``base_sizes``, which default to the strides); the size of an
    anchor is the side of the square of the same area, ``sqrt(w * h)``.

    Base anchors (per level; the code of torchvision's ``generate_anchors``, in float32)::

        h_ratios = sqrt(ratios); w_ratios = 1 / h_ratios
        ws = (w_ratios[:, None] * sizes[None, :]).view(-1)      # ratio-major, then size
        hs = (h_ratios[:, None] * sizes[None, :]).view(-1)
        base = round(stack([-ws, -hs, ws, hs], 1) / 2)          # centred on the cell origin

    so anchor ``a = r * len(sizes) + s`` has ratio ``ratios[r]`` and size ``sizes[s]``. The
    rounding (half to even) is torchvision's: a box of ratio 0.5 and size 32 is
    ``[-23, -11, 23, 11]`` (46 x 22 px), not 45.25 x 22.6. Anchors of cell (y, x) are these
    shifted by ``(x, y, x, y) * stride`` (the cell's top-left corner, no half-cell offset, as in
    torchvision and mmdet's ``center_offset=0``); the anchor index is ``(y * W + x) * A + a``.
    Boxes are xyxy in input-tensor pixels, width ``x2 - x1`` (no "+1").

    Args:
        strides: per level, input pixels per feature cell, e.g. ``[4, 8, 16, 32, 64]``.
        ratios: aspect ratios h / w, for every level (``(0.5, 1.0, 2.0)``) or one sequence per
            level.
        scales: multipliers of ``base_sizes`` (mmdet), the same for every level; e.g.
            ``scales=(8,)`` with strides 4..64 gives sizes 32..512.
        base_sizes: per level, the size that ``scales`` multiply; defaults to ``strides``.
        sizes: per level a sequence of anchor sizes in pixels (torchvision), e.g.
            ``((32,), (64,), (128,), (256,), (512,))``; a flat sequence with one number per
            level is read as one size per level, as torchvision does.

    Attributes:
        strides, num_levels, num_base_anchors, base_anchors: see
            :class:`~zoo.api.BaseAnchorGenerator`.
        sizes (tuple[tuple[float, ...], ...]): per level, the sizes in pixels.
        ratios (tuple[tuple[float, ...], ...]): per level, the ratios.

    Raises:
        ValueError: strides not positive ints; both or neither of ``sizes`` and ``scales``
            given, or ``base_sizes`` given with ``sizes``; ``sizes``, ``base_sizes`` or per-level
            ``ratios`` without one entry per level; a size, scale or ratio that is not a positive
            number; levels with different numbers of anchors per cell (A must be shared).

    Example:
        >>> gen = AnchorGenerator(strides=[4, 8, 16, 32, 64], scales=(8,))
        >>> gen.num_base_anchors, gen.base_anchors[0][1].tolist()
        (3, [-16.0, -16.0, 16.0, 16.0])
        >>> [p.shape for p in gen.grid_priors([(2, 2)] * 5)][0]
        torch.Size([12, 4])
    """

    def __init__(self, strides: Sequence[int], ratios: Sequence = (0.5, 1.0, 2.0),
                 scales: Optional[Sequence[float]] = None,
                 base_sizes: Optional[Sequence[float]] = None,
                 sizes: Optional[Sequence] = None):
        name = type(self).__name__
        strides = check_strides(strides, name)
        n = len(strides)
        if sizes is not None and scales is not None:
            raise ValueError(f'{name}: give either sizes (pixels, torchvision) or scales '
                             f'(multipliers of base_sizes, mmdet), not both; got sizes={sizes!r}, '
                             f'scales={scales!r}')
        if sizes is not None:
            if base_sizes is not None:
                raise ValueError(f'{name}: base_sizes={base_sizes!r} only applies to scales; '
                                 f'with sizes={sizes!r} leave it out')
            if isinstance(sizes, Sequence) and len(sizes) and all(_is_number(s) for s in sizes):
                sizes = tuple((s,) for s in sizes)  # torchvision: a flat tuple is one per level
            if not isinstance(sizes, Sequence) or len(sizes) != n:
                raise ValueError(f'{name}: sizes must hold one sequence of sizes per level '
                                 f'({n} levels for strides {list(strides)}), got {sizes!r}')
            level_sizes = tuple(check_positive_numbers(s, f'sizes[{i}]', name)
                                for i, s in enumerate(sizes))
        elif scales is not None:
            scales = check_positive_numbers(scales, 'scales', name)
            if base_sizes is None:
                base_sizes = strides
            base_sizes = check_positive_numbers(base_sizes, 'base_sizes', name)
            if len(base_sizes) != n:
                raise ValueError(f'{name}: base_sizes must have one entry per level ({n} for '
                                 f'strides {list(strides)}), got {list(base_sizes)!r}')
            level_sizes = tuple(tuple(b * s for s in scales) for b in base_sizes)
        else:
            raise ValueError(f'{name}: give sizes (per level, pixels; e.g. ((32,), (64,))) or '
                             'scales (multipliers of base_sizes, which default to the strides; '
                             'e.g. (8,)); got neither')

        if (isinstance(ratios, Sequence) and len(ratios)
                and all(isinstance(r, Sequence) and not isinstance(r, str) for r in ratios)):
            if len(ratios) != n:
                raise ValueError(f'{name}: per-level ratios must have one sequence per level '
                                 f'({n} for strides {list(strides)}), got {ratios!r}')
            level_ratios = tuple(check_positive_numbers(r, f'ratios[{i}]', name)
                                 for i, r in enumerate(ratios))
        else:
            level_ratios = (check_positive_numbers(ratios, 'ratios', name),) * n

        counts = [len(s) * len(r) for s, r in zip(level_sizes, level_ratios)]
        if len(set(counts)) != 1:
            raise ValueError(f'{name}: levels would have different numbers of anchors per '
                             f'location ({counts} = len(sizes) x len(ratios) per level, for '
                             f'sizes {level_sizes} and ratios {level_ratios}); a shared head '
                             'needs the same number at every level')
        self.sizes = level_sizes
        self.ratios = level_ratios
        super().__init__(strides, [self.generate_base_anchors(s, r)
                                   for s, r in zip(level_sizes, level_ratios)])

    @staticmethod
    def generate_base_anchors(sizes: Sequence[float], ratios: Sequence[float]) -> Tensor:
        """torchvision's ``AnchorGenerator.generate_anchors`` (float32, CPU).

        Args:
            sizes: S anchor sizes in pixels (side of the square of equal area).
            ratios: R aspect ratios h / w.

        Returns:
            float32 (R * S, 4) xyxy pixels centred on (0, 0), ratio-major, rounded half to even.
        """
        scales = torch.as_tensor(sizes, dtype=torch.float32)
        aspect_ratios = torch.as_tensor(ratios, dtype=torch.float32)
        h_ratios = torch.sqrt(aspect_ratios)
        w_ratios = 1 / h_ratios
        ws = (w_ratios[:, None] * scales[None, :]).view(-1)
        hs = (h_ratios[:, None] * scales[None, :]).view(-1)
        return (torch.stack([-ws, -hs, ws, hs], dim=1) / 2).round()

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(strides={list(self.strides)}, sizes={self.sizes}, '
                f'ratios={self.ratios[0] if len(set(self.ratios)) == 1 else self.ratios})')
