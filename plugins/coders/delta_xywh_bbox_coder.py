"""Box deltas relative to priors: the R-CNN parameterisation (tx, ty, tw, th).

Source: Girshick et al., R-CNN (CVPR 2014), appendix C, and Ren et al., Faster R-CNN (NIPS 2015),
sec. 3.1.2, eq. (2); code: mmdet's ``DeltaXYWHBBoxCoder`` (means/stds normalisation,
``wh_ratio_clip``) and torchvision's ``models/detection/_utils.BoxCoder`` (weights), without
py-faster-rcnn's "+1" widths.
"""
from __future__ import annotations

import math
from numbers import Real
from typing import Optional, Sequence, Union

import torch
from torch import Tensor

from registry import BBOX_CODERS
from zoo.api import clip_boxes, force_fp32

__all__ = ['DeltaXYWHBBoxCoder']

Shape = Union[Sequence[int], Tensor]


def _check_four(values, name: str, positive: bool) -> tuple[float, ...]:
    ok = (isinstance(values, Sequence) and not isinstance(values, str) and len(values) == 4
          and all(isinstance(v, Real) and not isinstance(v, bool) and math.isfinite(v)
                  and (v > 0 or not positive) for v in values))
    if not ok:
        what = 'four positive numbers' if positive else 'four finite numbers'
        raise ValueError(f'DeltaXYWHBBoxCoder: {name} must be {what} (x, y, w, h), got {values!r}')
    return tuple(float(v) for v in values)


