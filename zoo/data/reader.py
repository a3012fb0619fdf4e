"""Reading a dataset folder as it is, problems and all, for ``zoo data inspect`` and
``zoo data convert``.

The datasets (:mod:`zoo.datasets`) stop at the first unusable file, drop bad boxes and clip
others, as training needs. This reader instead keeps every box as written (converted to the
zoo's xyxy pixels by :mod:`zoo.datasets.pixel_rules`) and collects what is wrong with the files
as :class:`Problem` records, so that one run lists them all.
"""
from __future__ import annotations

import json
import os
import os.path as osp
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Optional

from ..datasets.pixel_rules import coco_to_xyxy, voc_to_xyxy, yolo_to_xyxy
from ..datasets.yolo import label_path_of, list_images, parse_label_line
from .detect import DataSource

BOM = b'\xef\xbb\xbf'

#: the kinds of problem, in the order a report lists them
PROBLEM_KINDS = (
    'missing image', 'unreadable image', 'duplicate image', 'duplicate id',
    'missing annotation', 'malformed annotation', 'empty label', 'zero-area box',
    'box outside the image', 'unknown class', 'unknown image', 'split names missing ids',
    'split file has a byte-order mark', 'EXIF orientation disagrees', 'size disagrees',
)


@dataclass
class Problem:
    """One thing wrong: its ``kind`` (one of :data:`PROBLEM_KINDS`), the split, the file and
    what is wrong."""

    kind: str
    split: str
    path: str
    detail: str


@dataclass
class Box:
    """A box as annotated: class name (None when the class id or name is unknown), xyxy pixels
    of the original image (no "+1"), ignore flag (VOC difficult, COCO iscrowd)."""

    name: Optional[str]
    bbox: list
    ignore: bool = False


@dataclass
class ImageEntry:
    """One image of a split: its id, files, annotated size and boxes."""

    img_id: str
    img_path: str
    ann_path: str
    size: Optional[tuple] = None  # (width, height) written in the annotation; None for YOLO
    boxes: list = field(default_factory=list)


@dataclass
class RawDataset:
    """Every split's images as annotated, the class names, and the problems found reading."""

    source: DataSource
    splits: dict = field(default_factory=dict)   # split -> list[ImageEntry]
    problems: list = field(default_factory=list)

    def problem(self, kind: str, split: str, path: str, detail: str) -> None:
        self.problems.append(Problem(kind, split, str(path), detail))


def read_dataset(source: DataSource, splits=None) -> RawDataset:
    """Read the splits of ``source`` (default: all of them) leniently (see the module docstring)."""
    raw = RawDataset(source)
    for split in splits or list(source.splits):
        reader = {'voc': _read_voc, 'coco': _read_coco, 'yolo': _read_yolo}[source.format]
        raw.splits[split] = reader(raw, split, source.splits[split])
    return raw


def _split_ids(raw: RawDataset, split: str, path: str) -> list[str]:
    """The ids of a split file; a BOM is reported (and not part of the first id)."""
    with open(path, 'rb') as f:
        data = f.read()
    if data.startswith(BOM):
        raw.problem('split file has a byte-order mark', split, path,
                    'the file starts with a UTF-8 byte-order mark, which tools that read it as '
                    'plain text make part of the first id')
        data = data[len(BOM):]
    return [line.split()[0] for line in data.decode('utf-8', errors='replace').splitlines()
            if line.strip() and not line.lstrip().startswith('#')]


# VOC -------------------------------------------------------------------------------------------
def _read_voc(raw: RawDataset, split: str, cfg: dict) -> list:
    root = cfg['data_root']
    ann_dir = osp.join(root, cfg.get('ann_subdir', 'Annotations'))
    img_dir = osp.join(root, cfg.get('img_subdir', 'JPEGImages'))
    suffix = cfg.get('img_suffix', '.jpg')
    names = set(raw.source.classes)
    if cfg.get('split'):
        s = cfg['split']
        path = s if s.endswith('.txt') and osp.isabs(s) else (
            osp.join(root, s) if s.endswith('.txt') else osp.join(root, 'ImageSets', 'Main', f'{s}.txt'))
        ids = _split_ids(raw, split, path)
        missing = [i for i in ids if not osp.isfile(osp.join(ann_dir, f'{i}.xml'))]
        if missing:
            raw.problem('split names missing ids', split, path,
                        f'{len(missing)} id(s) without an annotation file: {missing[:5]}')
    else:
        ids = sorted(osp.splitext(n)[0] for n in os.listdir(ann_dir) if n.endswith('.xml'))
    out = []
    for img_id in ids:
        path = osp.join(ann_dir, f'{img_id}.xml')
        if not osp.isfile(path):
            continue  # reported with the split file
        entry = ImageEntry(img_id, osp.join(img_dir, f'{img_id}{suffix}'), path)
        try:
            tree = ET.parse(path).getroot()
        except (ET.ParseError, OSError) as err:
            raw.problem('malformed annotation', split, path, f'not readable XML: {err}')
            continue
        w, h = tree.findtext('size/width'), tree.findtext('size/height')
        try:
            entry.size = (int(float(w)), int(float(h))) if w and h else None
        except ValueError:
            raw.problem('malformed annotation', split, path, f'<size> is {w!r} x {h!r}')
        for k, obj in enumerate(tree.findall('object')):
            name = (obj.findtext('name') or '').strip()
            try:
                vals = [float(obj.findtext(f'bndbox/{t}')) for t in ('xmin', 'ymin', 'xmax', 'ymax')]
            except (TypeError, ValueError):
                raw.problem('malformed annotation', split, path, f'object #{k} has no numeric <bndbox>')
                continue
            if name not in names:
                raw.problem('unknown class', split, path, f'object #{k}: class name {name!r} is not '
                            f'one of {tuple(raw.source.classes)}')
                name = None
            entry.boxes.append(Box(name, voc_to_xyxy(*vals),
                                   (obj.findtext('difficult') or '0').strip() == '1'))
        out.append(entry)
    return out


