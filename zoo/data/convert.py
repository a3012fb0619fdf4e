"""``zoo data convert SRC DST --to voc|coco|yolo``: a dataset in another of the three formats.

Every split of SRC (``train``, ``val``, ``test``) is written to DST in the target layout:

* **voc**: ``Annotations/<id>.xml`` (``<size>``, one ``<object>`` per box with ``<name>``,
  ``<difficult>`` and ``<bndbox>``), ``JPEGImages/<file>``, ``ImageSets/Main/<split>.txt``;
* **coco**: ``annotations/<split>.json`` (category ids 1..C in class order, image ids 1..N over
  the whole dataset, ``iscrowd`` from the ignore flag, ``area = w * h``), ``images/<split>/``;
* **yolo**: ``data.yaml`` (``path: .``, one image folder per split, ``names``),
  ``images/<split>/<file>``, ``labels/<split>/<stem>.txt``.

Boxes go through the pixel rules of :mod:`zoo.datasets.pixel_rules`, so that VOC -> COCO ->
YOLO -> VOC gives back the same integers: VOC's are whole pixels; COCO holds them exactly; YOLO
writes the normalized values with 17 significant digits, and reading them back snaps to the whole
pixel within 1e-6 px. A box whose corners are not whole pixels (from COCO or YOLO) is rounded to
the nearest pixel when written to VOC. YOLO has no ignore flag: ignored boxes (VOC difficult,
COCO crowd) become ordinary boxes there, and the conversion says how many. Boxes are written as
annotated (zero-area or outside boxes included): ``zoo data inspect`` reports those; a box of a
class the source does not name is written with the name ``unknown`` (VOC), category id 0 (COCO)
or class id C (YOLO), where ``inspect`` reports it again.

Images are hard-linked into DST when the file system allows it, else copied. DST is built in a
temporary folder beside it and renamed into place at the end, so a failed conversion leaves
nothing half-written; an existing non-empty DST is an error.
"""
from __future__ import annotations

import json
import os
import os.path as osp
import shutil
import xml.etree.ElementTree as ET
from typing import Optional

from registry import ConfigError

from ..datasets.pixel_rules import format_yolo, xyxy_to_coco, xyxy_to_voc, xyxy_to_yolo
from ..datasets.split_files import write_split_file
from .detect import detect_data
from .reader import RawDataset, image_size, read_dataset

TARGETS = ('voc', 'coco', 'yolo')


def _place_image(src: str, dst: str) -> None:
    os.makedirs(osp.dirname(dst), exist_ok=True)
    if osp.exists(dst):
        return
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def _size(entry) -> tuple:
    if entry.size is not None and all(entry.size):
        return int(entry.size[0]), int(entry.size[1])
    size = image_size(entry.img_path)
    if size is None:
        raise ConfigError(f'{entry.img_path}: cannot read the image size, which the target format '
                          f'needs (run `zoo data inspect` for every problem of the source)')
    return size


def _voc(raw: RawDataset, out: str) -> list:
    notes = []
    for split, entries in raw.splits.items():
        for e in entries:
            w, h = _size(e)
            name = osp.basename(e.img_path)
            if osp.splitext(name)[1].lower() != '.jpg':
                notes.append(f'{name}: VOC images are <id>.jpg; this one keeps its suffix')
            _place_image(e.img_path, osp.join(out, 'JPEGImages', name))
            root = ET.Element('annotation')
            ET.SubElement(root, 'folder').text = 'JPEGImages'
            ET.SubElement(root, 'filename').text = name
            size = ET.SubElement(root, 'size')
            for tag, v in (('width', w), ('height', h), ('depth', 3)):
                ET.SubElement(size, tag).text = str(v)
            for box in e.boxes:
                obj = ET.SubElement(root, 'object')
                ET.SubElement(obj, 'name').text = box.name or 'unknown'
                ET.SubElement(obj, 'difficult').text = '1' if box.ignore else '0'
                bnd = ET.SubElement(obj, 'bndbox')
                for tag, v in zip(('xmin', 'ymin', 'xmax', 'ymax'), xyxy_to_voc(box.bbox), strict=True):
                    ET.SubElement(bnd, tag).text = str(v)
            ET.indent(root)
            stem = osp.splitext(name)[0]
            path = osp.join(out, 'Annotations', f'{stem}.xml')
            os.makedirs(osp.dirname(path), exist_ok=True)
            ET.ElementTree(root).write(path, encoding='utf-8')
        write_split_file(osp.join(out, 'ImageSets', 'Main', f'{split}.txt'),
                         [osp.splitext(osp.basename(e.img_path))[0] for e in entries])
    return notes