@BBOX_CODERS.register_module()
class DeltaXYWHBBoxCoder:
    """Encode boxes as normalised centre/size deltas from priors (anchors or proposals), and back.

    With prior P and target G in xyxy pixels (widths ``x2 - x1``, no "+1"; centres
    ``x1 + 0.5 * w``)::

        dx = (gx - px) / pw    dy = (gy - py) / ph    dw = log(gw / pw)    dh = log(gh / ph)
        deltas = ((dx, dy, dw, dh) - target_means) / target_stds

    ``decode`` inverts this: ``d * stds + means``, then ``dw, dh`` are clamped to
    ``[-max_ratio, max_ratio]`` with ``max_ratio = |log(wh_ratio_clip)|`` (mmdet; so
    ``exp`` cannot overflow), then ``x1 = cx - 0.5 * w`` etc., then clipped to ``max_shape``.

    Equivalence with torchvision's ``BoxCoder(weights)``: ``weights = 1 / target_stds`` with
    zero means (stds 0.1, 0.1, 0.2, 0.2 <-> weights 10, 10, 5, 5, the paper's / py-faster-rcnn's
    ``BBOX_NORMALIZE_STDS``). Two differences in decode: torchvision clamps ``dw, dh`` only from
    above (at ``log(1000 / 16)``, the same bound as the default here), this coder from both
    sides, and torchvision never clips to the image.

    Args:
        target_means: (x, y, w, h) means subtracted from the raw deltas.
        target_stds: (x, y, w, h) positive stds that divide them.
        wh_ratio_clip: largest allowed shrink factor of a decoded side (and its inverse the
            largest growth), in (0, 1); default 16 / 1000 as in mmdet and torchvision.
        clip_border: clip decoded boxes to ``max_shape`` when one is given.

    Attributes:
        encode_size (int): 4, numbers per encoded box.

    Raises:
        ValueError: means/stds are not four finite numbers (stds positive), or
            ``wh_ratio_clip`` is not in (0, 1).
    """

    encode_size = 4

    def __init__(self, target_means: Sequence[float] = (0.0, 0.0, 0.0, 0.0),
                 target_stds: Sequence[float] = (1.0, 1.0, 1.0, 1.0),
                 wh_ratio_clip: float = 16 / 1000, clip_border: bool = True):
        self.target_means = _check_four(target_means, 'target_means', positive=False)
        self.target_stds = _check_four(target_stds, 'target_stds', positive=True)
        if not (isinstance(wh_ratio_clip, Real) and 0 < wh_ratio_clip < 1):
            raise ValueError(f'DeltaXYWHBBoxCoder: wh_ratio_clip must be a number in (0, 1) '
                             f'(e.g. 16 / 1000), got {wh_ratio_clip!r}')
        self.wh_ratio_clip = float(wh_ratio_clip)
        self.clip_border = bool(clip_border)

    @property
    def max_ratio(self) -> float:
        """``|log(wh_ratio_clip)|``: the bound of the decoded ``dw`` and ``dh``."""
        return abs(math.log(self.wh_ratio_clip))

    @force_fp32
    def encode(self, priors: Tensor, gt_bboxes: Tensor) -> Tensor:
        """Deltas that turn ``priors`` into ``gt_bboxes``.

        Args:
            priors: (..., 4) float xyxy pixels, positive width and height.
            gt_bboxes: (..., 4) xyxy pixels, broadcastable with ``priors`` (usually (N, 4) and
                (N, 4): each prior with its matched box); positive width and height (a zero
                side gives an infinite ``dw``/``dh``; the datasets drop such boxes).

        Returns:
            (broadcast shape, 4) normalised deltas ``(dx, dy, dw, dh)``, dtype of ``priors``.

        Raises:
            ValueError: a last dimension is not 4, or the shapes do not broadcast.
        """
        for name, t in (('priors', priors), ('gt_bboxes', gt_bboxes)):
            if t.dim() == 0 or t.shape[-1] != 4:
                raise ValueError(f'DeltaXYWHBBoxCoder.encode: {name} must be (..., 4) xyxy, got '
                                 f'shape {tuple(t.shape)}')
        try:
            torch.broadcast_shapes(priors.shape, gt_bboxes.shape)
        except RuntimeError:
            raise ValueError(f'DeltaXYWHBBoxCoder.encode: priors {tuple(priors.shape)} and '
                             f'gt_bboxes {tuple(gt_bboxes.shape)} do not broadcast; pass one '
                             'matched gt box per prior') from None
        gt_bboxes = gt_bboxes.to(priors.dtype)
        pw = priors[..., 2] - priors[..., 0]
        ph = priors[..., 3] - priors[..., 1]
        px = priors[..., 0] + 0.5 * pw
        py = priors[..., 1] + 0.5 * ph
        gw = gt_bboxes[..., 2] - gt_bboxes[..., 0]
        gh = gt_bboxes[..., 3] - gt_bboxes[..., 1]
        gx = gt_bboxes[..., 0] + 0.5 * gw
        gy = gt_bboxes[..., 1] + 0.5 * gh
        deltas = torch.stack(((gx - px) / pw, (gy - py) / ph,
                              torch.log(gw / pw), torch.log(gh / ph)), dim=-1)
        means = deltas.new_tensor(self.target_means)
        stds = deltas.new_tensor(self.target_stds)
        return (deltas - means) / stds

    @force_fp32
    def decode(self, priors: Tensor, deltas: Tensor,
               max_shape: Optional[Union[Shape, Sequence[Shape]]] = None) -> Tensor:
        """Boxes that ``deltas`` make of ``priors``.

        Args:
            priors: (N, 4) or (B, N, 4) xyxy pixels.
            deltas: (N, 4 * k) or (B, N, 4 * k): k boxes per prior (k = 1 class-agnostic, k = C
                for class-specific regression, class c in columns ``4c .. 4c + 3``). Priors (N, 4)
                serve every image of a (B, N, 4k) batch.
            max_shape: (h, w) pixels of the image the boxes must stay inside (x in [0, w],
                y in [0, h]); for a batch, either one (h, w) for all or a sequence of B of them
                (or a (B, 2) tensor). None: no clipping. Ignored when ``clip_border`` is False.

        Returns:
            xyxy pixel boxes, the shape of ``deltas``, dtype of ``deltas``.

        Raises:
            ValueError: ``deltas``' last dimension is not a multiple of 4; the leading shapes
                of ``priors`` and ``deltas`` disagree; ``max_shape`` is not (h, w) or one (h, w)
                per image.
        """
        if deltas.dim() not in (2, 3) or deltas.shape[-1] % 4 != 0:
            raise ValueError(f'DeltaXYWHBBoxCoder.decode: deltas must be (N, 4k) or (B, N, 4k), '
                             f'got shape {tuple(deltas.shape)}')
        if priors.dim() not in (2, 3) or priors.shape[-1] != 4 or priors.dim() > deltas.dim() \
                or priors.shape[:-1] != deltas.shape[deltas.dim() - priors.dim():-1]:
            raise ValueError(f'DeltaXYWHBBoxCoder.decode: priors of shape {tuple(priors.shape)} '
                             f'do not fit deltas of shape {tuple(deltas.shape)}; expected '
                             f'{tuple(deltas.shape[:-1]) + (4,)} or {(deltas.shape[-2], 4)}')
        k = deltas.shape[-1] // 4
        d = deltas.reshape(*deltas.shape[:-1], k, 4)
        means = d.new_tensor(self.target_means)
        stds = d.new_tensor(self.target_stds)
        d = d * stds + means
        priors = priors.to(d.dtype)[..., None, :]  # (..., N, 1, 4)
        pw = priors[..., 2] - priors[..., 0]
        ph = priors[..., 3] - priors[..., 1]
        px = priors[..., 0] + 0.5 * pw
        py = priors[..., 1] + 0.5 * ph
        dw = d[..., 2].clamp(min=-self.max_ratio, max=self.max_ratio)
        dh = d[..., 3].clamp(min=-self.max_ratio, max=self.max_ratio)
        cx = d[..., 0] * pw + px
        cy = d[..., 1] * ph + py
        half_w = 0.5 * (pw * torch.exp(dw))
        half_h = 0.5 * (ph * torch.exp(dh))
        boxes = torch.stack((cx - half_w, cy - half_h, cx + half_w, cy + half_h), dim=-1)
        if max_shape is not None and self.clip_border:
            boxes = self._clip(boxes, max_shape)
        return boxes.reshape(deltas.shape)

    @staticmethod
    def _clip(boxes: Tensor, max_shape) -> Tensor:
        """Clip (..., k, 4) boxes to (h, w), or per image to a (B, 2) of them when batched."""
        shape = torch.as_tensor(max_shape)
        if not (shape.shape == (2,) or (boxes.dim() == 4 and shape.shape == (boxes.shape[0], 2))):
            raise ValueError(f'DeltaXYWHBBoxCoder.decode: max_shape must be (h, w), or one (h, w) '
                             f'per image of a batch of {boxes.shape[0] if boxes.dim() == 4 else 1}'
                             f', got {max_shape!r}')
        return clip_boxes(boxes, shape)