# COCO ------------------------------------------------------------------------------------------
def _read_coco(raw: RawDataset, split: str, cfg: dict) -> list:
    ann_file, prefix = cfg['ann_file'], cfg['img_prefix']
    try:
        with open(ann_file, encoding='utf-8') as f:
            data = json.load(f)
    except (OSError, ValueError) as err:
        raw.problem('malformed annotation', split, ann_file, f'not readable JSON: {err}')
        return []
    cats = {c.get('id'): str(c.get('name')) for c in data.get('categories') or []}
    names = set(raw.source.classes)
    images = {}
    out = []
    for im in data.get('images') or []:
        img_id = im.get('id')
        if img_id in images:
            raw.problem('duplicate id', split, ann_file, f'image id {img_id} appears twice')
            continue
        entry = ImageEntry(str(img_id), osp.join(prefix, str(im.get('file_name', ''))), ann_file,
                           (im.get('width'), im.get('height')))
        images[img_id] = entry
        out.append(entry)
    for ann in data.get('annotations') or []:
        entry = images.get(ann.get('image_id'))
        if entry is None:
            raw.problem('unknown image', split, ann_file,
                        f'annotation id {ann.get("id")} is of image id {ann.get("image_id")}, '
                        f'which the file does not list')
            continue
        cat = cats.get(ann.get('category_id'))
        if cat is None:
            raw.problem('unknown class', split, ann_file,
                        f'annotation id {ann.get("id")} has category id {ann.get("category_id")}, '
                        f'which the file does not list')
        box = ann.get('bbox')
        if not isinstance(box, list) or len(box) != 4:
            raw.problem('malformed annotation', split, ann_file,
                        f'annotation id {ann.get("id")}: bbox {box!r} is not [x, y, w, h]')
            continue
        entry.boxes.append(Box(cat if cat in names else None, coco_to_xyxy(*box),
                               bool(ann.get('iscrowd', 0))))
    if cfg.get('split'):
        keep = _split_ids(raw, split, cfg['split'])
        by_id = {e.img_id: e for e in out}
        missing = [i for i in keep if i not in by_id]
        if missing:
            raw.problem('split names missing ids', split, cfg['split'],
                        f'{len(missing)} image id(s) not in {ann_file}: {missing[:5]}')
        out = [by_id[i] for i in keep if i in by_id]
    return out


# YOLO ------------------------------------------------------------------------------------------
def _read_yolo(raw: RawDataset, split: str, cfg: dict) -> list:
    root, s = cfg['data_root'], cfg['split']
    where = osp.join(root, s)
    if s.endswith('.txt'):
        paths = [p if osp.isabs(p) else osp.normpath(osp.join(root, p))
                 for p in _split_ids(raw, split, where)]
        missing = [p for p in paths if not osp.isfile(p)]
        if missing:
            raw.problem('split names missing ids', split, where,
                        f'{len(missing)} image path(s) that do not exist: {missing[:5]}')
    elif osp.isdir(where):
        paths = list_images(where)
    else:
        raw.problem('missing annotation', split, where, 'the split folder does not exist')
        paths = []
    n = len(raw.source.classes)
    out = []
    for img_path in paths:
        label = label_path_of(img_path)
        entry = ImageEntry(osp.splitext(osp.basename(img_path))[0], img_path, label)
        out.append(entry)
        size = image_size(img_path)
        if not osp.isfile(label):
            continue
        with open(label, 'rb') as f:
            text = f.read().decode('utf-8', errors='replace').lstrip('\ufeff')
        for lineno, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                cls, (cx, cy, w, h) = parse_label_line(line, label, lineno)
            except Exception as err:  # noqa: BLE001 -- a DatasetError naming the line
                raw.problem('malformed annotation', split, label, str(err))
                continue
            name = raw.source.classes[cls] if cls < n else None
            if name is None:
                raw.problem('unknown class', split, label,
                            f'line {lineno}: class id {cls}, but there are {n} classes')
            if size is None:
                continue  # the image is reported as missing or unreadable
            entry.boxes.append(Box(name, yolo_to_xyxy(cx, cy, w, h, *size)))
    return out


def image_size(path: str) -> Optional[tuple]:
    """(width, height) of an image file as stored (EXIF orientation not applied), or None."""
    try:
        from PIL import Image
        with Image.open(path) as im:
            return im.size
    except Exception:  # noqa: BLE001 -- unreadable: the caller reports it
        return None
