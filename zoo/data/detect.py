"""Which annotation format a folder holds, its splits and its class names (``--data PATH``).

Three layouts are recognised:

* **Pascal VOC**: ``Annotations/*.xml``, ``JPEGImages/`` and ``ImageSets/Main/<split>.txt``.
  Splits: the files ``train``, ``val`` and ``test`` (``trainval`` stands in for ``train`` when
  there is no ``train.txt``); without any split file, every XML file is ``train``. Class names:
  ``--classes``, else the sorted names found in the training split's XML files. Roboflow's
  Pascal VOC export is read too: each split a folder (``train``, ``valid`` as split ``val``,
  ``test``) holding the images and their XML files side by side.
* **COCO**: one JSON file (the ``train`` split), or a folder holding ``annotations/*.json``:
  ``instances_train2017.json`` or ``train.json`` is split ``train``, and so on (a name holding
  ``train``, ``val`` or ``test``). The images of a split are looked for in ``<root>/<stem>``
  (``train2017``), ``<root>/images/<split>``, ``<root>/images`` and ``<root>``, in that order:
  the first folder holding the first image's ``file_name``. Roboflow's COCO export is read too:
  ``<split>/_annotations.coco.json`` beside that split's images, for the folders ``train``,
  ``valid`` (split ``val``) and ``test``. Class names: the categories of the training file, by
  id (``--classes`` picks a subset, in its order), less a category that is only the
  ``supercategory`` of the others and labels no box (Roboflow writes the project's name so, as
  category 0).
* **YOLO (Ultralytics)**: ``data.yaml`` (``path``, ``train``, ``val``, ``test``, ``names``), or
  without it ``images/<split>/`` and ``labels/<split>/`` folders (then ``--classes`` names the
  classes). A split is a folder of images or a ``.txt`` list of image paths, relative to
  ``path`` (a ``../x`` that does not exist is read as ``x``, as Ultralytics does).

:func:`detect_data` returns a :class:`DataSource`; :func:`zoo.data.config_from_data` turns it
into dataloaders, evaluators and ``num_classes``.
"""
from __future__ import annotations

import json
import os
import os.path as osp
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Optional, Sequence

from registry import ConfigError

from ..datasets.split_files import read_split_file
from ..datasets.yolo import list_images

SPLITS = ('train', 'val', 'test')
FORMATS = ('voc', 'coco', 'yolo')


@dataclass
class DataSource:
    """A dataset folder as ``--data`` sees it.

    Attributes:
        format: ``'voc'``, ``'coco'`` or ``'yolo'``.
        root: the folder (absolute); for a lone COCO JSON file, its folder.
        splits: split name -> the dataset config of that split without ``classes`` and
            ``pipeline`` (e.g. ``dict(type='VOCDataset', data_root=..., split='train')``).
        classes: the class names, in label order.
        classes_from: where the names came from (for messages and the recorded config).
        derived: split name -> the file written for a split carved out by ``--val-fraction``.
        path: the path as given (``--data``).
    """

    format: str
    root: str
    splits: dict = field(default_factory=dict)
    classes: tuple = ()
    classes_from: str = ''
    derived: dict = field(default_factory=dict)
    path: str = ''

    def dataset_cfg(self, split: str) -> dict:
        """The dataset config of ``split`` with the classes (a new dict)."""
        return dict(self.splits[split], classes=tuple(self.classes))


def detect_format(path: str) -> str:
    """``'voc'``, ``'coco'`` or ``'yolo'`` for the file or folder ``path``.

    Raises:
        ConfigError: ``path`` does not exist or is in none of the three layouts (the message
            says what each layout needs).
    """
    if not osp.exists(path):
        raise ConfigError(f'--data {path}: no such file or folder')
    if osp.isfile(path):
        if path.endswith('.json'):
            return 'coco'
        if path.endswith(('.yaml', '.yml')):
            return 'yolo'
        raise ConfigError(f'--data {path}: a file must be a COCO .json or a YOLO data .yaml')
    if osp.isdir(osp.join(path, 'Annotations')) and osp.isdir(osp.join(path, 'JPEGImages')):
        return 'voc'
    if _flat_voc_dirs(path) and not _roboflow_coco_files(path):
        return 'voc'
    if _yolo_yaml(path) or (osp.isdir(osp.join(path, 'images')) and osp.isdir(osp.join(path, 'labels'))):
        return 'yolo'
    if osp.isdir(osp.join(path, 'annotations')) and any(
            n.endswith('.json') for n in os.listdir(osp.join(path, 'annotations'))):
        return 'coco'
    if _roboflow_coco_files(path):
        return 'coco'
    raise ConfigError(f'--data {path}: the folder is in none of the known layouts: Pascal VOC '
                      f'(Annotations/, JPEGImages/, ImageSets/Main/, or Roboflow\'s <split>/ '
                      f'folders of images and XML files side by side), COCO (annotations/*.json '
                      f'and the images, or Roboflow\'s <split>/{ROBOFLOW_COCO}) or YOLO '
                      f'(data.yaml, images/<split>/, labels/<split>/)')


