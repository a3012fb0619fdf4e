"""YOLOv3's anchors: per level a list of (w, h) in pixels, centred in each feature cell.

Source: Redmon & Farhadi, "YOLOv3: An Incremental Improvement", 2018, section 2.3 (nine clusters
from k-means on COCO, three per scale: (10x13), (16x30), (33x23), (30x61), (62x45), (59x119),
(116x90), (156x198), (373x326)); darknet's ``yolov3.cfg`` ``anchors``/``mask``; mmdet's
``YOLOAnchorGenerator`` (the same arguments, ``base_sizes`` per level, but the zoo orders levels
finest first, as the features are). Anchors fitted to a dataset come from ``zoo anchors`` (see
:mod:`zoo.anchors.kmeans`).

The anchor of cell (y, x) and size (w, h) at stride s is centred on the cell's centre::

    ((x + 0.5) s - w / 2, (y + 0.5) s - h / 2, (x + 0.5) s + w / 2, (y + 0.5) s + h / 2)

(darknet: ``b_x = sigma(t_x) + c_x``, so a zero offset ``sigma(0) = 0.5`` is the centre), and the
anchor index is ``(y * W + x) * A + a`` as for every anchor scheme of the zoo.
"""
from __future__ import annotations

from numbers import Real
from typing import Sequence

import torch

from registry import ANCHOR_GENERATORS

from zoo.api import BaseAnchorGenerator, check_strides

__all__ = ['YOLOAnchorGenerator', 'YOLOV3_COCO_ANCHORS']

#: YOLOv3's COCO anchors (w, h) in pixels at a 416 x 416 input, finest level (stride 8) first.
YOLOV3_COCO_ANCHORS = (((10, 13), (16, 30), (33, 23)),
                       ((30, 61), (62, 45), (59, 119)),
                       ((116, 90), (156, 198), (373, 326)))


def _check_sizes(base_sizes, n_levels: int, strides) -> tuple[tuple[tuple[float, float], ...], ...]:
    def is_pair(p):
        return (isinstance(p, Sequence) and not isinstance(p, str) and len(p) == 2
                and all(isinstance(v, Real) and not isinstance(v, bool) and v > 0 for v in p))

    if (not isinstance(base_sizes, Sequence) or isinstance(base_sizes, str)
            or len(base_sizes) != n_levels
            or not all(isinstance(lv, Sequence) and len(lv) > 0 and all(is_pair(p) for p in lv)
                       for lv in base_sizes)):
        raise ValueError(f'YOLOAnchorGenerator: base_sizes must hold, for each of the {n_levels} '
                         f'levels (strides {list(strides)}), a non-empty list of (w, h) pairs of '
                         f'positive pixel sizes, got {base_sizes!r}')
    return tuple(tuple((float(w), float(h)) for w, h in lv) for lv in base_sizes)


@ANCHOR_GENERATORS.register_module()
class YOLOAnchorGenerator(BaseAnchorGenerator):
    """Anchors of given (w, h) sizes centred in every feature cell, one list per level.

    Args:
        strides: per level, input pixels per feature cell, finest first (YOLOv3: [8, 16, 32]).
        base_sizes: per level, a list of (w, h) in input-tensor pixels, the same number per
            level (YOLOv3: :data:`YOLOV3_COCO_ANCHORS`, the default).

    Attributes:
        strides, num_levels, num_base_anchors, base_anchors: see
            :class:`~zoo.api.BaseAnchorGenerator`.
        base_sizes (tuple): per level, the (w, h) pairs as floats.

    Shapes:
        ``grid_priors(featmap_sizes)`` -> per level (H * W * A, 4) xyxy pixels of the input tensor.
        :meth:`anchor_wh` -> (L, A, 2).

    Raises:
        ValueError: strides not positive ints; ``base_sizes`` without one non-empty list of
            positive (w, h) pairs per level, or with a different number of anchors per level.

    Example:
        >>> gen = YOLOAnchorGenerator([32], [[(10, 20)]])
        >>> gen.grid_priors([(1, 2)])[0].tolist()
        [[11.0, 6.0, 21.0, 26.0], [43.0, 6.0, 53.0, 26.0]]
    """

    def __init__(self, strides: Sequence[int] = (8, 16, 32),
                 base_sizes: Sequence = YOLOV3_COCO_ANCHORS):
        strides = check_strides(strides, type(self).__name__)
        self.base_sizes = _check_sizes(base_sizes, len(strides), strides)
        base = []
        for stride, sizes in zip(strides, self.base_sizes):
            wh = torch.tensor(sizes, dtype=torch.float32)
            c = stride / 2.0
            base.append(torch.cat((c - wh / 2, c + wh / 2), dim=1))
        super().__init__(strides, base)

    def anchor_wh(self, device='cpu', dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """The anchor sizes as a tensor (L, A, 2) of (w, h) pixels, level ``l`` at stride
        ``strides[l]``."""
        return torch.tensor(self.base_sizes, dtype=dtype, device=device)

    def __repr__(self) -> str:
        return f'{type(self).__name__}(strides={list(self.strides)}, base_sizes={self.base_sizes})'
