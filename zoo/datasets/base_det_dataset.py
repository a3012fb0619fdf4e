"""The common ground of the zoo's detection datasets: parsed records served through a pipeline.

A subclass parses its annotation files once, at ``__init__``, into ``data_list``: one record per
image, a plain dict::

    dict(img_id=...,          # str (VOC: file stem) or int (COCO image id)
         img_path=str,        # the image file
         ann_path=str,        # the annotation file it came from
         width=int, height=int,   # image size in pixels, from the annotation
         instances=[dict(bbox=[x1, y1, x2, y2],   # float pixels of the original image, xyxy,
                         bbox_label=int,          #   no "+1" width; label in 0 .. C-1
                         ignore_flag=0 | 1)])     # 1: VOC "difficult" / COCO "iscrowd"

``dataset[i]`` turns record ``i`` into the *results dict* below and passes it through the
pipeline (a list of transform configs or callables, built from the ``transform`` catalogue
with key paths ``pipeline.0``, ``pipeline.1``, ...). **The dataset does not read the image**:
the first transform, ``LoadImageFromFile``, does, and adds ``img``. The results dict::

    img_path      str
    img_id        str | int
    sample_idx    int, the index into data_list
    ori_shape     (h, w) of the image, from the annotation
    img_shape     (h, w), equal to ori_shape until a transform resizes
    scale_factor  (1.0, 1.0): (w, h) of img_shape / ori_shape
    flip          False;  flip_direction  None
    instances     list of dicts as above (original pixels, copied), the metrics' ground truth
    gt_bboxes     torchvision.tv_tensors.BoundingBoxes, XYXY, float32 (N, 4), canvas_size (h, w)
    gt_labels     int64 tensor (N,)
    gt_ignore_flags  bool tensor (N,)

Bad data: boxes of zero width/height or outside the image are dropped at init with one
:class:`~zoo.datasets.errors.DatasetWarning`, which also counts what else was left out: images
without a box (``filter_empty_gt``), annotations of unknown categories or images (COCO) and the
second and later records of a duplicate image id. A split left with no image at all is a
:class:`~registry.errors.ConfigError` naming the split and the folder (it would otherwise make
mmengine's sampler divide by zero). An unusable annotation file or image raises
:class:`~zoo.datasets.errors.DatasetError` naming the file, or, with ``skip_bad_samples=True``,
is skipped, recorded in ``bad_samples`` and reported (see :meth:`report`). With a multi-process
DataLoader each worker keeps its own ``bad_samples``; the warning is printed by the worker.

This is a plain :class:`torch.utils.data.Dataset` (not mmengine's ``BaseDataset``): it has a
length, ``metainfo`` (classes, palette) and ``__getitem__``, which is all that mmengine's
``Runner`` and samplers need.
"""
from __future__ import annotations

import colorsys
import copy
import operator
import os.path as osp
from abc import ABCMeta, abstractmethod
from typing import Any, Callable, Optional, Sequence, Union

import numpy as np
import torch
from torch.utils.data import Dataset
from torchvision import tv_tensors

from registry.errors import ConfigError

from ..transforms.compose import Compose
from .errors import DatasetError
from .reporting import BadSample, BoxLedger, name_files, warn


def default_palette(num_classes: int) -> list[tuple[int, int, int]]:
    """``num_classes`` distinct RGB colours (0..255), the same every time.

    Hues step by the golden ratio around the colour wheel, so neighbouring labels differ.
    """
    colours = []
    for i in range(num_classes):
        r, g, b = colorsys.hsv_to_rgb((i * 0.618033988749895) % 1.0, 0.65, 0.95)
        colours.append((int(r * 255), int(g * 255), int(b * 255)))
    return colours


def check_classes(classes: Any, owner: str) -> tuple[str, ...]:
    """``classes`` as a tuple of unique, non-empty names.

    Raises:
        ConfigError: not a list/tuple of strings, empty, or with repeated names.
    """
    if isinstance(classes, str) or not isinstance(classes, Sequence) or not classes:
        raise ConfigError(f'{owner}: `classes` must be a non-empty tuple of class names, '
                          f'got {classes!r}')
    bad = [c for c in classes if not isinstance(c, str) or not c]
    if bad:
        raise ConfigError(f'{owner}: every class name must be a non-empty string; got {bad!r} '
                          f'in classes={tuple(classes)!r}')
    repeated = sorted({c for c in classes if list(classes).count(c) > 1})
    if repeated:
        raise ConfigError(f'{owner}: class names repeat in classes={tuple(classes)!r}: {repeated}')
    return tuple(classes)