def detect_data(path: str, classes: Optional[Sequence[str]] = None) -> DataSource:
    """The :class:`DataSource` of ``path`` (see the module docstring).

    Args:
        path: the dataset folder (or a COCO JSON file, or a YOLO data.yaml).
        classes: class names to use instead of the dataset's (``--classes``).

    Raises:
        ConfigError: an unknown layout, no training split, a malformed data.yaml, no class
            names, or ``classes`` naming a class the dataset does not have (COCO, YOLO).
    """
    fmt = detect_format(path)
    source = {'voc': _voc, 'coco': _coco, 'yolo': _yolo}[fmt](osp.abspath(path), classes)
    source.path = osp.abspath(path)
    if 'train' not in source.splits:
        raise ConfigError(f'--data {path}: found no training split (splits found: '
                          f'{sorted(source.splits) or "none"})')
    if not source.classes:
        raise ConfigError(f'--data {path}: no class names found ({source.classes_from}); '
                          f'name them with --classes')
    return source


# Pascal VOC ---------------------------------------------------------------------------------
def _flat_voc_dirs(root: str) -> dict:
    """Split name -> folder name for the split folders of a Roboflow Pascal VOC export: the
    folders ``train``, ``valid``, ``test`` (any name holding a split's) that hold XML files."""
    dirs = {}
    for n in sorted(os.listdir(root)):
        name = coco_split_name(n)
        if name and name not in dirs and osp.isdir(osp.join(root, n)) and any(
                f.endswith('.xml') for f in os.listdir(osp.join(root, n))):
            dirs[name] = n
    return dirs


def _image_suffix(folder: str) -> str:
    """The suffix of the image beside the first XML file of ``folder`` (``'.jpg'`` when there
    is none, as in :class:`~zoo.datasets.voc.VOCDataset`)."""
    files = sorted(os.listdir(folder))
    stems = {osp.splitext(f)[0]: osp.splitext(f)[1] for f in files if not f.endswith('.xml')}
    first = next((osp.splitext(f)[0] for f in files if f.endswith('.xml')), None)
    return stems.get(first, '.jpg') if first else '.jpg'


def _voc(root: str, classes) -> DataSource:
    if not osp.isdir(osp.join(root, 'Annotations')):
        return _flat_voc(root, classes)
    main = osp.join(root, 'ImageSets', 'Main')
    splits = {}
    for name in SPLITS:
        if osp.isfile(osp.join(main, f'{name}.txt')):
            splits[name] = dict(type='VOCDataset', data_root=root, split=name)
    if 'train' not in splits and osp.isfile(osp.join(main, 'trainval.txt')):
        splits['train'] = dict(type='VOCDataset', data_root=root, split='trainval')
    if not splits:
        splits['train'] = dict(type='VOCDataset', data_root=root, split=None)
    source = DataSource('voc', root, splits)
    if classes:
        source.classes, source.classes_from = tuple(classes), '--classes'
    else:
        split = splits['train']['split']
        ids = (read_split_file(osp.join(main, f'{split}.txt')) if split else
               sorted(osp.splitext(n)[0] for n in os.listdir(osp.join(root, 'Annotations'))
                      if n.endswith('.xml')))
        source.classes = tuple(sorted(voc_class_names(osp.join(root, 'Annotations'), ids)))
        source.classes_from = f'the sorted <name>s of the {len(ids)} XML files of split {split!r}'
    return source


def _flat_voc(root: str, classes) -> DataSource:
    splits = {}
    for name, folder in _flat_voc_dirs(root).items():
        splits[name] = dict(type='VOCDataset', data_root=root, split=None, ann_subdir=folder,
                            img_subdir=folder, img_suffix=_image_suffix(osp.join(root, folder)))
    source = DataSource('voc', root, splits)
    if classes:
        source.classes, source.classes_from = tuple(classes), '--classes'
    elif 'train' in splits:
        ann_dir = osp.join(root, splits['train']['ann_subdir'])
        ids = sorted(osp.splitext(n)[0] for n in os.listdir(ann_dir) if n.endswith('.xml'))
        source.classes = tuple(sorted(voc_class_names(ann_dir, ids)))
        source.classes_from = (f'the sorted <name>s of the {len(ids)} XML files of '
                               f'{splits["train"]["ann_subdir"]}/')
    return source


