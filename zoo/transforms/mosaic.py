"""Mosaic: four training images in one canvas, with their boxes cut, moved and sanitized
(Bochkovskiy et al., "YOLOv4: Optimal Speed and Accuracy of Object Detection", 2020, section
3.3 "Mosaic"; the layout of mmdet's ``Mosaic`` and of the Ultralytics trainer's mosaic)."""
from __future__ import annotations

from numbers import Real
from typing import Optional, Sequence

import torch
from torchvision import tv_tensors
from torchvision.transforms.v2 import functional as F

from registry import TRANSFORMS

from .arguments import fill_value, number_pair

#: the four tiles, in the order of the images: the sample itself, then the three drawn ones
POSITIONS = ('top_left', 'top_right', 'bottom_left', 'bottom_right')


@TRANSFORMS.register_module()
class Mosaic:
    """Four training images in one canvas around a random centre (YOLOv4, section 3.3).

    The canvas is ``2 h x 2 w`` pixels for ``img_scale = (w, h)``, filled with ``pad_val``.
    A centre ``(cx, cy)`` is drawn uniformly in ``center_ratio_range`` times ``(w, h)``
    (pixels, truncated to integers). Each of the four images (this sample, then three drawn
    from the dataset) is resized, ratio kept, by ``min(h / h_i, w / w_i)`` (sizes rounded half
    up, as ``Resize`` does) and placed with one corner at the centre: the first image's
    bottom-right corner, the second's bottom-left, the third's top-right, the fourth's top-left
    (mmdet's ``top_left``, ``top_right``, ``bottom_left``, ``bottom_right``). What falls outside
    the canvas is cut off.

    Boxes (xyxy pixels): scaled with their image (x by ``w_i' / w_i``, y by ``h_i' / h_i``),
    moved by the image's offset in the canvas, then **cut to the visible part** of their image
    (the part of the image inside its quadrant of the canvas). A box whose visible part is
    empty, or narrower or shorter than ``min_bbox_size`` pixels, is dropped together with its
    label and ignore flag. For example, with ``img_scale=(8, 8)`` (a 16 x 16 canvas) and the
    centre at (6, 10), an 8 x 8 first image goes to x in [-2, 6), y in [2, 10): its box
    (0, 0, 4, 4) becomes (-2, 2, 2, 6), cut to (0, 2, 2, 6); its box (0, 0, 1, 1) is not
    visible and dropped.

    The output is a new image: ``img`` uint8 (3, 2h, 2w), ``gt_bboxes`` (canvas size (2h, 2w)),
    ``gt_labels``, ``gt_ignore_flags``; ``img_shape`` = ``ori_shape`` = (2h, 2w),
    ``scale_factor`` = (1.0, 1.0), ``flip`` = False and ``instances`` (the records of the kept
    boxes, canvas pixels), so later transforms (``Resize``, ``RandomFlip``, ``SanitizeBoxes``)
    work as on any image. ``img_path`` and ``img_id`` stay the first sample's. Follow it with a
    ``Resize`` to the network's input size (the canvas is twice ``img_scale``).

    Where the three other samples come from: in a dataset's pipeline, the pipeline calls
    :meth:`get_indexes` (draws the ``prob`` coin, then three indexes uniformly with
    ``torch.randint``), runs each drawn sample through the transforms *before* ``Mosaic`` and
    passes them as ``results['mix_results']`` (see :class:`~zoo.transforms.Compose`).
    Randomness comes from ``torch``'s generator, seeded per DataLoader worker by mmengine.

    Args:
        img_scale: ``(w, h)`` in pixels (mmdet's order); each image is fitted into it; the
            canvas is ``(2 w, 2 h)``.
        center_ratio_range: ``(low, high)``, the centre's range as a fraction of ``img_scale``,
            within [0, 2] (mmdet's default (0.5, 1.5)).
        prob: probability of making a mosaic for a sample, in [0, 1]; otherwise the sample
            goes on unchanged (and no other sample is loaded).
        pad_val: the canvas's fill value, 0..255 (YOLOv5's and mmdet's grey 114), one number or
            one per channel (R, G, B).
        min_bbox_size: boxes whose visible width or height is below it (pixels of the canvas)
            are dropped; a box with an empty visible part always is.

    Raises:
        ValueError: a malformed argument (named, with the value; built from a config, a
            ``ConfigError`` that also names the key path, e.g. ``pipeline.1 (Mosaic)``);
            at call time, ``results['mix_results']`` missing or not three results dicts
            (Mosaic called directly, outside a dataset's pipeline); a sample with
            ``proposals`` (precomputed proposals are not moved into a mosaic).
        ConfigError: a pipeline that holds ``Mosaic`` was called without a dataset (raised by
            :class:`~zoo.transforms.Compose`).
    """

    def __init__(self, img_scale: Sequence[int] = (640, 640),
                 center_ratio_range: Sequence[float] = (0.5, 1.5), prob: float = 1.0,
                 pad_val=114, min_bbox_size: float = 1):
        w, h = number_pair('Mosaic', 'img_scale', img_scale, positive=True)
        if w != int(w) or h != int(h):
            raise ValueError(f'Mosaic: `img_scale` must be whole pixels (w, h), got {img_scale!r}')
        self.img_scale = (int(w), int(h))
        lo, hi = number_pair('Mosaic', 'center_ratio_range', center_ratio_range)
        if not 0 <= lo <= hi <= 2:
            raise ValueError(f'Mosaic: `center_ratio_range` must be (low, high) with '
                              f'0 <= low <= high <= 2 (the centre inside the canvas), got '
                              f'{center_ratio_range!r}')
        self.center_ratio_range = (lo, hi)
        if isinstance(prob, bool) or not isinstance(prob, Real) or not 0 <= prob <= 1:
            raise ValueError(f'Mosaic: `prob` must be in [0, 1], got {prob!r}')
        self.prob = float(prob)
        self._fill = fill_value('Mosaic', pad_val)
        self.pad_val = pad_val
        if isinstance(min_bbox_size, bool) or not isinstance(min_bbox_size, Real) \
                or min_bbox_size < 0:
            raise ValueError(f'Mosaic: `min_bbox_size` must be a number >= 0 (pixels), got '
                              f'{min_bbox_size!r}')
        self.min_bbox_size = float(min_bbox_size)

    # the dataset side -------------------------------------------------------------------
    def get_indexes(self, dataset) -> Optional[list[int]]:
        """Three sample indexes drawn uniformly from ``dataset`` (with replacement, as mmdet),
        or None when the ``prob`` coin says no mosaic for this sample."""
        if self.prob < 1 and not torch.rand(()).item() < self.prob:
            return None
        return torch.randint(len(dataset), (3,)).tolist()

    def draw_center(self) -> tuple[int, int]:
        """``(cx, cy)`` in canvas pixels: ``int(u * w)``, ``int(v * h)``, u and v uniform in
        ``center_ratio_range``."""
        lo, hi = self.center_ratio_range
        u, v = (lo + (hi - lo) * torch.rand(2)).tolist()
        return int(u * self.img_scale[0]), int(v * self.img_scale[1])

    def __call__(self, results: dict) -> dict:
        mix = results.pop('mix_results', None)
        if not isinstance(mix, (list, tuple)) or len(mix) != 3:
            raise ValueError(
                'Mosaic needs results["mix_results"]: the three other samples, each through the '
                "transforms before Mosaic; a dataset's pipeline fills it (got "
                f'{"none" if mix is None else repr(type(mix).__name__) + " of " + str(len(mix))})')
        return self.mosaic(results, mix, self.draw_center())

    # the images and boxes -----------------------------------------------------------------
    def mosaic(self, results: dict, mix_results: Sequence[dict],
               center: tuple[int, int]) -> dict:
        """The mosaic of ``results`` and the three ``mix_results`` around ``center`` = (cx, cy)
        (canvas pixels); deterministic (see the class docstring). ``results`` is updated and
        returned.

        Raises:
            ValueError: a sample holds ``proposals``, or has no ``img``.
        """
        w, h = self.img_scale
        cw, ch = 2 * w, 2 * h
        cx, cy = int(center[0]), int(center[1])
        canvas = self._fill.view(-1, 1, 1).expand(3, ch, cw).clone()
        boxes, labels, flags = [], [], []
        for pos, sample in zip(POSITIONS, [results, *mix_results]):
            if sample.get('proposals') is not None:
                raise ValueError('Mosaic does not move precomputed proposals (LoadProposals); '
                                 'leave one of them out of the pipeline')
            if 'img' not in sample:
                raise ValueError(f'Mosaic: the {pos} sample has no `img`; put LoadImageFromFile '
                                 f'before Mosaic')
            img = sample['img']
            h0, w0 = int(img.shape[-2]), int(img.shape[-1])
            ratio = min(h / h0, w / w0)
            hi, wi = max(1, int(h0 * ratio + 0.5)), max(1, int(w0 * ratio + 0.5))
            if (hi, wi) != (h0, w0):
                img = F.resize(img, [hi, wi], antialias=True)
            # the image's top-left corner in the canvas, and its quadrant
            x0 = cx - wi if pos.endswith('left') else cx
            y0 = cy - hi if pos.startswith('top') else cy
            qx1, qx2 = (0, cx) if pos.endswith('left') else (cx, cw)
            qy1, qy2 = (0, cy) if pos.startswith('top') else (cy, ch)
            vx1, vx2 = max(x0, qx1), min(x0 + wi, qx2)  # the visible part, canvas pixels
            vy1, vy2 = max(y0, qy1), min(y0 + hi, qy2)
            if vx2 > vx1 and vy2 > vy1:
                canvas[:, vy1:vy2, vx1:vx2] = img[:, vy1 - y0:vy2 - y0, vx1 - x0:vx2 - x0]
            b = sample.get('gt_bboxes')
            if b is None or b.shape[0] == 0:
                continue
            b = torch.as_tensor(b).as_subclass(torch.Tensor).to(torch.float32).reshape(-1, 4)
            b = b * torch.tensor([wi / w0, hi / h0, wi / w0, hi / h0])
            b = b + torch.tensor([x0, y0, x0, y0], dtype=torch.float32)
            lo = torch.tensor([vx1, vy1, vx1, vy1], dtype=torch.float32)
            up = torch.tensor([vx2, vy2, vx2, vy2], dtype=torch.float32)
            boxes.append(torch.minimum(torch.maximum(b, lo), up))
            n = b.shape[0]
            labels.append(torch.as_tensor(sample.get('gt_labels', torch.zeros(n)),
                                          dtype=torch.int64).reshape(-1))
            flags.append(torch.as_tensor(sample.get('gt_ignore_flags', torch.zeros(n)),
                                         dtype=torch.bool).reshape(-1))
        boxes = torch.cat(boxes) if boxes else torch.zeros((0, 4))
        labels = torch.cat(labels) if labels else torch.zeros(0, dtype=torch.int64)
        flags = torch.cat(flags) if flags else torch.zeros(0, dtype=torch.bool)
        bw, bh = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
        keep = (bw > 0) & (bh > 0) & (bw >= self.min_bbox_size) & (bh >= self.min_bbox_size)
        boxes, labels, flags = boxes[keep], labels[keep], flags[keep]

        results['img'] = tv_tensors.Image(canvas)
        results['gt_bboxes'] = tv_tensors.BoundingBoxes(boxes, format='XYXY',
                                                        canvas_size=(ch, cw))
        results['gt_labels'], results['gt_ignore_flags'] = labels, flags
        results['img_shape'] = results['ori_shape'] = (ch, cw)
        results['scale_factor'] = (1.0, 1.0)
        results['flip'], results['flip_direction'] = False, None
        results['instances'] = [dict(bbox=bb, bbox_label=int(lb), ignore_flag=int(fl))
                                for bb, lb, fl in zip(boxes.tolist(), labels.tolist(),
                                                      flags.tolist())]
        return results

    def __repr__(self) -> str:
        return (f'Mosaic(img_scale={self.img_scale}, center_ratio_range='
                f'{self.center_ratio_range}, prob={self.prob}, pad_val={self.pad_val!r}, '
                f'min_bbox_size={self.min_bbox_size})')
