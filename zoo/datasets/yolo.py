"""Ultralytics/YOLO txt datasets: one label file per image with normalized ``class cx cy w h`` lines.

Layout under ``data_root`` (Ultralytics')::

    data.yaml                     path, train, val (and test): image folders or lists; names
    images/<split>/<name>.jpg
    labels/<split>/<name>.txt     one line per box: class cx cy w h (normalized, 0-based class)

The label file of an image is found by Ultralytics' rule: the last ``/images/`` in the image's
path becomes ``/labels/`` and the suffix becomes ``.txt``. An image without a label file, or
with an empty one, has no box (a background image, as in Ultralytics).

Pixel convention (:func:`zoo.datasets.pixel_rules.yolo_to_xyxy`): with the image's width ``W``
and height ``H`` (read from the image file's header, EXIF orientation not applied, as
:class:`~zoo.transforms.LoadImageFromFile` reads the pixels), ``x1 = (cx - w/2) W``,
``y1 = (cy - h/2) H``, ``x2 = (cx + w/2) W``, ``y2 = (cy + h/2) H``, float pixels with no "+1".
"""
from __future__ import annotations

import os
import os.path as osp
from typing import Callable, Optional, Sequence, Union

from registry import DATASETS
from registry.errors import ConfigError

from .base_det_dataset import BaseDetDataset
from .errors import DatasetError
from .pixel_rules import yolo_to_xyxy
from .split_files import read_split_file

#: the image suffixes a YOLO image folder is searched for (Ultralytics' common ones)
IMAGE_SUFFIXES = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp')


def label_path_of(img_path: str) -> str:
    """The label file of an image: the last ``/images/`` becomes ``/labels/``, suffix ``.txt``
    (Ultralytics' ``img2label_paths``)."""
    sa, sb = f'{os.sep}images{os.sep}', f'{os.sep}labels{os.sep}'
    head, sep, tail = img_path.rpartition(sa)
    path = head + sb + tail if sep else img_path
    return osp.splitext(path)[0] + '.txt'


def list_images(folder: str) -> list[str]:
    """The image files directly in ``folder``, sorted by name."""
    return sorted(osp.join(folder, n) for n in os.listdir(folder)
                  if n.lower().endswith(IMAGE_SUFFIXES) and osp.isfile(osp.join(folder, n)))


def parse_label_line(line: str, path: str, lineno: int) -> tuple[int, list[float]]:
    """``(class id, [cx, cy, w, h])`` of one label line.

    Raises:
        DatasetError: not five numbers, or a class id that is not a whole number >= 0.
    """
    parts = line.split()
    try:
        values = [float(v) for v in parts]
    except ValueError:
        values = []
    if len(parts) != 5 or len(values) != 5:
        raise DatasetError(f'{path}: line {lineno}: expected "class cx cy w h" (five numbers), '
                           f'got {line.strip()!r}', path)
    if not values[0].is_integer() or values[0] < 0:
        raise DatasetError(f'{path}: line {lineno}: the class id {parts[0]!r} is not a whole '
                           f'number >= 0', path)
    return int(values[0]), values[1:]


