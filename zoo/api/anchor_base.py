"""What every grid anchor scheme shares: base anchors tiled over feature maps, cached.

A subclass computes its base anchors (one (A, 4) tensor per feature level, centred on the
origin of a feature cell) and hands them to :class:`BaseAnchorGenerator`, which tiles them over
the cells of each feature map (:meth:`BaseAnchorGenerator.grid_priors`), caches the result and
declares the strides the features must have (:meth:`BaseAnchorGenerator.consumes`).

The tiling is the one of py-faster-rcnn's ``anchor_target_layer.py``/``proposal_layer.py``,
torchvision's ``AnchorGenerator.grid_anchors`` and mmdet's ``AnchorGenerator.single_level_grid_priors``
(``center_offset=0``): the anchors of cell (y, x) are the base anchors shifted by
``(x * stride, y * stride, x * stride, y * stride)`` pixels; cells are taken row-major and the
anchors of one cell are consecutive, so the anchor index is ``(y * W + x) * A + a``.
"""
from __future__ import annotations

from collections import OrderedDict
from numbers import Integral, Real
from typing import Any, Sequence

import torch
from torch import Tensor

from registry import Requires

__all__ = ['BaseAnchorGenerator', 'check_positive_numbers', 'check_strides']


def check_strides(strides: Any, owner: str) -> tuple[int, ...]:
    """``strides`` as a tuple of positive ints; ValueError naming the argument otherwise."""
    if isinstance(strides, Integral) and not isinstance(strides, bool):
        strides = (strides,)
    if (not isinstance(strides, Sequence) or isinstance(strides, str) or len(strides) == 0
            or not all(isinstance(s, Integral) and not isinstance(s, bool) and s > 0
                       for s in strides)):
        raise ValueError(f'{owner}: strides must be a non-empty list of positive ints (input '
                         f'pixels per feature cell, one per level), got {strides!r}')
    return tuple(int(s) for s in strides)


def check_positive_numbers(values: Any, name: str, owner: str) -> tuple[float, ...]:
    """``values`` as a non-empty tuple of positive floats; ValueError naming ``name`` otherwise."""
    if (not isinstance(values, Sequence) or isinstance(values, str) or len(values) == 0
            or not all(isinstance(v, Real) and not isinstance(v, bool) and v > 0 for v in values)):
        raise ValueError(f'{owner}: {name} must be a non-empty sequence of positive numbers, '
                         f'got {values!r}')
    return tuple(float(v) for v in values)


