"""COCO-style box AP (pycocotools' COCOeval) as an mmengine metric."""
from __future__ import annotations

import contextlib
import io
import json
import os
import os.path as osp
from typing import Optional, Sequence

import numpy as np
from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log
from pycocotools.cocoeval import COCOeval

from registry import METRICS
from registry.errors import ConfigError

from ..datasets.coco import load_coco_json
from .coco_json import coco_from_dict, gt_to_coco_dict, load_results, results_to_coco_json
from .samples import unpack_sample
from .table import format_table

#: names of COCOeval's 12 summary statistics (``COCOeval.stats``), as mmdet names the first six
STAT_NAMES = ('mAP', 'mAP_50', 'mAP_75', 'mAP_s', 'mAP_m', 'mAP_l',
              'AR@1', 'AR@10', 'AR@100', 'AR_s@100', 'AR_m@100', 'AR_l@100')


def _mean_precision(p: np.ndarray) -> float:
    """Mean of the valid (> -1) entries of a COCOeval precision slice; NaN when none."""
    p = p[p > -1]
    return float(np.mean(p)) if p.size else float('nan')


@METRICS.register_module()
class CocoMetric(BaseMetric):
    """COCO box AP and AR, computed by pycocotools' ``COCOeval`` (iouType ``'bbox'``).

    ``process`` keeps, per image, the predictions (``pred_instances``: ``bboxes`` (M, 4) xyxy in
    original-image pixels, ``scores``, ``labels`` in ``0 .. C-1``) and the ground truth (metainfo
    ``instances``, original pixels). ``compute_metrics`` then either

    * builds the COCO ground truth in memory (default): images with ``width``/``height`` from
      ``ori_shape``, categories ``1 .. C`` named after ``classes``, one annotation per box with
      ``bbox = [x, y, w, h]``, ``area = w * h`` and ``iscrowd`` = its ignore flag (so VOC's
      "difficult" boxes count as COCO crowd regions); or
    * with ``ann_file``, evaluates against that COCO file (image ids must be the file's, as
      :class:`~zoo.datasets.CocoDataset` gives them; label ``i`` is the category named
      ``classes[i]``, or the i-th category by id when no classes are known),

    and runs ``COCOeval`` on the evaluated images only. Boxes are used as they are: no "+1".

    Returned keys (mmengine's ``Evaluator`` prefixes them with ``prefix/``, e.g.
    ``coco/bbox_mAP``): ``bbox_mAP``, ``bbox_mAP_50``, ``bbox_mAP_75``, ``bbox_mAP_s``,
    ``bbox_mAP_m``, ``bbox_mAP_l`` (mmdet's names for ``COCOeval.stats[0:6]``), ``bbox_AR@1``,
    ``bbox_AR@10``, ``bbox_AR@100``, ``bbox_AR_s@100``, ``bbox_AR_m@100``, ``bbox_AR_l@100``
    (``stats[6:12]``), and with ``classwise`` one ``bbox_AP_<class>`` per class (AP at IoU
    0.50:0.95, all areas, 100 detections; NaN for a class without ground truth). Values are
    pycocotools' unrounded floats (mmdet rounds to 3 decimals); -1 means "no ground truth in that
    area range", as in pycocotools. A readable summary (pycocotools' text, an overall table and
    a per-class table) goes to mmengine's current logger.

    Args:
        classes: class names in label order; default ``dataset_meta['classes']`` (set by the
            Runner from the dataset's ``metainfo``).
        iou_type: only ``'bbox'``.
        ann_file: a COCO JSON file to use as ground truth instead of the ``instances``.
        outfile_prefix: when set, the detections are also written to
            ``<outfile_prefix>.bbox.json`` in COCO's results format (mmdet's file name).
        classwise: add per-class AP keys and the per-class table.
        prefix: key prefix (``'coco'``).
        collect_device: ``'cpu'`` or ``'gpu'``, for gathering results across processes.

    Raises:
        ConfigError: an ``iou_type`` other than ``'bbox'``; no classes given or known; a class
            not among ``ann_file``'s categories.
        ValueError: (at ``compute_metrics``) predicted labels out of range; an image id not in
            ``ann_file``.
    """

    default_prefix = 'coco'

    def __init__(self,
                 classes: Optional[Sequence[str]] = None,
                 iou_type: str = 'bbox',
                 ann_file: Optional[str] = None,
                 outfile_prefix: Optional[str] = None,
                 classwise: bool = True,
                 prefix: Optional[str] = 'coco',
                 collect_device: str = 'cpu'):
        super().__init__(collect_device=collect_device, prefix=prefix)
        if iou_type != 'bbox':
            raise ConfigError(f"CocoMetric: iou_type must be 'bbox' (the zoo has box detectors "
                              f'only), got {iou_type!r}')
        self.classes = tuple(classes) if classes is not None else None
        self.iou_type = iou_type
        self.ann_file = ann_file
        self.outfile_prefix = outfile_prefix
        self.classwise = bool(classwise)
        self.last_eval: Optional[COCOeval] = None  # the COCOeval of the latest compute_metrics

    # collecting --------------------------------------------------------------------------------
    def process(self, data_batch, data_samples: Sequence) -> None:
        """Keep predictions and ground truth of each image (see the class docstring)."""
        for sample in data_samples:
            self.results.append(unpack_sample(sample))

    # evaluating --------------------------------------------------------------------------------
    def _known_classes(self) -> Optional[tuple[str, ...]]:
        if self.classes is not None:
            return self.classes
        if self.dataset_meta and self.dataset_meta.get('classes'):
            return tuple(self.dataset_meta['classes'])
        return None

    def _ground_truth(self, results: list[dict]):
        """(COCO ground truth, cat id per label, img_id -> COCO image id, class names)."""
        classes = self._known_classes()
        if self.ann_file is None:
            if classes is None:
                raise ConfigError('CocoMetric: no class names: give `classes` or evaluate with a '
                                  'dataset whose metainfo has them')
            gt_dict, img_ids = gt_to_coco_dict(results, classes)
            return coco_from_dict(gt_dict), list(range(1, len(classes) + 1)), img_ids, classes
        gt = load_coco_json(self.ann_file)
        cats = sorted(gt.loadCats(gt.getCatIds()), key=lambda c: c['id'])
        if classes is None:
            classes = tuple(c['name'] for c in cats)
            cat_ids = [c['id'] for c in cats]
        else:
            by_name = {}
            for c in cats:
                by_name.setdefault(c['name'], c['id'])
            missing = [n for n in classes if n not in by_name]
            if missing:
                raise ConfigError(f'CocoMetric: classes {missing} are not categories of '
                                  f'{self.ann_file} (it has {[c["name"] for c in cats]})')
            cat_ids = [by_name[n] for n in classes]
        unknown = [r['img_id'] for r in results if r['img_id'] not in gt.imgs]
        if unknown:
            raise ValueError(f'CocoMetric: image ids {unknown[:10]} are not in {self.ann_file}; '
                             f'with ann_file, img_id must be the COCO image id')
        return gt, cat_ids, {r['img_id']: r['img_id'] for r in results}, classes

    def compute_metrics(self, results: list) -> dict:
        """Run COCOeval on the collected results; see the class docstring for the keys."""
        if not results:
            print_log('CocoMetric: no image was evaluated', logger='current')
            return {}
        seen, unique = set(), []
        for r in results:  # an image evaluated twice (e.g. padded by a sampler) counts once
            if r['img_id'] not in seen:
                seen.add(r['img_id'])
                unique.append(r)
        gt, cat_ids, img_ids, classes = self._ground_truth(unique)
        detections = results_to_coco_json(unique, cat_ids, img_ids)
        if self.outfile_prefix:
            path = f'{self.outfile_prefix}.bbox.json'
            os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
            with open(path, 'w', encoding='utf-8') as f:
                json.dump(detections, f)
            print_log(f'CocoMetric: wrote {len(detections)} detections to {path}',
                      logger='current')

        coco_eval = COCOeval(gt, load_results(gt, detections), self.iou_type)
        coco_eval.params.imgIds = [img_ids[r['img_id']] for r in unique]
        coco_eval.params.catIds = list(cat_ids)
        summary = io.StringIO()
        with contextlib.redirect_stdout(summary):
            coco_eval.evaluate()
            coco_eval.accumulate()
            coco_eval.summarize()
        self.last_eval = coco_eval
        stats = [float(s) for s in coco_eval.stats]
        out = {f'bbox_{name}': value for name, value in zip(STAT_NAMES, stats)}

        lines = [f'CocoMetric: {len(unique)} images, {len(detections)} detections\n'
                 + summary.getvalue().rstrip(),
                 format_table(['', 'AP', 'AP50', 'AP75', 'APs', 'APm', 'APl'],
                              [['bbox'] + stats[:6]], title='COCO box AP (all classes)')]
        if self.classwise:
            precision = coco_eval.eval['precision']  # (T iou, R recall, K cat, A area, M maxdets)
            order = list(coco_eval.params.catIds)  # COCOeval sorts the category ids
            rows = []
            for name, cat_id in zip(classes, cat_ids):
                k = order.index(cat_id)
                row = [_mean_precision(precision[:, :, k, a, -1]) for a in range(4)]
                ap50, ap75 = (_mean_precision(precision[t, :, k, 0, -1]) for t in (0, 5))
                rows.append([name, row[0], ap50, ap75, *row[1:]])
                out[f'bbox_AP_{name}'] = row[0]
            lines.append(format_table(['class', 'AP', 'AP50', 'AP75', 'APs', 'APm', 'APl'], rows,
                                      title='COCO box AP per class'))
        print_log('\n'.join(lines), logger='current')
        return out


__all__ = ['CocoMetric', 'STAT_NAMES']
