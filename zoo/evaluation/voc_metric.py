"""Pascal VOC box AP per class (11-point or area) as an mmengine metric."""
from __future__ import annotations

import math
from numbers import Real
from typing import Optional, Sequence, Union

import numpy as np
from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log

from registry import METRICS
from registry.errors import ConfigError

from .samples import unpack_sample
from .table import format_table
from .voc_ap import average_precision, match_detections, precision_recall


@METRICS.register_module()
class VOCMetric(BaseMetric):
    """Pascal VOC detection AP, per class and averaged (see :mod:`zoo.evaluation.voc_ap` for
    the matching rules, taken from the VOC devkit, and the one departure: IoU without "+1").

    Ground truth is the metainfo ``instances`` (original-image pixels); boxes with
    ``ignore_flag`` (VOC "difficult") are neither hits nor misses. Predictions are
    ``pred_instances`` (``bboxes`` xyxy in original pixels, ``scores``, ``labels``).

    Returned keys (mmengine's ``Evaluator`` prefixes them with ``prefix/``), with ``T`` the IoU
    threshold in percent (``AP50`` for 0.5):

    * ``mAP``: the mean over thresholds of the mean AP over classes that have ground truth
      (a class without any non-ignored box has no defined AP and is left out, as in mmdet);
      for the default single threshold, the VOC mAP@0.5, e.g. ``pascal_voc/mAP``;
    * ``AP<T>_<class>``: each class's AP, e.g. ``pascal_voc/AP50_RBC`` (NaN without ground truth);
    * ``AP<T>``: the mean over classes at each threshold, only when several are given.

    A table per threshold (class, ground-truth boxes, detections, recall, AP) goes to mmengine's
    current logger.

    Args:
        classes: class names in label order; default ``dataset_meta['classes']``.
        iou_thr: IoU threshold, or a list of them (e.g. ``[0.5, 0.75]``).
        eval_mode: ``'11points'`` (VOC2007, py-faster-rcnn) or ``'area'`` (VOC2010+).
        prefix: key prefix (``'pascal_voc'``).
        collect_device: ``'cpu'`` or ``'gpu'``, for gathering results across processes.

    Raises:
        ConfigError: a threshold outside (0, 1]; an unknown ``eval_mode``; (at
            ``compute_metrics``) no classes given or known.
        ValueError: (at ``compute_metrics``) a predicted label outside ``0 .. C-1``.
    """

    default_prefix = 'pascal_voc'

    def __init__(self,
                 classes: Optional[Sequence[str]] = None,
                 iou_thr: Union[float, Sequence[float]] = 0.5,
                 eval_mode: str = '11points',
                 prefix: Optional[str] = 'pascal_voc',
                 collect_device: str = 'cpu'):
        super().__init__(collect_device=collect_device, prefix=prefix)
        thrs = [iou_thr] if isinstance(iou_thr, Real) else list(iou_thr)
        if not thrs or not all(isinstance(t, Real) and 0 < t <= 1 for t in thrs):
            raise ConfigError(f'VOCMetric: iou_thr must be a number in (0, 1] or a list of them, '
                              f'got {iou_thr!r}')
        if eval_mode not in ('11points', 'area'):
            raise ConfigError(f"VOCMetric: eval_mode must be '11points' or 'area', got "
                              f'{eval_mode!r}')
        self.classes = tuple(classes) if classes is not None else None
        self.iou_thrs = [float(t) for t in thrs]
        self.eval_mode = eval_mode

    def process(self, data_batch, data_samples: Sequence) -> None:
        """Keep predictions and ground truth of each image."""
        for sample in data_samples:
            self.results.append(unpack_sample(sample))

    def compute_metrics(self, results: list) -> dict:
        """Per-class AP at each threshold; see the class docstring for the keys."""
        classes = self.classes or (tuple(self.dataset_meta['classes'])
                                   if self.dataset_meta and self.dataset_meta.get('classes')
                                   else None)
        if classes is None:
            raise ConfigError('VOCMetric: no class names: give `classes` or evaluate with a '
                              'dataset whose metainfo has them')
        seen, unique = set(), []
        for r in results:  # an image evaluated twice (e.g. padded by a sampler) counts once
            if r['img_id'] not in seen:
                seen.add(r['img_id'])
                unique.append(r)
        for r in unique:
            if r['labels'].size and (r['labels'].min() < 0 or r['labels'].max() >= len(classes)):
                raise ValueError(f'VOCMetric: image {r["img_id"]!r}: predicted labels must be in '
                                 f'0..{len(classes) - 1}, got {sorted(set(r["labels"].tolist()))}')

        out, maps, tables = {}, [], []
        for thr in self.iou_thrs:
            tag = f'AP{int(round(thr * 100))}'
            aps, rows = [], []
            for c, name in enumerate(classes):
                dets = [(r['bboxes'][r['labels'] == c], r['scores'][r['labels'] == c])
                        for r in unique]
                gts = [(r['gt_bboxes'][r['gt_labels'] == c], r['gt_ignore'][r['gt_labels'] == c])
                       for r in unique]
                tp, fp, npos = match_detections(dets, gts, thr)
                recall, precision = precision_recall(tp, fp, npos)
                ap = average_precision(recall, precision, self.eval_mode) if npos else float('nan')
                out[f'{tag}_{name}'] = ap
                if npos:
                    aps.append(ap)
                rows.append([name, npos, sum(len(d[1]) for d in dets),
                             float(recall[-1]) if recall.size and npos else float('nan'), ap])
            mean = float(np.mean(aps)) if aps else float('nan')
            maps.append(mean)
            if len(self.iou_thrs) > 1:
                out[tag] = mean
            rows.append(['mAP', '', '', '', mean])
            tables.append(format_table(['class', 'gts', 'dets', 'recall', tag], rows,
                                       title=f'VOC AP at IoU {thr:g} ({self.eval_mode})'))
        out['mAP'] = float(np.mean(maps)) if not any(math.isnan(m) for m in maps) else float('nan')
        print_log(f'VOCMetric: {len(unique)} images\n' + '\n'.join(tables), logger='current')
        return out