def _coco(raw: RawDataset, out: str) -> list:
    classes = list(raw.source.classes)
    cat_of = {n: i + 1 for i, n in enumerate(classes)}
    categories = [dict(id=i + 1, name=n) for i, n in enumerate(classes)]
    ids: dict = {}
    for split, entries in raw.splits.items():
        images, anns = [], []
        for e in entries:
            w, h = _size(e)
            name = osp.basename(e.img_path)
            img_id = ids.setdefault(name, len(ids) + 1)
            _place_image(e.img_path, osp.join(out, 'images', split, name))
            images.append(dict(id=img_id, file_name=name, width=w, height=h))
            for box in e.boxes:
                x, y, bw, bh = xyxy_to_coco(box.bbox)
                anns.append(dict(id=len(anns) + 1, image_id=img_id,
                                 category_id=cat_of.get(box.name, 0), bbox=[x, y, bw, bh],
                                 area=bw * bh, iscrowd=int(box.ignore)))
        path = osp.join(out, 'annotations', f'{split}.json')
        os.makedirs(osp.dirname(path), exist_ok=True)
        with open(path, 'w', encoding='utf-8') as f:
            json.dump(dict(images=images, annotations=anns, categories=categories), f)
    return []


def _yolo(raw: RawDataset, out: str) -> list:
    import yaml
    label_of = {n: i for i, n in enumerate(raw.source.classes)}
    ignored = 0
    for split, entries in raw.splits.items():
        for e in entries:
            w, h = _size(e)
            name = osp.basename(e.img_path)
            _place_image(e.img_path, osp.join(out, 'images', split, name))
            lines = []
            for box in e.boxes:
                ignored += box.ignore
                lines.append(format_yolo(label_of.get(box.name, len(label_of)),
                                         xyxy_to_yolo(box.bbox, w, h)))
            path = osp.join(out, 'labels', split, osp.splitext(name)[0] + '.txt')
            os.makedirs(osp.dirname(path), exist_ok=True)
            with open(path, 'w', encoding='utf-8') as f:
                f.write(''.join(line + '\n' for line in lines))
    spec = dict(path='.', **{s: f'images/{s}' for s in raw.splits},
                names=list(raw.source.classes))
    with open(osp.join(out, 'data.yaml'), 'w', encoding='utf-8') as f:
        yaml.safe_dump(spec, f, sort_keys=False, allow_unicode=True)
    return ([f'{ignored} ignored box(es) (VOC difficult / COCO crowd) written as ordinary boxes: '
             f'YOLO labels have no ignore flag'] if ignored else [])


def convert_dataset(src: str, dst: str, to: str, classes: Optional[list] = None) -> tuple:
    """Convert the dataset at ``src`` into format ``to`` at ``dst`` (see the module docstring).

    Returns:
        ``(raw, notes)``: what was read (splits, problems met reading) and lines to tell the user.

    Raises:
        ConfigError: an unknown target, ``dst`` exists and is not empty, ``src`` is not a
            dataset (see :func:`~zoo.data.detect.detect_data`), or an image whose size the
            target needs cannot be read.
    """
    if to not in TARGETS:
        raise ConfigError(f'--to {to!r}: expected one of {TARGETS}')
    if osp.exists(dst) and (not osp.isdir(dst) or os.listdir(dst)):
        raise ConfigError(f'{dst} exists and is not an empty folder; choose a new destination')
    source = detect_data(src, classes)
    raw = read_dataset(source)
    parent = osp.dirname(osp.abspath(dst))
    os.makedirs(parent, exist_ok=True)
    tmp = osp.join(parent, f'.{osp.basename(osp.abspath(dst))}.zoo-tmp-{os.getpid()}')
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    try:
        notes = {'voc': _voc, 'coco': _coco, 'yolo': _yolo}[to](raw, tmp)
        if osp.isdir(dst):
            os.rmdir(dst)
        os.replace(tmp, dst)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return raw, notes