class BaseAnchorGenerator:
    """Tiles per-level base anchors over feature maps (not registered; subclass it).

    Args:
        strides: one positive int per feature level, input-tensor pixels per feature cell.
        base_anchors: one float tensor (A, 4) per level, xyxy pixels relative to the top-left
            corner of a feature cell (the cell's origin, no half-cell offset); the same A for
            every level.

    Attributes:
        strides (tuple[int, ...]): as given.
        num_levels (int): ``len(strides)``.
        num_base_anchors (int): A, anchors per feature cell (the same at every level).
        base_anchors (list[Tensor]): per level, float32 (A, 4) on the CPU.

    Raises:
        ValueError: ``strides`` is not a non-empty list of positive ints; ``base_anchors`` has
            not one (A, 4) tensor per level, or A differs between levels (a head predicts the
            same number of anchors at every level: its convolutions are shared).
    """

    #: How many (featmap_sizes, device, dtype) results :meth:`grid_priors` keeps.
    cache_size = 8

    def __init__(self, strides: Sequence[int], base_anchors: Sequence[Tensor]):
        name = type(self).__name__
        self.strides = check_strides(strides, name)
        if len(base_anchors) != len(self.strides):
            raise ValueError(f'{name}: {len(base_anchors)} levels of base anchors for '
                             f'{len(self.strides)} strides {list(self.strides)}')
        for level, anchors in enumerate(base_anchors):
            if anchors.dim() != 2 or anchors.shape[1] != 4 or anchors.shape[0] == 0:
                raise ValueError(f'{name}: base anchors of level {level} must be (A, 4) with '
                                 f'A >= 1, got shape {tuple(anchors.shape)}')
        counts = [int(a.shape[0]) for a in base_anchors]
        if len(set(counts)) != 1:
            raise ValueError(f'{name}: the number of anchors per location differs between levels '
                             f'({counts} for strides {list(self.strides)}); a shared head needs '
                             'the same number at every level')
        self.base_anchors = [a.detach().to('cpu', torch.float32) for a in base_anchors]
        self._cache: OrderedDict[tuple, list[Tensor]] = OrderedDict()

    @property
    def num_levels(self) -> int:
        return len(self.strides)

    @property
    def num_base_anchors(self) -> int:
        return int(self.base_anchors[0].shape[0])

    def consumes(self) -> list[Requires]:
        """The features this scheme is applied to must have exactly these strides, in this order."""
        return [Requires('strides', list(self.strides), 'strides', 'equal')]

    def single_level_grid_priors(self, featmap_size: tuple[int, int], level: int,
                                 device: Any = 'cpu', dtype: torch.dtype = torch.float32) -> Tensor:
        """Anchors of one level, uncached.

        Args:
            featmap_size: (H, W) cells of the feature map.
            level: index into ``strides``/``base_anchors``.
            device, dtype: of the result.

        Returns:
            (H * W * A, 4) xyxy pixels of the input tensor; row ``(y * W + x) * A + a`` is base
            anchor ``a`` shifted by ``(x, y, x, y) * stride``. The shifts are computed as integers
            and converted once, as torchvision does, so float32 results are exact integers
            plus the base anchors.
        """
        h, w = featmap_size
        stride = self.strides[level]
        shift_x = torch.arange(w, device=device, dtype=torch.int64) * stride
        shift_y = torch.arange(h, device=device, dtype=torch.int64) * stride
        sy, sx = torch.meshgrid(shift_y, shift_x, indexing='ij')
        sx, sy = sx.reshape(-1), sy.reshape(-1)
        shifts = torch.stack((sx, sy, sx, sy), dim=1).to(dtype)
        base = self.base_anchors[level].to(device=device, dtype=dtype)
        return (shifts.unsqueeze(1) + base.unsqueeze(0)).reshape(-1, 4)

    def grid_priors(self, featmap_sizes: Sequence[tuple[int, int]], device: Any = 'cpu',
                    dtype: torch.dtype = torch.float32) -> list[Tensor]:
        """Anchors of every level, tiled over feature maps of the given sizes.

        Args:
            featmap_sizes: one (H, W) per level (ints or ``torch.Size``), in the order of
                ``strides``.
            device: where the anchors go (``'cpu'``, ``'cuda:0'``, a ``torch.device``).
            dtype: their float dtype.

        Returns:
            A new list with, per level, a tensor (H * W * A, 4) of xyxy anchors in pixels of the
            input tensor (see :meth:`single_level_grid_priors` for the order).

        Cache:
            The tensors are kept in a small LRU dict keyed by (sizes, device, dtype), holding the
            last :attr:`cache_size` keys, so a detector asks every iteration at no cost (torchvision
            rebuilds its anchors on every call). A second call with the same key returns the
            *same tensor objects*: treat them as read-only (no in-place ops).

        Raises:
            ValueError: not one (H, W) pair of non-negative ints per level.
        """
        if len(featmap_sizes) != self.num_levels:
            raise ValueError(f'{type(self).__name__}.grid_priors: featmap_sizes has '
                             f'{len(featmap_sizes)} levels, but the scheme has {self.num_levels} '
                             f'(strides {list(self.strides)}); got {list(featmap_sizes)!r}')
        if torch.jit.is_tracing():  # ONNX export: the sizes are traced tensors, kept symbolic
            return [self.single_level_grid_priors((h, w), level, device, dtype)
                    for level, (h, w) in enumerate(featmap_sizes)]
        try:
            sizes = tuple((int(h), int(w)) for h, w in featmap_sizes)
        except (TypeError, ValueError):
            raise ValueError(f'{type(self).__name__}.grid_priors: featmap_sizes must hold one '
                             f'(H, W) pair of ints per level, got {featmap_sizes!r}') from None
        if any(h < 0 or w < 0 for h, w in sizes):
            raise ValueError(f'{type(self).__name__}.grid_priors: featmap_sizes must be '
                             f'non-negative, got {sizes!r}')
        device = torch.device(device)
        key = (sizes, device, dtype)
        cached = self._cache.get(key)
        if cached is None:
            cached = [self.single_level_grid_priors(size, level, device, dtype)
                      for level, size in enumerate(sizes)]
            self._cache[key] = cached
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(key)
        return list(cached)

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(strides={list(self.strides)}, '
                f'num_base_anchors={self.num_base_anchors})')