def _file_name(path: str) -> str:
    return osp.basename(str(path)) or str(path)


class BaseDetDataset(Dataset, metaclass=ABCMeta):
    """Records parsed at init, served through a transform pipeline (see the module docstring).

    Subclasses implement :meth:`load_data_list`.

    Args:
        classes: class names; label ``i`` is ``classes[i]``. None lets a subclass find them
            (COCO: every category of the file).
        pipeline: transform configs (dicts with ``type``) or callables, applied in order (or a
            ready :class:`~zoo.transforms.Compose`).
        test_mode: a dataset for validation/testing: ``filter_empty_gt`` is not applied, and a
            pipeline that returns None is an error instead of a reason to take the next sample.
        filter_empty_gt: drop images without any box (ignored boxes count as boxes, as in mmdet)
            when not in ``test_mode``.
        skip_bad_samples: skip unusable annotation files and images instead of raising.
        indices: keep only these samples (after filtering): an int N keeps the first N, a list
            keeps those positions. Handy for tiny runs.
        palette: one RGB colour per class for visualisation; default :func:`default_palette`.

    Raises:
        ConfigError: bad ``classes``, ``palette`` or ``indices``; an unknown transform type; no
            image left to use (an empty split, or every image without a box and
            ``filter_empty_gt``), naming the split and the folder.
        DatasetError: an unusable annotation file (unless ``skip_bad_samples``).
    """

    def __init__(self,
                 classes: Optional[Sequence[str]],
                 pipeline: Sequence[Union[dict, Callable]] = (),
                 test_mode: bool = False,
                 filter_empty_gt: bool = False,
                 skip_bad_samples: bool = False,
                 indices: Optional[Union[int, Sequence[int]]] = None,
                 palette: Optional[Sequence[Sequence[int]]] = None):
        self.test_mode = bool(test_mode)
        self.filter_empty_gt = bool(filter_empty_gt)
        self.skip_bad_samples = bool(skip_bad_samples)
        self.bad_samples: list[BadSample] = []
        self._bad_indices: set[int] = set()
        self.box_ledger = BoxLedger()
        self.classes: Optional[tuple[str, ...]] = (
            None if classes is None else check_classes(classes, type(self).__name__))
        self.pipeline = pipeline if isinstance(pipeline, Compose) else Compose(pipeline)

        records = self.load_data_list()  # may set self.classes (COCO without classes)
        if self.classes is None:
            raise ConfigError(f'{type(self).__name__}: no classes were given or found')
        self.metainfo = dict(classes=self.classes, palette=self._check_palette(palette))
        records = self._drop_duplicate_ids(records)
        num_images = len(records)
        if self.filter_empty_gt and not self.test_mode:
            for r in records:
                if not r['instances']:
                    self.box_ledger.leave_out('image without a box', _file_name(r['img_path']))
            records = [r for r in records if r['instances']]
        self.box_ledger.report(self._owner())
        self._report_bad_annotations()
        if not records:
            raise ConfigError(
                f'{self._owner()}: the split has no image to use: '
                + (f'every one of its {num_images} images has no box (filter_empty_gt=True)'
                   if num_images else 'it lists no image')
                + (f' (images skipped as unusable: {len(self.bad_samples)})'
                   if self.bad_samples else ''))
        self.data_list: list[dict] = self._select(records, indices)

    # to be implemented by subclasses ----------------------------------------------------
    @abstractmethod
    def load_data_list(self) -> list[dict]:
        """Parse the annotation files into records (see the module docstring)."""

    def _owner(self) -> str:
        """How messages name this dataset, e.g. ``VOCDataset(data/BCCD)``."""
        return type(self).__name__

    def _drop_duplicate_ids(self, records: list[dict]) -> list[dict]:
        """``records`` without the second and later records of an ``img_id`` (counted)."""
        seen, out = set(), []
        for r in records:
            if r['img_id'] in seen:
                self.box_ledger.leave_out('duplicate image id', _file_name(r['img_path']))
                continue
            seen.add(r['img_id'])
            out.append(r)
        return out

    # helpers for subclasses -----------------------------------------------------------------
    def _bad_annotation(self, err: DatasetError) -> None:
        """Raise ``err``, or record it when skipping bad samples."""
        if not self.skip_bad_samples:
            raise err
        self.bad_samples.append(BadSample(err.path, str(err), 'annotation'))

    def _report_bad_annotations(self) -> None:
        bad = [b for b in self.bad_samples if b.stage == 'annotation']
        if bad:
            warn(f'{self._owner()}: skipped {len(bad)} sample{"s" if len(bad) != 1 else ""} '
                 f'with an unusable annotation file: '
                 + '; '.join(b.reason for b in bad[:5])
                 + (f'; and {len(bad) - 5} more (see .bad_samples)' if len(bad) > 5 else ''))

    def _check_palette(self, palette) -> list[tuple[int, int, int]]:
        if palette is None:
            return default_palette(len(self.classes))
        palette = [tuple(int(v) for v in c) for c in palette]
        if len(palette) != len(self.classes) or any(len(c) != 3 for c in palette):
            raise ConfigError(f'{self._owner()}: `palette` needs one (r, g, b) per class '
                              f'({len(self.classes)} classes), got {palette!r}')
        return palette

    def _select(self, records: list[dict], indices) -> list[dict]:
        if indices is None:
            return records
        if isinstance(indices, bool) or not isinstance(indices, (int, Sequence)):
            raise ConfigError(f'{self._owner()}: `indices` must be an int or a list of ints, '
                              f'got {indices!r}')
        if isinstance(indices, int):
            if indices < 0:
                raise ConfigError(f'{self._owner()}: `indices` = {indices} is negative')
            return records[:indices]
        out = []
        for item in indices:
            try:
                i = operator.index(item)
            except TypeError:
                i = None
            if i is None or not -len(records) <= i < len(records):
                raise ConfigError(f'{self._owner()}: `indices` holds {item!r}, but the dataset has '
                                  f'{len(records)} samples')
            out.append(records[i])
        return out

    # the torch Dataset ------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.data_list)

    def get_data_info(self, idx: int) -> dict:
        """A deep copy of record ``idx`` (see the module docstring)."""
        return copy.deepcopy(self.data_list[idx])

    def get_ann_info(self, idx: int) -> dict:
        """The boxes of image ``idx`` as arrays, in original-image pixels.

        Returns:
            dict(bboxes=float32 (N, 4) xyxy, labels=int64 (N,), ignore_flags=bool (N,)).
        """
        inst = self.data_list[idx]['instances']
        return dict(
            bboxes=np.asarray([i['bbox'] for i in inst], dtype=np.float32).reshape(-1, 4),
            labels=np.asarray([i['bbox_label'] for i in inst], dtype=np.int64),
            ignore_flags=np.asarray([bool(i['ignore_flag']) for i in inst], dtype=bool))

    def get_cat_ids(self, idx: int) -> list[int]:
        """The labels (0 .. C-1) of image ``idx``'s boxes, one per box (mmdet's name)."""
        return [i['bbox_label'] for i in self.data_list[idx]['instances']]

    def prepare_results(self, idx: int) -> dict:
        """The results dict of sample ``idx``, before the pipeline (see the module docstring)."""
        rec = self.data_list[idx]
        h, w = rec['height'], rec['width']
        inst = [dict(i, bbox=list(i['bbox'])) for i in rec['instances']]
        boxes = torch.tensor([i['bbox'] for i in inst], dtype=torch.float32).reshape(-1, 4)
        return dict(
            img_path=rec['img_path'], img_id=rec['img_id'], sample_idx=idx,
            ori_shape=(h, w), img_shape=(h, w), scale_factor=(1.0, 1.0),
            flip=False, flip_direction=None, instances=inst,
            gt_bboxes=tv_tensors.BoundingBoxes(boxes, format='XYXY', canvas_size=(h, w)),
            gt_labels=torch.tensor([i['bbox_label'] for i in inst], dtype=torch.int64),
            gt_ignore_flags=torch.tensor([bool(i['ignore_flag']) for i in inst],
                                         dtype=torch.bool))

    def __getitem__(self, idx: int) -> Any:
        """The pipeline's output for sample ``idx``.

        With ``skip_bad_samples``, a sample whose image cannot be loaded is recorded in
        ``bad_samples`` (with one warning) and the next good sample (idx + 1, idx + 2, ...,
        wrapping around) is returned instead. Outside ``test_mode``, a pipeline that returns
        None (a transform rejected the sample) also moves on to the next sample, as in mmengine.

        Raises:
            DatasetError: the image is unusable and ``skip_bad_samples`` is False; or no sample
                at all can be loaded; or the pipeline returned None in ``test_mode``.
            IndexError: ``idx`` out of range.
        """
        n = len(self)
        if not -n <= idx < n:
            raise IndexError(f'{self._owner()}: index {idx} out of range for {n} samples')
        idx %= n
        for step in range(n):
            i = (idx + step) % n
            if i in self._bad_indices:
                continue
            try:
                out = self.pipeline(self.prepare_results(i), self)
            except DatasetError as err:
                if not self.skip_bad_samples:
                    raise
                self._skip_bad_image(i, err)
                continue
            if out is None:
                if self.test_mode:
                    raise DatasetError(f'{self._owner()}: the pipeline returned None for sample '
                                       f'{i} ({self.data_list[i]["img_path"]}) in test mode',
                                       self.data_list[i]['img_path'])
                continue
            return out
        raise DatasetError(f'{self._owner()}: no sample of the {n} can be loaded; bad files: '
                           + name_files([b.path for b in self.bad_samples]))

    def _skip_bad_image(self, i: int, err: DatasetError) -> None:
        """Record sample ``i`` as unusable (``skip_bad_samples``), with one warning."""
        self._bad_indices.add(i)
        self.bad_samples.append(BadSample(err.path or self.data_list[i]['img_path'], str(err),
                                          'image', i))
        warn(f'{self._owner()}: skipping sample {i}: {err}')

    def load_mix_sample(self, idx: int, pipeline: Callable[[dict, Any], Optional[dict]]) -> dict:
        """Sample ``idx`` through ``pipeline``, for a transform that mixes samples (``Mosaic``).

        ``pipeline(results, dataset)`` is the part of this dataset's pipeline before the mixing
        transform (see :class:`~zoo.transforms.Compose`); its output is a results dict (e.g. with
        ``img`` loaded), not yet packed. As in ``__getitem__``, with ``skip_bad_samples`` an
        unusable image is recorded and the next sample taken (idx + 1, ..., wrapping around), and
        so is a sample the pipeline drops (returns None).

        Raises:
            DatasetError: the image is unusable and ``skip_bad_samples`` is False (naming the
                file); or no sample at all can be loaded.
        """
        n = len(self)
        idx %= n
        for step in range(n):
            i = (idx + step) % n
            if i in self._bad_indices:
                continue
            try:
                out = pipeline(self.prepare_results(i), self)
            except DatasetError as err:
                if not self.skip_bad_samples:
                    raise
                self._skip_bad_image(i, err)
                continue
            if out is not None:
                return out
        raise DatasetError(f'{self._owner()}: no sample of the {n} can be loaded to mix in; bad '
                           'files: ' + name_files([b.path for b in self.bad_samples]))

    def report(self) -> str:
        """A summary of the skipped samples (also logged as a warning when there are any)."""
        if not self.bad_samples:
            return f'{self._owner()}: no sample was skipped'
        n_ann = sum(b.stage == 'annotation' for b in self.bad_samples)
        n_img = len(self.bad_samples) - n_ann
        lines = [f'{self._owner()}: skipped {len(self.bad_samples)} bad sample'
                 f'{"s" if len(self.bad_samples) != 1 else ""} '
                 f'({n_ann} for the annotation file, {n_img} for the image):']
        lines += [f'  [{b.stage}] {b.reason}' for b in self.bad_samples]
        text = '\n'.join(lines)
        warn(text)
        return text

    def __repr__(self) -> str:
        return (f'{self._owner()}: {len(self)} images, {len(self.classes)} classes '
                f'{self.classes}, test_mode={self.test_mode}, pipeline={self.pipeline!r}')