@DATASETS.register_module()
class YOLODataset(BaseDetDataset):
    """An Ultralytics/YOLO txt detection dataset.

    Produces the records and results dicts described in :mod:`zoo.datasets.base_det_dataset`;
    ``img_id`` is the image's file stem, boxes follow the pixel rule of the module docstring.
    The images' sizes are read from their file headers at init (YOLO labels do not hold them).

    Args:
        data_root: the dataset folder.
        classes: the class names (``data.yaml``'s ``names``), required; class id ``i`` is label
            ``i``. A class id ``>= len(classes)`` is a config error naming the file and line.
        split: which images: a folder of images (``'images/train'``) or a ``.txt`` file listing
            image paths one a line (Ultralytics' two forms), relative to ``data_root`` or
            absolute. A split that does not exist is a config error.
        pipeline, test_mode, filter_empty_gt, skip_bad_samples, indices, palette: see
            :class:`~zoo.datasets.base_det_dataset.BaseDetDataset`.

    Raises:
        ConfigError: ``data_root`` is not a folder; the split does not exist or has no usable
            image; ``classes`` missing or invalid; a class id out of range.
        DatasetError: a malformed label line (not five numbers, a bad class id) or an image
            whose size cannot be read; skipped and counted with ``skip_bad_samples=True``.

    Example::

        dataset = YOLODataset('data/cells', classes=('RBC', 'WBC', 'Platelets'),
                              split='images/train', pipeline=[dict(type='LoadImageFromFile')])
    """

    def __init__(self,
                 data_root: str,
                 classes: Sequence[str],
                 split: str = 'images/train',
                 pipeline: Sequence[Union[dict, Callable]] = (),
                 test_mode: bool = False,
                 filter_empty_gt: bool = False,
                 skip_bad_samples: bool = False,
                 indices: Optional[Union[int, Sequence[int]]] = None,
                 palette: Optional[Sequence[Sequence[int]]] = None):
        if classes is None:
            raise ConfigError(f'YOLODataset({data_root}): `classes` is required (the `names` of '
                              f'data.yaml)')
        self.data_root = str(data_root)
        self.split = str(split)
        if not osp.isdir(self.data_root):
            raise ConfigError(f'YOLODataset: data_root {self.data_root!r} is not a folder')
        super().__init__(classes, pipeline=pipeline, test_mode=test_mode,
                         filter_empty_gt=filter_empty_gt, skip_bad_samples=skip_bad_samples,
                         indices=indices, palette=palette)

    def _owner(self) -> str:
        return f'YOLODataset({self.data_root}, split={self.split!r})'

    def image_paths(self) -> list[str]:
        """The split's image files: a folder's images sorted by name, or a list's in order."""
        where = osp.join(self.data_root, self.split)
        if self.split.endswith('.txt'):
            return [p if osp.isabs(p) else osp.normpath(osp.join(self.data_root, p))
                    for p in read_split_file(where, self._owner())]
        if not osp.isdir(where):
            raise ConfigError(f'{self._owner()}: the split folder {where} does not exist (check '
                              f'the split name and data.yaml)')
        return list_images(where)

    def load_data_list(self) -> list[dict]:
        """Read every label file of the split into records."""
        records = []
        for img_path in self.image_paths():
            try:
                records.append(self.parse_labels(img_path))
            except DatasetError as err:
                self._bad_annotation(err)
        return records

    def parse_labels(self, img_path: str) -> dict:
        """The record of one image.

        Raises:
            DatasetError: a malformed line, or an image whose size cannot be read.
            ConfigError: a class id ``>= len(classes)``.
        """
        path = label_path_of(img_path)
        try:
            from PIL import Image
            with Image.open(img_path) as im:  # the header only
                width, height = im.size
        except Exception as err:  # noqa: BLE001 -- any failure means: the image is unusable
            raise DatasetError(f'{img_path}: cannot read the image size ({err})', img_path) from None
        instances = []
        lines = []
        if osp.isfile(path):
            with open(path, encoding='utf-8-sig') as f:
                lines = f.read().splitlines()
        for lineno, line in enumerate(lines, 1):
            if not line.strip():
                continue
            label, (cx, cy, w, h) = parse_label_line(line, path, lineno)
            if label >= len(self.classes):
                raise ConfigError(f'{path}: line {lineno}: class id {label}, but there are '
                                  f'{len(self.classes)} classes {self.classes} (ids 0 to '
                                  f'{len(self.classes) - 1})')
            box = self.box_ledger.check(yolo_to_xyxy(cx, cy, w, h, width, height), width, height,
                                        osp.basename(path))
            if box is not None:
                instances.append(dict(bbox=box, bbox_label=label, ignore_flag=0))
        return dict(img_id=osp.splitext(osp.basename(img_path))[0], img_path=img_path,
                    ann_path=path, width=int(width), height=int(height), instances=instances)
