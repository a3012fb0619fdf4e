"""Pascal VOC-style datasets: one XML annotation file per image (BCCD is in this form).

Layout under ``data_root`` (the VOC devkit's)::

    Annotations/<id>.xml          <size>, and one <object> per box: <name>, <difficult>, <bndbox>
    ImageSets/Main/<split>.txt    one image id per line
    JPEGImages/<id>.jpg

Box coordinates. VOC's ``<bndbox>`` holds 1-based pixel indices of the first and last pixel
covered, inclusive. The zoo converts them **as mmdet 3.x does** (``XMLDataset``, ``minus_one=True``)
and as py-faster-rcnn does (``pascal_voc.py``, "Make pixel indexes 0-based"): 1 is subtracted
from all four values, ``(xmin - 1, ymin - 1, xmax - 1, ymax - 1)``. Width is then
``xmax - xmin`` with no "+1", as everywhere in the zoo. So ground truth equals mmdet's to the
pixel (results compare), a box with ``xmin == xmax`` has zero width and is dropped (BCCD has two:
BloodImage_00338 and BloodImage_00343), and every box lies in ``[0, W - 1] x [0, H - 1]``.
The price is half a pixel per side against the exact continuous extent
``[xmin - 1, xmax] x [ymin - 1, ymax]`` of the covered pixels; no detector resolves that.
"""
from __future__ import annotations

import os
import os.path as osp
import xml.etree.ElementTree as ET
from typing import Callable, Optional, Sequence, Union

from registry import DATASETS
from registry.errors import ConfigError

from .base_det_dataset import BaseDetDataset
from .errors import DatasetError
from .pixel_rules import voc_to_xyxy
from .split_files import read_split_file


def _number(node: Optional[ET.Element], what: str, path: str) -> float:
    """The float held by ``node``; DatasetError naming ``path`` and ``what`` otherwise."""
    if node is None or node.text is None:
        raise DatasetError(f'{path}: malformed VOC annotation: missing <{what}>', path)
    try:
        return float(node.text.strip())
    except ValueError:
        raise DatasetError(f'{path}: malformed VOC annotation: <{what}> holds '
                           f'{node.text.strip()!r}, not a number', path) from None