def voc_class_names(ann_dir: str, ids: Sequence[str]) -> set:
    """Every ``<object><name>`` of the XML files of ``ids`` (unreadable files are passed over:
    the dataset reports them when it is built)."""
    names = set()
    for img_id in ids:
        try:
            root = ET.parse(osp.join(ann_dir, f'{img_id}.xml')).getroot()
        except (ET.ParseError, OSError):
            continue
        for obj in root.findall('object'):
            name = (obj.findtext('name') or '').strip()
            if name:
                names.add(name)
    return names


# COCO ----------------------------------------------------------------------------------------
def coco_split_name(stem: str) -> Optional[str]:
    """``instances_train2017`` -> ``'train'``; None for a name without train/val/test."""
    for name in SPLITS:
        if re.search(name, stem, re.IGNORECASE):
            return name
    return None


#: the annotation file of each split folder in Roboflow's COCO export
ROBOFLOW_COCO = '_annotations.coco.json'


def _roboflow_coco_files(root: str) -> dict:
    """Split name -> ``<root>/<folder>/_annotations.coco.json`` for the split folders of a
    Roboflow COCO export (``train``, ``valid``, ``test``; any folder name holding a split's)."""
    files = {}
    for n in sorted(os.listdir(root)):
        ann_file = osp.join(root, n, ROBOFLOW_COCO)
        name = coco_split_name(n)
        if name and name not in files and osp.isfile(ann_file):
            files[name] = ann_file
    return files


def _coco(root: str, classes) -> DataSource:
    if osp.isfile(root):
        files = {'train': root}
        root = osp.dirname(root)
    elif osp.isdir(osp.join(root, 'annotations')):
        ann_dir = osp.join(root, 'annotations')
        files = {}
        for n in sorted(os.listdir(ann_dir)):
            name = coco_split_name(osp.splitext(n)[0]) if n.endswith('.json') else None
            if name and name not in files:
                files[name] = osp.join(ann_dir, n)
    else:
        files = _roboflow_coco_files(root)
    splits, cats, unused = {}, None, ()
    for name, ann_file in files.items():
        try:
            with open(ann_file, encoding='utf-8') as f:
                data = json.load(f)
        except (OSError, ValueError) as err:
            raise ConfigError(f'--data: cannot read the COCO file {ann_file}: {err}') from None
        if not isinstance(data, dict) or not isinstance(data.get('images'), list):
            raise ConfigError(f'--data: {ann_file} is not a COCO annotation file (no `images`)')
        if name == 'train':
            cats = sorted(data.get('categories') or [], key=lambda c: c.get('id', 0))
            cats, unused = _without_group_category(cats, data.get('annotations') or [])
        if osp.basename(ann_file) == ROBOFLOW_COCO:  # the images lie beside it
            prefix = osp.dirname(ann_file)
        else:
            stem = osp.splitext(osp.basename(ann_file))[0].replace('instances_', '')
            prefix = _coco_images(root, stem, name, data['images'])
        splits[name] = dict(type='CocoDataset', ann_file=ann_file, img_prefix=prefix)
    source = DataSource('coco', root, splits)
    names = tuple(str(c.get('name')) for c in cats or ())
    if classes:
        missing = [c for c in classes if c not in names]
        if missing:
            raise ConfigError(f'--classes {list(classes)}: {missing} are not categories of '
                              f'{files.get("train")}; its categories are {list(names)}')
        source.classes, source.classes_from = tuple(classes), '--classes'
    else:
        source.classes = names
        source.classes_from = f'the categories of {files.get("train")}, by id'
        if unused:
            source.classes_from += (f', less {list(unused)}: only the supercategory of the '
                                    f'others, labelling no box')
    return source


def _without_group_category(cats: list, annotations: list) -> tuple[list, tuple]:
    """``cats`` less the categories that are the ``supercategory`` of another category and
    label no annotation (Roboflow's export names the whole project so, as category 0; it is
    not a class), and the names left out."""
    used = {a.get('category_id') for a in annotations if isinstance(a, dict)}

    def is_group(c: dict) -> bool:
        return c.get('id') not in used and any(
            o is not c and o.get('supercategory') == c.get('name') for o in cats)

    drop = [c for c in cats if is_group(c)]
    return [c for c in cats if c not in drop], tuple(str(c.get('name')) for c in drop)


