"""A random scale-and-translate of the image and its boxes into an output of a chosen size: the
step after ``Mosaic`` that crops the 2x canvas back to the network's input at the test scale
(mmdet's ``RandomAffine`` with ``border=-img_scale // 2``; Ultralytics' ``random_perspective``
with ``border=-imgsz // 2``), without rotation or shear."""
from __future__ import annotations

from numbers import Real
from typing import Sequence

import torch
from torchvision import tv_tensors
from torchvision.transforms.v2 import functional as F

from registry import TRANSFORMS

from ..structures.boxes import clip_boxes
from .arguments import fill_value, number_pair


@TRANSFORMS.register_module()
class RandomAffine:
    """Scale the image by ``s`` about its centre and move it by ``(tx, ty)`` into an output of
    ``(H + 2 by, W + 2 bx)`` pixels for an input of ``(H, W)`` and ``border = (bx, by)``.

    The map (mmdet's and Ultralytics' matrix without rotation and shear): an input pixel
    ``(x, y)`` goes to ``(s (x - W/2) + tx, s (y - H/2) + ty)``, with ``s`` uniform in
    ``scaling_ratio_range`` and ``tx`` (``ty``) uniform in ``(0.5 +- max_translate_ratio)``
    times the output width (height). The image is resized by ``s`` (sizes rounded half up;
    ``antialias``) and pasted at the integer offset ``(round(tx - s' W / 2), round(ty - s' H /
    2))`` (``s'`` the rounded size's ratio) into a canvas filled with ``pad_val``; boxes (xyxy
    pixels) are scaled by ``(W' / W, H' / H)``, moved by the same offset and clipped to the
    output, so they stay exactly on their pixels.

    A box is then kept when its clipped width and height are at least ``min_bbox_size``
    pixels, its clipped area is more than ``min_area_ratio`` of its moved, unclipped area (the
    share of the object still visible) and its aspect ratio (long / short side) is below
    ``max_aspect_ratio`` (Ultralytics' ``box_candidates``); the others are dropped with their
    label and ignore flag. After ``Mosaic(img_scale=(w, h))`` (a ``2h x 2w`` canvas),
    ``border=(-w // 2, -h // 2)`` gives a ``h x w`` output at the original scale times ``s``.
    The border is in pixels of whatever image arrives: with a ``Mosaic`` of ``prob < 1`` the
    samples left without a mosaic are cropped by the same border (use ``prob=1``, as mmdet's
    and Ultralytics' pipelines do, or a ``Resize`` to the canvas size before it).

    Sets ``img`` (uint8 (3, H_out, W_out)), ``gt_bboxes`` (canvas size ``(H_out, W_out)``),
    ``gt_labels``, ``gt_ignore_flags``, ``img_shape`` and ``instances`` (the kept boxes);
    ``ori_shape``, ``scale_factor`` and ``flip`` describe the new image as Mosaic's do, so
    it is used only on training samples whose ground truth it rewrites.

    Args:
        scaling_ratio_range: ``(low, high)``, ``0 < low <= high`` (mmdet's default (0.5, 1.5)).
        max_translate_ratio: in [0, 0.5] (default 0.1).
        border: ``(bx, by)`` pixels added to each side (negative: cropped), mmdet's order.
        pad_val: the fill, 0..255, one number or one per channel (R, G, B) (default 114).
        min_bbox_size: pixels (default 2, mmdet's); min_area_ratio: in [0, 1) (default 0.1);
        max_aspect_ratio: > 1 (default 20).

    Raises:
        ValueError: a malformed argument, named with its value; an output size below one pixel
            for the image given (at call time, naming the image's size and the border); a
            sample with ``proposals`` (not moved by this transform).

    Source: mmdet ``RandomAffine`` (``mmdet/datasets/transforms/transforms.py``), Ultralytics
    ``RandomPerspective`` / ``box_candidates``; used after Mosaic as in YOLOv5/YOLOX.
    """

    def __init__(self, scaling_ratio_range: Sequence[float] = (0.5, 1.5),
                 max_translate_ratio: float = 0.1, border: Sequence[int] = (0, 0),
                 pad_val=114, min_bbox_size: float = 2, min_area_ratio: float = 0.1,
                 max_aspect_ratio: float = 20):
        lo, hi = number_pair('RandomAffine', 'scaling_ratio_range', scaling_ratio_range)
        if not 0 < lo <= hi:
            raise ValueError(f'RandomAffine: `scaling_ratio_range` must be (low, high) with '
                             f'0 < low <= high, got {scaling_ratio_range!r}')
        self.scaling_ratio_range = (lo, hi)
        if isinstance(max_translate_ratio, bool) or not isinstance(max_translate_ratio, Real) \
                or not 0 <= max_translate_ratio <= 0.5:
            raise ValueError(f'RandomAffine: `max_translate_ratio` must be in [0, 0.5], got '
                             f'{max_translate_ratio!r}')
        self.max_translate_ratio = float(max_translate_ratio)
        bx, by = number_pair('RandomAffine', 'border', border)
        if bx != int(bx) or by != int(by):
            raise ValueError(f'RandomAffine: `border` must be whole pixels (bx, by), got {border!r}')
        self.border = (int(bx), int(by))
        self._fill = fill_value('RandomAffine', pad_val)
        self.pad_val = pad_val
        for name, value, ok in (('min_bbox_size', min_bbox_size, lambda v: v >= 0),
                                ('min_area_ratio', min_area_ratio, lambda v: 0 <= v < 1),
                                ('max_aspect_ratio', max_aspect_ratio, lambda v: v > 1)):
            if isinstance(value, bool) or not isinstance(value, Real) or not ok(value):
                raise ValueError(f'RandomAffine: `{name}` out of range, got {value!r} (min_bbox_size '
                                 '>= 0, 0 <= min_area_ratio < 1, max_aspect_ratio > 1)')
        self.min_bbox_size = float(min_bbox_size)
        self.min_area_ratio = float(min_area_ratio)
        self.max_aspect_ratio = float(max_aspect_ratio)

    def output_size(self, h: int, w: int) -> tuple[int, int]:
        """(H_out, W_out) for an input of (h, w); ValueError if below one pixel."""
        oh, ow = h + 2 * self.border[1], w + 2 * self.border[0]
        if oh < 1 or ow < 1:
            raise ValueError(f'RandomAffine: border {self.border} leaves no output for an image '
                             f'of {w} x {h} pixels (w x h)')
        return oh, ow

    def draw(self, h: int, w: int) -> tuple[float, float, float]:
        """``(s, tx, ty)`` drawn with ``torch``'s generator for an input of (h, w)."""
        oh, ow = self.output_size(h, w)
        lo, hi = self.scaling_ratio_range
        r = self.max_translate_ratio
        u = torch.rand(3).tolist()
        return (lo + (hi - lo) * u[0], (0.5 - r + 2 * r * u[1]) * ow, (0.5 - r + 2 * r * u[2]) * oh)

    def __call__(self, results: dict) -> dict:
        h, w = int(results['img'].shape[-2]), int(results['img'].shape[-1])
        return self.warp(results, *self.draw(h, w))

    def warp(self, results: dict, scale: float, tx: float, ty: float) -> dict:
        """Apply the map of scale ``scale`` and output position ``(tx, ty)`` of the input's
        centre (pixels); deterministic (see the class docstring). ``results`` is updated and
        returned."""
        if results.get('proposals') is not None:
            raise ValueError('RandomAffine does not move precomputed proposals (LoadProposals); '
                             'leave one of them out of the pipeline')
        img = results['img']
        h, w = int(img.shape[-2]), int(img.shape[-1])
        oh, ow = self.output_size(h, w)
        hs, ws = max(1, int(h * scale + 0.5)), max(1, int(w * scale + 0.5))
        if (hs, ws) != (h, w):
            img = F.resize(img.as_subclass(torch.Tensor), [hs, ws], antialias=True)
        ox, oy = int(round(tx - ws / 2)), int(round(ty - hs / 2))
        canvas = self._fill.view(-1, 1, 1).expand(img.shape[0], oh, ow).clone()
        vx1, vx2 = max(ox, 0), min(ox + ws, ow)  # the pasted part, output pixels
        vy1, vy2 = max(oy, 0), min(oy + hs, oh)
        if vx2 > vx1 and vy2 > vy1:
            canvas[:, vy1:vy2, vx1:vx2] = img[:, vy1 - oy:vy2 - oy, vx1 - ox:vx2 - ox]

        boxes = results.get('gt_bboxes')
        b = torch.zeros((0, 4)) if boxes is None else \
            torch.as_tensor(boxes).as_subclass(torch.Tensor).to(torch.float32).reshape(-1, 4)
        n = b.shape[0]
        labels = torch.as_tensor(results.get('gt_labels', torch.zeros(n)), dtype=torch.int64).reshape(-1)
        flags = torch.as_tensor(results.get('gt_ignore_flags', torch.zeros(n)),
                                dtype=torch.bool).reshape(-1)
        moved = b * torch.tensor([ws / w, hs / h, ws / w, hs / h]) \
            + torch.tensor([ox, oy, ox, oy], dtype=torch.float32)
        clipped = clip_boxes(moved, (oh, ow))
        keep = self.keep_mask(moved, clipped)
        clipped, labels, flags = clipped[keep], labels[keep], flags[keep]

        results['img'] = tv_tensors.Image(canvas)
        results['gt_bboxes'] = tv_tensors.BoundingBoxes(clipped, format='XYXY', canvas_size=(oh, ow))
        results['gt_labels'], results['gt_ignore_flags'] = labels, flags
        results['img_shape'] = results['ori_shape'] = (oh, ow)
        results['scale_factor'] = (1.0, 1.0)
        results['flip'], results['flip_direction'] = False, None
        results['instances'] = [dict(bbox=bb, bbox_label=int(lb), ignore_flag=int(fl))
                                for bb, lb, fl in zip(clipped.tolist(), labels.tolist(),
                                                      flags.tolist())]
        return results

    def keep_mask(self, moved: torch.Tensor, clipped: torch.Tensor) -> torch.Tensor:
        """Bool (N,): boxes kept, from the moved boxes (N, 4) and the same clipped (xyxy)."""
        wh = clipped[:, 2:] - clipped[:, :2]
        area = wh[:, 0] * wh[:, 1]
        full = (moved[:, 2] - moved[:, 0]) * (moved[:, 3] - moved[:, 1])
        aspect = torch.maximum(wh[:, 0] / wh[:, 1].clamp(min=1e-6), wh[:, 1] / wh[:, 0].clamp(min=1e-6))
        return ((wh > 0).all(1) & (wh >= self.min_bbox_size).all(1)
                & (area > self.min_area_ratio * full) & (aspect < self.max_aspect_ratio))

    def __repr__(self) -> str:
        return (f'RandomAffine(scaling_ratio_range={self.scaling_ratio_range}, '
                f'max_translate_ratio={self.max_translate_ratio}, border={self.border}, '
                f'pad_val={self.pad_val!r}, min_bbox_size={self.min_bbox_size}, '
                f'min_area_ratio={self.min_area_ratio}, max_aspect_ratio={self.max_aspect_ratio})')
