"""COCO-style datasets: one JSON file with ``images``, ``annotations`` and ``categories``.

The file is read with :mod:`json` (so a syntax error names the file, line and column) and
indexed with pycocotools' :class:`~pycocotools.coco.COCO`. COCO boxes are ``[x, y, w, h]`` in
continuous pixels; the zoo's are ``[x, y, x + w, y + h]`` (no "+1", the same as mmdet 3.x).
``iscrowd=1`` (or ``ignore=1``) makes a box ignored (``ignore_flag=1``), as COCOeval treats
crowd regions. Annotations of an image or a category that the file does not list, and the
repeats of an image id (pycocotools keeps the last entry), are left out and counted in the
dataset's one warning.
"""
from __future__ import annotations

import contextlib
import io
import json
import os.path as osp
from numbers import Real
from typing import Callable, Optional, Sequence, Union

from pycocotools.coco import COCO

from registry import DATASETS
from registry.errors import ConfigError

from .base_det_dataset import BaseDetDataset
from .errors import DatasetError
from .pixel_rules import coco_to_xyxy
from .split_files import read_split_file


def load_coco_json(path: str) -> COCO:
    """A pycocotools ``COCO`` index of the JSON file ``path`` (without pycocotools' prints).

    Raises:
        DatasetError: the file is missing, not JSON, or lacks ``images`` / ``categories``
            lists (an ``annotations`` list may be absent, as in COCO's test-set info files).
    """
    try:
        with open(path, encoding='utf-8') as f:
            data = json.load(f)
    except FileNotFoundError:
        raise DatasetError(f'{path}: COCO annotation file not found', path) from None
    except json.JSONDecodeError as err:
        raise DatasetError(f'{path}: malformed JSON: {err.msg} at line {err.lineno} column '
                           f'{err.colno}', path) from None
    except (UnicodeDecodeError, OSError) as err:
        raise DatasetError(f'{path}: cannot read the COCO annotation file: {err}', path) from None
    if not isinstance(data, dict):
        raise DatasetError(f'{path}: malformed COCO annotation: the top level is a '
                           f'{type(data).__name__}, not an object', path)
    for key in ('images', 'categories') + (('annotations',) if 'annotations' in data else ()):
        if not isinstance(data.get(key), list):
            raise DatasetError(f'{path}: malformed COCO annotation: `{key}` must be a list, got '
                               f'{type(data.get(key)).__name__}', path)
    data.setdefault('annotations', [])
    for key, fields in (('images', ('id',)), ('categories', ('id', 'name')),
                        ('annotations', ('id', 'image_id', 'category_id'))):
        for k, entry in enumerate(data[key]):
            if not isinstance(entry, dict) or any(f not in entry for f in fields):
                raise DatasetError(f'{path}: malformed COCO annotation: {key}[{k}] = '
                                   f'{str(entry)[:200]} lacks one of {fields}', path)
    coco = COCO()
    coco.dataset = data
    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints "creating index..."
        coco.createIndex()
    return coco


