"""``zoo data inspect``: what a dataset folder holds and everything wrong with it.

The report (:func:`inspect_dataset`): the format, the class names and where they came from,
per split the number of images and of boxes per class, the box sizes (width and height in
original-image pixels: min, median, max, and COCO's small / medium / large counts by area
< 32², < 96², else), the problems found (:data:`~zoo.data.reader.PROBLEM_KINDS`), and how well
a recipe's anchors cover the training boxes: the best possible recall at IoU 0.5 as
``zoo anchors`` computes it (:func:`zoo.anchors.anchor_stats`, boxes scaled as the recipe's
training pipeline resizes them).

Problems checked, beyond those met while reading (:mod:`zoo.data.reader`):

* image files that are missing, cannot be decoded (PIL, full decode), or have the same bytes as
  another image of the dataset (duplicate images), and ids that repeat within a split;
* images without any box (an empty label file, an XML without ``<object>``, a COCO image
  without annotations, a YOLO image without a label file);
* boxes of zero (or negative) width or height, and boxes not wholly inside the image;
* image files whose EXIF orientation turns them by 90 degrees (tags 5 to 8) where the
  annotation's size is that of the turned view (the zoo reads the stored pixels, so the boxes
  would be on a different picture); an annotated size that is neither is "size disagrees".
"""
from __future__ import annotations

import hashlib
import os.path as osp
from collections import Counter
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from .detect import DataSource
from .reader import PROBLEM_KINDS, RawDataset, read_dataset

EXIF_ORIENTATION = 0x0112
SMALL, MEDIUM = 32 ** 2, 96 ** 2


@dataclass
class Report:
    """What :func:`inspect_dataset` found (``text`` is what ``zoo data inspect`` prints)."""

    raw: RawDataset
    counts: dict = field(default_factory=dict)       # split -> dict(images=, boxes={name: n})
    sizes: dict = field(default_factory=dict)        # split -> float (N, 2) array of (w, h)
    anchors: Optional[str] = None                    # the anchor-coverage line
    bpr: Optional[float] = None

    @property
    def problems(self) -> list:
        return self.raw.problems

    def problem_counts(self) -> dict:
        c = Counter(p.kind for p in self.problems)
        return {k: c[k] for k in PROBLEM_KINDS if c[k]}


def _check_image(raw: RawDataset, split: str, entry, hashes: dict) -> Optional[tuple]:
    """Check one image file; return its stored (width, height) or None when unusable."""
    from PIL import Image
    path = entry.img_path
    if not osp.isfile(path):
        raw.problem('missing image', split, path, f'image of {entry.ann_path} not found')
        return None
    try:
        with open(path, 'rb') as f:
            data = f.read()
        digest = hashlib.sha1(data).hexdigest()
        with Image.open(path) as im:
            im.load()
            size = im.size
            orientation = im.getexif().get(EXIF_ORIENTATION, 1)
    except Exception as err:  # noqa: BLE001 -- whatever PIL raises means: unreadable
        raw.problem('unreadable image', split, path, f'cannot be decoded: {err}')
        return None
    first = hashes.setdefault(digest, path)
    if first != path:
        raw.problem('duplicate image', split, path, f'the same bytes as {first}')
    if entry.size is not None and tuple(entry.size) != tuple(size):
        turned = (size[1], size[0])
        if orientation in (5, 6, 7, 8) and tuple(entry.size) == turned:
            raw.problem('EXIF orientation disagrees', split, path,
                        f'EXIF orientation {orientation} turns the {size[0]}x{size[1]} image by 90 '
                        f'degrees and the annotation ({entry.ann_path}) is of the turned '
                        f'{turned[0]}x{turned[1]} view; the zoo reads the stored pixels')
        else:
            raw.problem('size disagrees', split, path,
                        f'the image is {size[0]}x{size[1]} but {entry.ann_path} says '
                        f'{entry.size[0]}x{entry.size[1]}')
    elif entry.size is None and orientation in (5, 6, 7, 8):
        raw.problem('EXIF orientation disagrees', split, path,
                    f'EXIF orientation {orientation} turns the image by 90 degrees; its '
                    f'normalized labels are read against the stored {size[0]}x{size[1]} pixels')
    return size


def inspect_dataset(source: DataSource, recipe: Optional[str] = None,
                    thr: float = 0.5) -> Report:
    """Read and check ``source`` (see the module docstring); with ``recipe`` (a config path),
    also the anchor coverage of its training boxes."""
    raw = read_dataset(source)
    report = Report(raw)
    hashes: dict = {}
    for split, entries in raw.splits.items():
        seen: set = set()
        per_class: Counter = Counter()
        wh = []
        for entry in entries:
            if entry.img_id in seen:
                raw.problem('duplicate id', split, entry.ann_path,
                            f'image id {entry.img_id!r} appears twice in the split')
            seen.add(entry.img_id)
            size = _check_image(raw, split, entry, hashes)
            if not entry.boxes:
                raw.problem('empty label', split, entry.ann_path,
                            f'image {osp.basename(entry.img_path)} has no box')
            width, height = entry.size if entry.size is not None else (size or (None, None))
            for box in entry.boxes:
                x1, y1, x2, y2 = box.bbox
                if not (x2 > x1 and y2 > y1):
                    raw.problem('zero-area box', split, entry.ann_path,
                                f'box {_fmt(box.bbox)} ({box.name}) has zero width or height')
                    continue
                if width is not None and (x1 < 0 or y1 < 0 or x2 > width or y2 > height):
                    raw.problem('box outside the image', split, entry.ann_path,
                                f'box {_fmt(box.bbox)} ({box.name}) is not inside the '
                                f'{width}x{height} image')
                if box.name is not None:
                    per_class[box.name] += 1
                wh.append((x2 - x1, y2 - y1))
        report.counts[split] = dict(images=len(entries),
                                    boxes={n: per_class[n] for n in source.classes})
        report.sizes[split] = np.asarray(wh, dtype=np.float64).reshape(-1, 2)
    if recipe:
        report.anchors, report.bpr = anchor_coverage(source, recipe, thr)
    return report