def _coco_images(root: str, stem: str, split: str, images: list) -> str:
    candidates = [osp.join(root, stem), osp.join(root, 'images', split), osp.join(root, 'images'),
                  root]
    first = next((im.get('file_name') for im in images if isinstance(im, dict)), None)
    if first:
        for folder in candidates:
            if osp.isfile(osp.join(folder, first)):
                return folder
    return next((c for c in candidates if osp.isdir(c)), root)


# YOLO ----------------------------------------------------------------------------------------
def _yolo_yaml(path: str) -> Optional[str]:
    if osp.isfile(path):
        return path
    for name in ('data.yaml', 'data.yml', 'dataset.yaml'):
        if osp.isfile(osp.join(path, name)):
            return osp.join(path, name)
    return None


def _yolo(root: str, classes) -> DataSource:
    yaml_path = _yolo_yaml(root)
    names: tuple = ()
    splits = {}
    if yaml_path is not None:
        import yaml
        try:
            with open(yaml_path, encoding='utf-8') as f:
                spec = yaml.safe_load(f) or {}
        except (OSError, yaml.YAMLError) as err:
            raise ConfigError(f'--data: cannot read {yaml_path}: {err}') from None
        if not isinstance(spec, dict):
            raise ConfigError(f'--data: {yaml_path} must hold a mapping (path, train, val, names)')
        base = osp.dirname(yaml_path)
        root = osp.normpath(osp.join(base, str(spec['path']))) if spec.get('path') else base
        for name in SPLITS:
            value = spec.get(name)
            if value is None:
                continue
            if not isinstance(value, str):
                raise ConfigError(f'{yaml_path}: `{name}` must be one folder or .txt file, got '
                                  f'{value!r}')
            if value.startswith('../') and not osp.exists(osp.join(root, value)):
                value = value[3:]  # Ultralytics' fallback for exports written one level up
            splits[name] = dict(type='YOLODataset', data_root=root, split=value)
        raw = spec.get('names')
        if isinstance(raw, dict):
            keys = sorted(raw)
            if keys != list(range(len(keys))):
                raise ConfigError(f'{yaml_path}: `names` must map the ids 0..N-1, got ids {keys}')
            names = tuple(str(raw[k]) for k in keys)
        elif isinstance(raw, list):
            names = tuple(str(n) for n in raw)
        elif raw is not None:
            raise ConfigError(f'{yaml_path}: `names` must be a list or an id -> name mapping')
        if 'nc' in spec and names and spec['nc'] != len(names):
            raise ConfigError(f'{yaml_path}: nc = {spec["nc"]} but `names` has {len(names)} '
                              f'entries')
    else:
        img_root = osp.join(root, 'images')
        for name in SPLITS:
            if osp.isdir(osp.join(img_root, name)):
                splits[name] = dict(type='YOLODataset', data_root=root, split=f'images/{name}')
    source = DataSource('yolo', root, splits)
    if classes:
        if names and len(classes) != len(names):
            raise ConfigError(f'--classes names {len(classes)} classes but {yaml_path} has '
                              f'{len(names)} names; YOLO labels are ids, so the count must agree')
        source.classes, source.classes_from = tuple(classes), '--classes'
    else:
        source.classes = names
        source.classes_from = f'`names` of {yaml_path}' if yaml_path else 'no data.yaml'
    return source


def split_members(source: DataSource, split: str) -> list[str]:
    """The entries a split file of ``split`` would list: VOC ids, COCO image ids, YOLO image
    paths (absolute), in the dataset's order."""
    cfg = source.splits[split]
    if source.format == 'voc':
        if cfg['split']:
            return read_split_file(osp.join(cfg['data_root'], 'ImageSets', 'Main',
                                            f'{cfg["split"]}.txt'))
        ann_dir = osp.join(cfg['data_root'], cfg.get('ann_subdir', 'Annotations'))
        return sorted(osp.splitext(n)[0] for n in os.listdir(ann_dir) if n.endswith('.xml'))
    if source.format == 'coco':
        with open(cfg['ann_file'], encoding='utf-8') as f:
            return [str(im['id']) for im in sorted(json.load(f)['images'], key=lambda i: i['id'])]
    where = osp.join(cfg['data_root'], cfg['split'])
    if cfg['split'].endswith('.txt'):
        return [p if osp.isabs(p) else osp.normpath(osp.join(cfg['data_root'], p))
                for p in read_split_file(where)]
    if not osp.isdir(where):
        raise ConfigError(f'YOLO split {split!r}: the folder {where} does not exist')
    return list_images(where)
