"""The pixel rules of the three annotation formats: how each format's numbers become the zoo's
boxes and back. Every reader and writer of the zoo (datasets, ``zoo data convert``) uses these.

The zoo's box: ``[x1, y1, x2, y2]`` in float pixels of the original image, no "+1" width
(``w = x2 - x1``); the image covers ``[0, W] x [0, H]``. Per format:

* **Pascal VOC** ``<bndbox>``: integers ``xmin, ymin, xmax, ymax``, 1-based indices of the first
  and last pixel covered. Read as mmdet 3.x and py-faster-rcnn do: ``(xmin - 1, ymin - 1,
  xmax - 1, ymax - 1)``. Written back as ``round(x) + 1`` per value, so a box read from VOC
  is written to the same integers; a box whose corners are not whole pixels is rounded to the
  nearest one (VOC cannot hold fractions).
* **COCO** ``bbox``: ``[x, y, w, h]`` in continuous pixels; ``[x, y, x + w, y + h]``, and back.
* **YOLO txt**: ``class cx cy w h`` normalized by the image's width ``W`` and height ``H``:
  ``x1 = (cx - w / 2) W, y1 = (cy - h / 2) H, x2 = (cx + w / 2) W, y2 = (cy + h / 2) H``
  (Ultralytics' ``xywhn2xyxy``), no "+1". Written as ``cx = (x1 + x2) / 2 / W, w = (x2 - x1) / W``
  (and so for y), each with 17 significant digits, so that reading gives the same float64.

Floats: a value computed by these rules that lies within ``SNAP`` (1e-6 px) of a whole number is
taken as that whole number, which undoes the float rounding of the normalized form (e.g.
``0.1 * 640`` is ``64.00000000000001``).
"""
from __future__ import annotations

from typing import Sequence

#: a computed pixel value this close to a whole number is that whole number
SNAP = 1e-6


def snap(v: float) -> float:
    """``v``, or the nearest whole number when it lies within :data:`SNAP` of it."""
    r = round(v)
    return float(r) if abs(v - r) <= SNAP else float(v)


def voc_to_xyxy(xmin: float, ymin: float, xmax: float, ymax: float) -> list[float]:
    """VOC ``<bndbox>`` (1-based, inclusive) -> the zoo's xyxy: all four minus one."""
    return [xmin - 1.0, ymin - 1.0, xmax - 1.0, ymax - 1.0]


def xyxy_to_voc(box: Sequence[float]) -> list[int]:
    """The zoo's xyxy -> VOC ``<bndbox>`` integers: ``round(v) + 1`` each."""
    return [int(round(v)) + 1 for v in box]


def coco_to_xyxy(x: float, y: float, w: float, h: float) -> list[float]:
    """COCO ``[x, y, w, h]`` -> xyxy ``[x, y, x + w, y + h]``."""
    return [float(x), float(y), float(x) + float(w), float(y) + float(h)]


def xyxy_to_coco(box: Sequence[float]) -> list[float]:
    """xyxy -> COCO ``[x, y, w, h]`` (each value snapped, whole numbers as ints)."""
    x1, y1, x2, y2 = (float(v) for v in box)
    return [_plain(snap(v)) for v in (x1, y1, x2 - x1, y2 - y1)]


def yolo_to_xyxy(cx: float, cy: float, w: float, h: float, width: int, height: int) -> list[float]:
    """Normalized YOLO ``cx cy w h`` on a ``width`` x ``height`` image -> xyxy pixels (snapped)."""
    return [snap((cx - w / 2) * width), snap((cy - h / 2) * height),
            snap((cx + w / 2) * width), snap((cy + h / 2) * height)]


def xyxy_to_yolo(box: Sequence[float], width: int, height: int) -> list[float]:
    """xyxy pixels -> normalized YOLO ``cx cy w h`` (float64; write with :func:`format_yolo`)."""
    x1, y1, x2, y2 = (float(v) for v in box)
    return [(x1 + x2) / 2 / width, (y1 + y2) / 2 / height, (x2 - x1) / width, (y2 - y1) / height]


def format_yolo(label: int, values: Sequence[float]) -> str:
    """One label line: ``label cx cy w h`` with 17 significant digits (float64 round trip)."""
    return ' '.join([str(int(label))] + [f'{v:.17g}' for v in values])


def _plain(v: float):
    return int(v) if float(v).is_integer() else v
