"""Box operations on xyxy pixel boxes (no "+1" width), shared by all parts.

IoU comes from torchvision.ops; the rest are the few helpers every head needs.
"""
from __future__ import annotations

import torch
from torch import Tensor
from torchvision.ops import box_area, box_iou

__all__ = ['box_area', 'box_iou', 'clip_boxes', 'inside_flags', 'rescale_boxes']


def clip_boxes(boxes: Tensor, shape: tuple[int, int]) -> Tensor:
    """Clip boxes (..., 4) xyxy to an image of ``shape`` = (h, w) pixels: x in [0, w], y in [0, h]."""
    h, w = shape
    x = boxes[..., 0::2].clamp(min=0, max=w)
    y = boxes[..., 1::2].clamp(min=0, max=h)
    return torch.stack((x[..., 0], y[..., 0], x[..., 1], y[..., 1]), dim=-1).reshape(boxes.shape)


def inside_flags(boxes: Tensor, shape: tuple[int, int], allowed_border: float = 0) -> Tensor:
    """Bool (N,): boxes (N, 4) lying inside an image of ``shape`` (h, w), up to ``allowed_border``
    pixels outside. A negative ``allowed_border`` keeps every box (the paper ignores
    cross-boundary anchors during training, section 3.3; ``allowed_border=-1`` turns that off)."""
    if allowed_border < 0:
        return torch.ones(boxes.shape[0], dtype=torch.bool, device=boxes.device)
    h, w = shape
    return ((boxes[:, 0] >= -allowed_border) & (boxes[:, 1] >= -allowed_border)
            & (boxes[:, 2] <= w + allowed_border) & (boxes[:, 3] <= h + allowed_border))


def rescale_boxes(boxes: Tensor, scale_factor: tuple[float, float]) -> Tensor:
    """Boxes (N, 4) in resized-image pixels back to original pixels: divide by (w, h) factors."""
    sw, sh = scale_factor
    return boxes / boxes.new_tensor([sw, sh, sw, sh])