def anchor_coverage(source: DataSource, recipe: str, thr: float = 0.5) -> tuple:
    """(line, best possible recall of the recipe's first anchor generator) on the training boxes
    of ``source``, scaled as the recipe's training pipeline resizes them; (reason, None) when it
    cannot be computed (no anchors in the recipe, unusable training data)."""
    import logging
    import tempfile
    import warnings

    from mmengine.logging import MMLogger

    from registry import ConfigError

    from ..anchors import anchor_stats, box_sizes_from_config, config_anchor_shapes
    from ..config import load_config
    from ..datasets import DatasetError, DatasetWarning
    from .config_from_data import apply_data
    cfg = load_config(recipe)
    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel(logging.ERROR)  # the dataset's warnings repeat problems listed already
    try:
        with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
            warnings.simplefilter('ignore', DatasetWarning)
            apply_data(cfg, source.path, source.classes if source.classes_from == '--classes'
                       else None, split_dir=tmp)
            wh, how = box_sizes_from_config(cfg, split=None)
    except (ConfigError, DatasetError) as err:
        return f'anchor coverage of {recipe}: not computed ({err})', None
    finally:
        logger.setLevel(level)
    lines, first = [], None
    for path, kind, anchors in config_anchor_shapes(cfg):
        mean_iou, bpr = anchor_stats(wh, anchors, thr)
        first = bpr if first is None else first
        lines.append(f'anchor coverage of {osp.basename(recipe)}: {path} ({kind}, {len(anchors)} '
                     f'anchors): best possible recall (IoU >= {thr:g}) {bpr:.4f}, mean IoU '
                     f'{mean_iou:.4f}, on {len(wh)} training boxes; {how}')
    if not lines:
        return f'anchor coverage of {recipe}: the recipe has no anchor generator', None
    return '\n'.join(lines), first


def _fmt(box) -> str:
    return '[' + ', '.join(f'{v:g}' for v in box) + ']'


def format_report(report: Report) -> str:
    """The printed report: header, per-split table, box sizes, problems, anchor coverage."""
    src = report.raw.source
    names = list(src.classes)
    lines = [f'{src.root}: {src.format} dataset, {len(names)} classes {tuple(names)} '
             f'({src.classes_from})']
    head = f'{"split":<8}{"images":>8}' + ''.join(f'{n[:12]:>13}' for n in names) + f'{"boxes":>9}'
    lines += ['', head]
    for split, c in report.counts.items():
        lines.append(f'{split:<8}{c["images"]:>8}' + ''.join(f'{c["boxes"][n]:>13}' for n in names)
                     + f'{sum(c["boxes"].values()):>9}')
    lines += ['', 'box sizes (original-image pixels): width min/median/max, height min/median/max, '
              'small/medium/large (COCO areas)']
    for split, wh in report.sizes.items():
        if not len(wh):
            lines.append(f'{split:<8}no box')
            continue
        area = wh[:, 0] * wh[:, 1]
        lines.append(f'{split:<8}w {wh[:, 0].min():g}/{np.median(wh[:, 0]):g}/{wh[:, 0].max():g}  '
                     f'h {wh[:, 1].min():g}/{np.median(wh[:, 1]):g}/{wh[:, 1].max():g}  '
                     f'{int((area < SMALL).sum())}/{int(((area >= SMALL) & (area < MEDIUM)).sum())}/'
                     f'{int((area >= MEDIUM).sum())}')
    counts = report.problem_counts()
    lines.append('')
    if counts:
        lines.append(f'{len(report.problems)} problem(s): '
                     + ', '.join(f'{n} {k}' for k, n in counts.items()))
        for kind in counts:
            shown = [p for p in report.problems if p.kind == kind]
            for p in shown[:5]:
                lines.append(f'  [{kind}] {p.split}: {p.path}: {p.detail}')
            if len(shown) > 5:
                lines.append(f'  [{kind}] ... and {len(shown) - 5} more')
    else:
        lines.append('no problem found')
    if report.anchors:
        lines += ['', report.anchors]
    return '\n'.join(lines)


def plot_box_sizes(report: Report, path: str) -> str:
    """Scatter the boxes' (width, height) per split on log axes into the image file ``path``."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 5))
    for split, wh in report.sizes.items():
        if len(wh):
            ax.scatter(np.maximum(wh[:, 0], 0.5), np.maximum(wh[:, 1], 0.5), s=6, alpha=0.5,
                       label=f'{split} ({len(wh)})')
    from matplotlib.ticker import FixedLocator, NullFormatter, ScalarFormatter
    ax.set_xscale('log')
    ax.set_yscale('log')
    for axis in (ax.xaxis, ax.yaxis):  # powers of two in plain pixels, as anchor sizes go
        axis.set_major_locator(FixedLocator([2.0 ** k for k in range(0, 15)]))
        axis.set_major_formatter(ScalarFormatter())
        axis.set_minor_formatter(NullFormatter())
    ax.set_xlabel('box width (pixels)')
    ax.set_ylabel('box height (pixels)')
    ax.set_title(f'box sizes: {osp.basename(report.raw.source.root)}')
    ax.legend()
    fig.tight_layout()
    folder = osp.dirname(osp.abspath(path))
    import os
    os.makedirs(folder, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