@DATASETS.register_module()
class VOCDataset(BaseDetDataset):
    """A Pascal VOC-style detection dataset (XML per image), e.g. BCCD.

    Produces the records and results dicts described in :mod:`zoo.datasets.base_det_dataset`;
    ``img_id`` is the file stem (``'BloodImage_00000'``), boxes follow the conversion in the
    module docstring, and ``<difficult>1</difficult>`` makes a box ignored (``ignore_flag=1``):
    neither a positive nor a negative for training, neither a hit nor a miss for the metrics.

    Args:
        data_root: the dataset folder (holding ``Annotations/``, ``ImageSets/``, ``JPEGImages/``).
        classes: the class names, required (VOC files do not list them); label ``i`` is
            ``classes[i]``. An object whose name is not among them is a config error.
        split: ``'train'`` reads ``ImageSets/Main/train.txt``; a value ending in ``.txt`` is a
            path (relative to ``data_root``, or absolute). None means every ``*.xml`` under
            ``ann_subdir``, sorted by name. A split file that does not exist is a config error,
            never a silent switch to every annotation.
        ann_subdir: folder of the XML files, relative to ``data_root``.
        img_subdir: folder of the images, relative to ``data_root``.
        img_suffix: image file = ``<img_subdir>/<id><img_suffix>`` (mmdet's rule; ``<filename>``
            in the XML is not trusted, since annotation tools often leave stale names there).
        pipeline, test_mode, filter_empty_gt, skip_bad_samples, indices, palette: see
            :class:`~zoo.datasets.base_det_dataset.BaseDetDataset`.

    Raises:
        ConfigError: ``data_root`` or ``ann_subdir`` is not a folder; the split file does not
            exist; the split has no usable image; ``classes`` missing or
            invalid; an object's class name is not in ``classes`` (names the file, the name and
            the configured classes).
        DatasetError: an XML file is missing or malformed (not XML, no ``<bndbox>``, a
            coordinate that is not a number, a bad ``<size>`` with no readable image to measure
            instead); skipped and counted instead with ``skip_bad_samples=True``.

    Example::

        dataset = VOCDataset('data/BCCD', classes=('RBC', 'WBC', 'Platelets'), split='train',
                             pipeline=[dict(type='LoadImageFromFile'), ...])
    """

    def __init__(self,
                 data_root: str,
                 classes: Sequence[str],
                 split: Optional[str] = None,
                 ann_subdir: str = 'Annotations',
                 img_subdir: str = 'JPEGImages',
                 img_suffix: str = '.jpg',
                 pipeline: Sequence[Union[dict, Callable]] = (),
                 test_mode: bool = False,
                 filter_empty_gt: bool = False,
                 skip_bad_samples: bool = False,
                 indices: Optional[Union[int, Sequence[int]]] = None,
                 palette: Optional[Sequence[Sequence[int]]] = None):
        if classes is None:
            raise ConfigError(f'VOCDataset({data_root}): `classes` is required: VOC annotation '
                              f'files do not list the class names')
        self.data_root = str(data_root)
        self.split = split
        self.ann_dir = osp.join(self.data_root, ann_subdir)
        self.img_dir = osp.join(self.data_root, img_subdir)
        self.img_suffix = img_suffix
        for what, folder in (('data_root', self.data_root), ('ann_subdir', self.ann_dir)):
            if not osp.isdir(folder):
                raise ConfigError(f'VOCDataset: {what} {folder!r} is not a folder')
        super().__init__(classes, pipeline=pipeline, test_mode=test_mode,
                         filter_empty_gt=filter_empty_gt, skip_bad_samples=skip_bad_samples,
                         indices=indices, palette=palette)

    def _owner(self) -> str:
        split = f', split={self.split!r}' if self.split else ''
        return f'VOCDataset({self.data_root}{split})'

    # which images -----------------------------------------------------------------------------
    def split_file(self) -> Optional[str]:
        """The path of the split's id list, or None without a split."""
        if not self.split:
            return None
        if self.split.endswith('.txt'):
            return osp.join(self.data_root, self.split)
        return osp.join(self.data_root, 'ImageSets', 'Main', f'{self.split}.txt')

    def image_ids(self) -> list[str]:
        """The image ids of the split (file order), or of every XML file (sorted)."""
        path = self.split_file()
        if path is not None:
            return read_split_file(path, self._owner())
        return sorted(osp.splitext(n)[0] for n in os.listdir(self.ann_dir)
                      if n.endswith('.xml'))

    # parsing --------------------------------------------------------------------------------
    def load_data_list(self) -> list[dict]:
        """Parse every XML of the split into records; see the class docstring for errors."""
        records = []
        for img_id in self.image_ids():
            try:
                records.append(self.parse_xml(img_id))
            except DatasetError as err:
                self._bad_annotation(err)
        return records

    def _image_size(self, root: ET.Element, path: str, img_path: str) -> tuple[int, int]:
        """(width, height) from ``<size>``; measured from the image header when absent or zero."""
        size = root.find('size')
        if size is not None and size.find('width') is not None and size.find('height') is not None:
            w, h = _number(size.find('width'), 'size/width', path), \
                _number(size.find('height'), 'size/height', path)
            if w > 0 and h > 0:
                if w != int(w) or h != int(h):
                    raise DatasetError(f'{path}: malformed VOC annotation: <size> is {w} x {h}, '
                                       f'not whole pixels', path)
                return int(w), int(h)
        try:  # header only: PIL reads the size without decoding the pixels
            from PIL import Image
            with Image.open(img_path) as im:
                return im.size
        except Exception as err:  # noqa: BLE001 -- any failure means: size unknown
            raise DatasetError(f'{path}: <size> is missing or zero and the image {img_path} '
                               f'cannot be measured ({err})', path) from None

    def parse_xml(self, img_id: str) -> dict:
        """The record of one image (see :mod:`zoo.datasets.base_det_dataset`).

        Raises:
            DatasetError: the file is missing or malformed (message names it and the problem).
            ConfigError: an object's name is not in ``classes``.
        """
        path = osp.join(self.ann_dir, f'{img_id}.xml')
        img_path = osp.join(self.img_dir, f'{img_id}{self.img_suffix}')
        try:
            root = ET.parse(path).getroot()
        except FileNotFoundError:
            raise DatasetError(f'{path}: annotation file not found (listed in '
                               f'{self.split_file() or self.ann_dir})', path) from None
        except (ET.ParseError, UnicodeDecodeError, OSError) as err:
            raise DatasetError(f'{path}: malformed XML: {err}', path) from None
        if root.tag != 'annotation':
            raise DatasetError(f'{path}: malformed VOC annotation: the root element is '
                               f'<{root.tag}>, not <annotation>', path)
        width, height = self._image_size(root, path, img_path)

        label_of = {name: i for i, name in enumerate(self.classes)}
        instances = []
        for k, obj in enumerate(root.findall('object')):
            name_node = obj.find('name')
            name = (name_node.text or '').strip() if name_node is not None else ''
            if not name:
                raise DatasetError(f'{path}: malformed VOC annotation: <object> #{k} has no '
                                   f'<name>', path)
            if name not in label_of:
                raise ConfigError(f'{path}: object #{k} is of class {name!r}, which is not in '
                                  f'the configured classes {self.classes}; add it to `classes` '
                                  f'or remove the object')
            diff_node = obj.find('difficult')
            difficult = 0
            if diff_node is not None and (diff_node.text or '').strip():
                value = _number(diff_node, 'difficult', path)
                if value not in (0, 1):
                    raise DatasetError(f'{path}: malformed VOC annotation: <difficult> of object '
                                       f'#{k} is {diff_node.text.strip()!r}, not 0 or 1', path)
                difficult = int(value)
            bnd = obj.find('bndbox')
            if bnd is None:
                raise DatasetError(f'{path}: malformed VOC annotation: <object> #{k} ({name}) '
                                   f'has no <bndbox>', path)
            xmin, ymin, xmax, ymax = (_number(bnd.find(t), f'bndbox/{t}', path)
                                      for t in ('xmin', 'ymin', 'xmax', 'ymax'))
            # 1-based inclusive pixel indices -> the zoo's 0-based xyxy (mmdet 3.x: all minus 1)
            box = self.box_ledger.check(voc_to_xyxy(xmin, ymin, xmax, ymax),
                                        width, height, osp.basename(path))
            if box is not None:
                instances.append(dict(bbox=box, bbox_label=label_of[name],
                                      ignore_flag=difficult))
        return dict(img_id=img_id, img_path=img_path, ann_path=path,
                    width=width, height=height, instances=instances)
