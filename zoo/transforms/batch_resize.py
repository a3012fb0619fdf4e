"""Multi-scale training: the whole batch resized to a size drawn every N batches (Redmon & Farhadi,
"YOLO9000: Better, Faster, Stronger", CVPR 2017, section 2 "Multi-Scale Training"; mmdet's
``BatchSyncRandomResize``)."""
from __future__ import annotations

import math
from numbers import Integral
from typing import Optional, Sequence

import torch
import torch.nn.functional as F
from mmengine.dist import broadcast, get_rank
from torch import Tensor

from registry import TRANSFORMS


def _scaled(shape, sy: float, sx: float) -> tuple[int, int]:
    """(h, w) times (sy, sx), rounded half up as ``Resize`` rounds."""
    return int(shape[0] * sy + 0.5), int(shape[1] * sx + 0.5)


@TRANSFORMS.register_module()
class BatchSyncRandomResize:
    """Multi-scale training (YOLOv2, section 2, "Multi-Scale Training"): resize every training
    batch to one size, drawn anew every ``interval`` batches, the same on every process (a batch
    augmentation of ``DetDataPreprocessor``, its ``batch_augments`` key).

    YOLOv2 (section 2, "Multi-Scale Training"): "every 10 batches our network randomly chooses a
    new image dimension size ... we pull from the following multiples of 32: {320, 352, ...,
    608}": ``random_size_range=(320, 608), size_divisor=32, interval=10``.

    The size: ``S = k * size_divisor`` with ``k`` uniform among the integers of
    ``[ceil(low / d), floor(high / d)]`` (``torch.randint``), so ``low <= S <= high``. It is the
    longer side of the new batch; the shorter side keeps the batch's aspect ratio (at the batch
    where the size is drawn) and is a multiple of ``size_divisor`` too:
    ``max(1, round(k * short / long)) * d``. A square batch (YOLO's) becomes ``S x S``. mmdet
    draws the height and lets the width follow the ratio, so its width can leave the range;
    here neither side does.

    When: the size is drawn at the preprocessor's training batches number 0, ``interval``,
    ``2 interval``, ... (counted by this object, from 0 at construction: after a resume the
    count starts again) and kept for the ``interval`` batches from there. In distributed
    training rank 0 draws and ``mmengine.dist.broadcast`` sends the size to every rank (a no-op
    in one process), so all processes resize to the same size at the same batch.

    The resize (mmdet's): the padded batch ``inputs`` (B, 3, H, W) goes through
    ``torch.nn.functional.interpolate`` (bilinear, ``align_corners=False``) to (H', W') =
    the drawn size; with ``sy = H' / H`` and ``sx = W' / W`` every sample's ``gt_instances.bboxes``
    and ``proposals.bboxes`` (xyxy pixels) are multiplied by ``(sx, sy, sx, sy)``,
    ``img_shape`` and ``pad_shape`` become ``(int(h * sy + 0.5), int(w * sx + 0.5))``,
    ``batch_input_shape`` becomes (H', W'), and ``scale_factor`` (w, h) is multiplied by
    ``(sx, sy)``, so that boxes divided by it are in original-image pixels again. A batch
    already of the drawn size is left as it is.

    Args:
        random_size_range: ``(low, high)`` pixels, the range of the drawn (longer) side.
        interval: draw a new size every ``interval`` batches (YOLOv2: 10).
        size_divisor: the drawn sizes are its multiples: the model's largest stride (32).

    Raises:
        ValueError: a malformed range (not two positive numbers with low <= high), no multiple
            of ``size_divisor`` inside it, ``interval`` or ``size_divisor`` below 1 (built from a
            config: a ``ConfigError`` naming the key path, e.g.
            ``data_preprocessor.batch_augments.0``); at call time, ``inputs`` is not a
            (B, C, H, W) tensor, or the data samples do not match it.
    """

    def __init__(self, random_size_range: Sequence[int] = (320, 608), interval: int = 10,
                 size_divisor: int = 32):
        for name, v in (('interval', interval), ('size_divisor', size_divisor)):
            if isinstance(v, bool) or not isinstance(v, Integral) or v < 1:
                raise ValueError(f'BatchSyncRandomResize: `{name}` must be an integer >= 1, got '
                                  f'{v!r}')
        if (isinstance(random_size_range, (str, bytes))
                or not isinstance(random_size_range, Sequence) or len(random_size_range) != 2
                or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0
                           for v in random_size_range)
                or random_size_range[0] > random_size_range[1]):
            raise ValueError(f'BatchSyncRandomResize: `random_size_range` must be (low, high) '
                              f'pixels with 0 < low <= high, got {random_size_range!r}')
        d = int(size_divisor)
        k_lo = math.ceil(random_size_range[0] / d)
        k_hi = math.floor(random_size_range[1] / d)
        if k_hi < max(k_lo, 1):
            raise ValueError(f'BatchSyncRandomResize: no multiple of size_divisor={d} lies in '
                              f'random_size_range={tuple(random_size_range)!r}')
        self.random_size_range = (int(random_size_range[0]), int(random_size_range[1]))
        self.interval, self.size_divisor = int(interval), d
        self._k_range = (max(k_lo, 1), k_hi)
        self._input_size: Optional[tuple[int, int]] = None
        self._batches = 0

    @property
    def input_size(self) -> Optional[tuple[int, int]]:
        """The current (H', W'), None before the first batch."""
        return self._input_size

    def draw_size(self, height: int, width: int, device=None) -> tuple[int, int]:
        """A new (H', W') for a batch of (height, width) (see the class docstring); rank 0
        draws and broadcasts it to the other ranks."""
        size = torch.zeros(2, dtype=torch.int64, device=device)
        if get_rank() == 0:
            d = self.size_divisor
            k = int(torch.randint(self._k_range[0], self._k_range[1] + 1, ()).item())
            short = max(1, int(round(k * min(height, width) / max(height, width))))
            size[0], size[1] = (k * d, short * d) if height >= width else (short * d, k * d)
        broadcast(size, src=0)
        return int(size[0]), int(size[1])

    def __call__(self, inputs: Tensor, data_samples: Optional[list] = None):
        """Resize the batch (and its samples' boxes and shapes); returns
        ``(inputs, data_samples)``."""
        if not isinstance(inputs, Tensor) or inputs.dim() != 4:
            raise ValueError(f'BatchSyncRandomResize: inputs must be a (B, C, H, W) tensor, got '
                             f'{tuple(getattr(inputs, "shape", ()))}')
        if data_samples is not None and len(data_samples) != inputs.shape[0]:
            raise ValueError(f'BatchSyncRandomResize: {inputs.shape[0]} images but '
                             f'{len(data_samples)} data samples')
        h, w = int(inputs.shape[-2]), int(inputs.shape[-1])
        if self._input_size is None or self._batches % self.interval == 0:
            self._input_size = self.draw_size(h, w, inputs.device)
        self._batches += 1
        th, tw = self._input_size
        if (th, tw) == (h, w):
            return inputs, data_samples
        layout = (torch.channels_last if inputs.is_contiguous(memory_format=torch.channels_last)
                  and not inputs.is_contiguous() else torch.contiguous_format)
        inputs = F.interpolate(inputs, size=(th, tw), mode='bilinear',
                               align_corners=False).contiguous(memory_format=layout)
        sy, sx = th / h, tw / w
        factors = torch.tensor([sx, sy, sx, sy], dtype=torch.float32, device=inputs.device)
        for sample in data_samples or ():
            meta = dict(batch_input_shape=(th, tw))
            for key in ('img_shape', 'pad_shape'):
                if key in sample.metainfo:
                    meta[key] = _scaled(sample.metainfo[key], sy, sx)
            if 'scale_factor' in sample.metainfo:
                fw, fh = sample.metainfo['scale_factor']
                meta['scale_factor'] = (fw * sx, fh * sy)
            sample.set_metainfo(meta)
            for field in ('gt_instances', 'proposals'):
                if field in sample and 'bboxes' in sample.get(field):
                    inst = sample.get(field)
                    inst.bboxes = inst.bboxes * factors.to(inst.bboxes)
        return inputs, data_samples

    def __repr__(self) -> str:
        return (f'BatchSyncRandomResize(random_size_range={self.random_size_range}, '
                f'interval={self.interval}, size_divisor={self.size_divisor})')