@DATASETS.register_module()
class CocoDataset(BaseDetDataset):
    """A COCO-format detection dataset.

    Produces the records and results dicts described in :mod:`zoo.datasets.base_det_dataset`;
    ``img_id`` is the COCO image id (int), boxes are xyxy ``[x, y, x + w, y + h]``.

    Args:
        ann_file: the COCO JSON file (relative to ``data_root`` when that is given).
        img_prefix: folder the images' ``file_name`` is relative to (idem).
        classes: names of the categories to use, in label order; every name must be a category
            of the file, and boxes of other categories are left out (mmdet's ``classes``
            selection). None: every category of the file, ordered by category id.
        data_root: optional folder that ``ann_file`` and ``img_prefix`` are relative to.
        split: optional text file (relative to ``data_root``, or absolute) listing the image ids
            to use, one a line, e.g. a validation split carved out of one file by ``--data``;
            None: every image of the file. A missing file, or an id the JSON file does not
            hold, is a config error.
        pipeline, test_mode, filter_empty_gt, skip_bad_samples, indices, palette: see
            :class:`~zoo.datasets.base_det_dataset.BaseDetDataset`.

    Attributes:
        coco: the pycocotools index of ``ann_file``.
        cat_ids: COCO category id of each label: label ``i`` is category ``cat_ids[i]``.

    Raises:
        DatasetError: the JSON file is missing or malformed (never skipped: it is the whole
            dataset); an image entry without ``file_name``/``width``/``height`` or an annotation
            whose ``bbox`` is not four numbers (skipped, with its image, under
            ``skip_bad_samples``).
        ConfigError: a name of ``classes`` is not a category of the file; a bad ``split``; no
            usable image in the split.
    """

    def __init__(self,
                 ann_file: str,
                 img_prefix: str = '',
                 classes: Optional[Sequence[str]] = None,
                 data_root: Optional[str] = None,
                 split: Optional[str] = None,
                 pipeline: Sequence[Union[dict, Callable]] = (),
                 test_mode: bool = False,
                 filter_empty_gt: bool = False,
                 skip_bad_samples: bool = False,
                 indices: Optional[Union[int, Sequence[int]]] = None,
                 palette: Optional[Sequence[Sequence[int]]] = None):
        self.ann_file = osp.join(data_root, ann_file) if data_root else str(ann_file)
        self.img_prefix = osp.join(data_root, img_prefix) if data_root else str(img_prefix)
        self.data_root = data_root
        self.split = split
        self.coco: Optional[COCO] = None
        self.cat_ids: list[int] = []
        super().__init__(classes, pipeline=pipeline, test_mode=test_mode,
                         filter_empty_gt=filter_empty_gt, skip_bad_samples=skip_bad_samples,
                         indices=indices, palette=palette)

    def _owner(self) -> str:
        split = f', split={self.split!r}' if self.split else ''
        return f'CocoDataset({self.ann_file}{split})'

    def _categories(self) -> None:
        """Set ``classes`` and ``cat_ids`` from the file (and the configured ``classes``)."""
        cats = sorted(self.coco.loadCats(self.coco.getCatIds()), key=lambda c: c['id'])
        if self.classes is None:
            self.classes = tuple(str(c['name']) for c in cats)
            self.cat_ids = [c['id'] for c in cats]
            if not self.classes:
                raise DatasetError(f'{self.ann_file}: the file has no categories', self.ann_file)
            return
        by_name = {}
        for c in cats:
            by_name.setdefault(c['name'], c['id'])
        missing = [n for n in self.classes if n not in by_name]
        if missing:
            raise ConfigError(f'{self._owner()}: classes {missing} are not categories of '
                              f'{self.ann_file}; its categories are {[c["name"] for c in cats]}')
        self.cat_ids = [by_name[n] for n in self.classes]

    def load_data_list(self) -> list[dict]:
        """Read the JSON file into records, images in order of their id."""
        self.coco = load_coco_json(self.ann_file)
        self._categories()
        label_of = {cat_id: i for i, cat_id in enumerate(self.cat_ids)}
        records = []
        repeated = len(self.coco.dataset['images']) - len(self.coco.imgs)
        self.box_ledger.leave_out('duplicate image id', osp.basename(self.ann_file), repeated)
        for ann in self.coco.dataset['annotations']:
            if ann['image_id'] not in self.coco.imgs:
                self.box_ledger.leave_out('annotation of an unknown image',
                                          osp.basename(self.ann_file))
            elif ann['category_id'] not in self.coco.cats:
                self.box_ledger.leave_out('annotation of an unknown category',
                                          self.coco.imgs[ann['image_id']].get('file_name', ''))
        for img_id in self._image_ids():
            try:
                records.append(self._parse_image(img_id, label_of))
            except DatasetError as err:
                self._bad_annotation(err)
        return records

    def _image_ids(self) -> list:
        """The ids of the split (file order), or every image id of the file (sorted)."""
        if self.split is None:
            return sorted(self.coco.getImgIds())
        path = self.split if osp.isabs(self.split) or self.data_root is None \
            else osp.join(self.data_root, self.split)
        by_text = {str(i): i for i in self.coco.imgs}
        ids = read_split_file(path, self._owner())
        missing = [i for i in ids if i not in by_text]
        if missing:
            raise ConfigError(f'{self._owner()}: split file {path} names {len(missing)} image '
                              f'id(s) that {self.ann_file} does not hold: {missing[:10]}')
        return [by_text[i] for i in ids]

    def _parse_image(self, img_id: int, label_of: dict[int, int]) -> dict:
        info = self.coco.imgs[img_id]
        where = f'{self.ann_file}: image id {img_id}'
        name = info.get('file_name')
        width, height = info.get('width'), info.get('height')
        if not isinstance(name, str) or not name:
            raise DatasetError(f'{where} has no `file_name`', self.ann_file)
        for key, v in (('width', width), ('height', height)):
            if isinstance(v, bool) or not isinstance(v, Real) or v <= 0 or v != int(v):
                raise DatasetError(f'{where} ({name}): `{key}` is {v!r}, not a positive whole '
                                   f'number of pixels', self.ann_file)
        width, height = int(width), int(height)
        instances = []
        for ann in self.coco.imgToAnns.get(img_id, []):
            if ann['category_id'] not in label_of:
                continue  # a category outside the configured classes
            box = ann.get('bbox')
            if (not isinstance(box, (list, tuple)) or len(box) != 4
                    or not all(isinstance(v, Real) and not isinstance(v, bool) for v in box)):
                raise DatasetError(f'{where} ({name}): annotation id {ann["id"]} has bbox '
                                   f'{box!r}, not [x, y, w, h] numbers', self.ann_file)
            x, y, w, h = (float(v) for v in box)
            kept = self.box_ledger.check(coco_to_xyxy(x, y, w, h), width, height, name)
            if kept is not None:
                ignore = int(bool(ann.get('iscrowd', 0)) or bool(ann.get('ignore', 0)))
                instances.append(dict(bbox=kept, bbox_label=label_of[ann['category_id']],
                                      ignore_flag=ignore))
        return dict(img_id=img_id, img_path=osp.join(self.img_prefix, name),
                    ann_path=self.ann_file, width=width, height=height, instances=instances)
