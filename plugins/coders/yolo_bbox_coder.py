"""YOLOv3's box parameterisation: cell offsets of the centre and log size ratios to the anchor.

Source: Redmon & Farhadi, "YOLOv3: An Incremental Improvement", 2018, section 2.1 (and YOLOv2,
Redmon & Farhadi 2017, section "Direct location prediction", figure 3)::

    b_x = sigma(t_x) + c_x        b_w = p_w * exp(t_w)
    b_y = sigma(t_y) + c_y        b_h = p_h * exp(t_h)

with (c_x, c_y) the cell's top-left corner in cells and (p_w, p_h) the anchor (prior) size.
In pixels of the input tensor the centre is ``(sigma(t_x) + c_x) * stride``; since the zoo's
YOLO anchors are centred in their cell (``p_cx = (c_x + 0.5) * stride``) this is
``p_cx + (sigma(t_x) - 0.5) * stride`` (mmdet's ``YOLOBBoxCoder``, which this coder follows).

The coder works on the *sigmoid-ed* offsets: a head applies ``sigmoid`` to ``t_x, t_y`` itself,
so that its box loss (squared error on ``(sigma(t_x), sigma(t_y), t_w, t_h)``, the default) and
:meth:`YOLOBBoxCoder.decode` see the same numbers.
"""
from __future__ import annotations

import math
from numbers import Real
from typing import Union

import torch
from torch import Tensor

from registry import BBOX_CODERS
from zoo.api import force_fp32

__all__ = ['YOLOBBoxCoder']


def _check(name: str, t, what: str = '(..., 4)') -> None:
    if not isinstance(t, Tensor) or t.dim() == 0 or t.shape[-1] != 4:
        shape = tuple(t.shape) if isinstance(t, Tensor) else type(t).__name__
        raise ValueError(f'YOLOBBoxCoder: {name} must be a {what} tensor, got {shape}')


@BBOX_CODERS.register_module()
class YOLOBBoxCoder:
    """Encode gt boxes as YOLOv3 targets relative to cell-centred anchors, and decode predictions.

    Args:
        eps: the encoded centre offsets are clamped to ``[eps, 1 - eps]`` (a gt centre on a cell
            border) and ``eps`` is added to the size ratios before the log (mmdet: 1e-6).
        max_log_ratio: decode clamps ``t_w, t_h`` to ``[-max_log_ratio, max_log_ratio]`` so that
            ``exp`` cannot overflow early in training (default ``log(1000 / 16)``, the bound of
            :class:`~plugins.coders.delta_xywh_bbox_coder.DeltaXYWHBBoxCoder`; a box at most 62.5
            times larger or smaller than its anchor).

    Attributes:
        encode_size (int): 4.

    Raises:
        ValueError: ``eps`` not in (0, 0.5), ``max_log_ratio`` not positive.
    """

    encode_size = 4

    def __init__(self, eps: float = 1e-6, max_log_ratio: float = math.log(1000.0 / 16)):
        if not (isinstance(eps, Real) and 0 < eps < 0.5):
            raise ValueError(f'YOLOBBoxCoder: eps must be a number in (0, 0.5), got {eps!r}')
        if not (isinstance(max_log_ratio, Real) and max_log_ratio > 0):
            raise ValueError(f'YOLOBBoxCoder: max_log_ratio must be a positive number, got '
                             f'{max_log_ratio!r}')
        self.eps, self.max_log_ratio = float(eps), float(max_log_ratio)

    @staticmethod
    def _stride(stride: Union[int, float, Tensor], like: Tensor) -> Tensor:
        s = torch.as_tensor(stride, dtype=like.dtype, device=like.device)
        return s[..., None] if s.dim() > 0 else s

    @force_fp32
    def encode(self, priors: Tensor, gt_bboxes: Tensor, stride: Union[int, float, Tensor]) -> Tensor:
        """Targets ``(sigma(t_x), sigma(t_y), t_w, t_h)`` that turn ``priors`` into ``gt_bboxes``.

        Args:
            priors: (..., 4) cell-centred anchors, xyxy pixels of the input tensor.
            gt_bboxes: (..., 4) matched gt boxes, xyxy pixels, the shape of ``priors``.
            stride: the cells' stride in pixels: a number, or a tensor of ``priors``' leading
                shape (one stride per prior, for priors of several levels).

        Returns:
            (..., 4): the gt centre's offset in the prior's cell, in [eps, 1 - eps] (x, then y),
            and ``log(gt_w / p_w + eps)``, ``log(gt_h / p_h + eps)``; dtype of ``priors``.

        Raises:
            ValueError: a last dimension is not 4, or the shapes differ.
        """
        _check('priors', priors)
        _check('gt_bboxes', gt_bboxes)
        if priors.shape != gt_bboxes.shape:
            raise ValueError(f'YOLOBBoxCoder.encode: priors {tuple(priors.shape)} and gt_bboxes '
                             f'{tuple(gt_bboxes.shape)} must have the same shape (one gt per prior)')
        gt_bboxes = gt_bboxes.to(priors.dtype)
        s = self._stride(stride, priors)
        p_c, p_wh = (priors[..., :2] + priors[..., 2:]) / 2, priors[..., 2:] - priors[..., :2]
        g_c = (gt_bboxes[..., :2] + gt_bboxes[..., 2:]) / 2
        g_wh = gt_bboxes[..., 2:] - gt_bboxes[..., :2]
        xy = ((g_c - p_c) / s + 0.5).clamp(self.eps, 1 - self.eps)
        wh = torch.log(g_wh / p_wh + self.eps)
        return torch.cat((xy, wh), dim=-1)

    @force_fp32
    def decode(self, priors: Tensor, pred: Tensor, stride: Union[int, float, Tensor]) -> Tensor:
        """Boxes from predictions ``(sigma(t_x), sigma(t_y), t_w, t_h)``.

        Args:
            priors: (N, 4) cell-centred anchors (xyxy pixels), shared by a batch, or the shape
                of ``pred``.
            pred: (..., N, 4): centre offsets already passed through a sigmoid (in [0, 1]) and
                raw log size ratios.
            stride: a number, or (N,) strides (one per prior).

        Returns:
            (..., N, 4) xyxy boxes in input-tensor pixels: centre ``p_c + (sigma(t) - 0.5) *
            stride``, size ``p_wh * exp(clamp(t_wh))``; dtype of ``pred``. Not clipped.

        Raises:
            ValueError: a last dimension is not 4, or ``priors`` does not fit ``pred``.
        """
        _check('priors', priors)
        _check('pred', pred)
        if pred.shape[-priors.dim():] != priors.shape:
            raise ValueError(f'YOLOBBoxCoder.decode: priors of shape {tuple(priors.shape)} do not '
                             f'fit predictions of shape {tuple(pred.shape)}')
        priors = priors.to(pred.dtype)
        s = self._stride(stride, pred)
        p_c, p_wh = (priors[..., :2] + priors[..., 2:]) / 2, priors[..., 2:] - priors[..., :2]
        c = p_c + (pred[..., :2] - 0.5) * s
        half = p_wh * torch.exp(pred[..., 2:].clamp(-self.max_log_ratio, self.max_log_ratio)) / 2
        return torch.cat((c - half, c + half), dim=-1)

    def __repr__(self) -> str:
        return f'{type(self).__name__}(eps={self.eps}, max_log_ratio={self.max_log_ratio:.4f})'
