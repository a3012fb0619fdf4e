"""Spatial pyramid pooling as YOLOv3-SPP uses it: parallel max pools of stride 1 and 'same'
padding, concatenated with their input.

Source: darknet's ``yolov3-spp.cfg`` (the ``[maxpool] stride=1 size=5/9/13`` layers and the
``[route] layers=-1,-3,-5,-6`` after them, between the third and fourth convolutions of the
first detection branch), after He et al., "Spatial Pyramid Pooling in Deep Convolutional
Networks", ECCV 2014, here without the fixed-size bins: every pool keeps the map's size. The
same block is mmdet's ``SPPBottleneck`` (YOLOX) without its convolutions and Ultralytics' ``SPP``
without them.

Channel order: ``[x, pool_5(x), pool_9(x), pool_13(x)]`` (mmdet's and Ultralytics'); darknet's
route stacks them in the reverse order (13, 9, 5, input). A fixed permutation of the channels
feeding a convolution changes nothing for a network trained from scratch.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ['SPP']


class SPP(nn.Module):
    """Max pools of stride 1 with padding ``k // 2`` (the map keeps its size; padded cells never
    win: :func:`torch.nn.functional.max_pool2d` pads with -inf), concatenated after the input.

    Args:
        kernel_sizes: odd positive pool sizes (YOLOv3-SPP: ``(5, 9, 13)``).

    Attributes:
        kernel_sizes (tuple[int, ...]); ``expansion`` = ``len(kernel_sizes) + 1``, the factor on
        the channels.

    Shapes: (B, C, H, W) -> (B, C * expansion, H, W).

    Raises:
        ValueError: ``kernel_sizes`` empty or not odd positive ints (an even pool cannot keep the
            map's size with stride 1).
    """

    def __init__(self, kernel_sizes: Sequence[int] = (5, 9, 13)):
        super().__init__()
        if (not isinstance(kernel_sizes, Sequence) or isinstance(kernel_sizes, str) or not kernel_sizes
                or any(not isinstance(k, int) or isinstance(k, bool) or k <= 0 or k % 2 == 0
                       for k in kernel_sizes)):
            raise ValueError(f'SPP: kernel_sizes must be a non-empty list of odd positive ints (the '
                             f"pools keep the map's size), got {kernel_sizes!r}")
        self.kernel_sizes = tuple(kernel_sizes)
        self.expansion = len(self.kernel_sizes) + 1

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat([x] + [F.max_pool2d(x, k, stride=1, padding=k // 2) for k in self.kernel_sizes], 1)

    def extra_repr(self) -> str:
        return f'kernel_sizes={self.kernel_sizes}'
