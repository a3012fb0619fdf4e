"""The error breakdown of Bolya et al., "TIDE: A General Toolbox for Identifying Object Detection
Errors" (ECCV 2020), section 2: which errors a detector makes, and how much AP each kind costs.

The detections are first matched to the ground truth as COCO does at IoU ``t_f`` (0.5; see
:mod:`zoo.analysis.matching`: per image and class, the 100 highest-scoring detections, each
taking the free ground-truth box of its class it overlaps most). Every false positive then gets
one error type, from its largest IoU with the image's (regular) ground-truth boxes of its own
class (``iou_same``) and of the other classes (``iou_other``), tested in this order (section 2.2;
where two definitions both hold, the first listed wins):

* ``duplicate``: ``iou_same >= t_f``: the box was already taken by a higher-scoring detection;
* ``cls`` (classification): ``iou_other >= t_f``: right place, wrong class;
* ``loc`` (localization): ``t_b <= iou_same < t_f``: right class, box off;
* ``both`` (classification and localization): ``t_b <= iou_other < t_f``;
* ``background``: IoU ``< t_b`` with every ground-truth box.

A regular ground-truth box that no detection matched and that no ``cls`` or ``loc`` error points
at is ``missed``. (tidecv tests ``loc`` before ``cls`` and ``duplicate``; here a detection whose
box fits another class's object is a classification error, whatever its overlap with its own
class.)

The cost of an error type is ``dAP = AP(that type fixed) - AP`` (section 2.3: each type is fixed
on its own, so the costs do not depend on an order), with the oracle fixes of section 2.2:

* ``cls``: the detection takes the class of the box it overlaps (its ``iou_other`` box) and
  becomes a true positive for it; ``loc``: its box becomes that of its ``iou_same`` box and it
  becomes a true positive. If the box is already matched, or a higher-scoring detection of the
  same error type claims it, the detection is removed instead;
* ``both``, ``duplicate``, ``background``: the detection is removed;
* ``missed``: the box is removed from the ground truth (one fewer to find).

AP is COCO's 101-point interpolated AP at IoU ``t_f`` (:mod:`zoo.analysis.pr_curve`), averaged
over the classes that have regular ground truth (the base AP is pycocotools' ``AP50``). A class
that the ``missed`` fix leaves with no ground truth is left out of that fix's mean.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Optional, Sequence

import numpy as np

from .matching import MAX_DETS, ClassMatches, iou_matrix, match_image, top_detections
from .pr_curve import average_precision, mean_ap

#: the error types, in the order they are tested (``missed`` concerns ground truth)
ERROR_TYPES = ('cls', 'loc', 'both', 'duplicate', 'background', 'missed')
LONG_NAMES = dict(cls='classification', loc='localization', both='classification + localization',
                  duplicate='duplicate detection', background='background', missed='missed GT')


@dataclass
class _Det:
    seq: int          # position in COCO's accumulation order (image, then score)
    image: int
    label: int
    score: float
    state: str        # 'tp', 'ignored' or 'fp'
    error: Optional[str] = None
    target: Optional[int] = None  # the ground-truth box (index in its image) a cls/loc fix uses


@dataclass
class TideResult:
    """The breakdown: ``ap`` (the base AP, 0..1), per type ``counts`` and ``dap`` (AP points,
    0..1 scale, fixed minus base), ``fixed_ap``, the thresholds, and per detection/box the types
    (``det_errors``: per image, a list with the type of each scored false positive,
    ``None`` for others, in the records' detection order; ``missed``: per image, the indices of
    the missed ground-truth boxes)."""
    ap: Optional[float]
    counts: dict
    dap: dict
    fixed_ap: dict
    t_f: float
    t_b: float
    det_errors: list = field(default_factory=list)
    missed: list = field(default_factory=list)

    def to_json(self) -> dict:
        return dict(
            ap=self.ap, t_f=self.t_f, t_b=self.t_b, ap_definition=(
                f'COCO 101-point interpolated AP at IoU {self.t_f:g}, mean over the classes with '
                'ground truth (pycocotools AP50)'),
            errors={k: dict(name=LONG_NAMES[k], count=self.counts[k], dAP=self.dap[k],
                            fixed_AP=self.fixed_ap[k]) for k in ERROR_TYPES})

    def table(self) -> str:
        """A plain-text table (AP in points: x 100)."""
        def pts(v):
            return '   n/a' if v is None else f'{100 * v:6.2f}'
        lines = [f'TIDE error breakdown (t_f={self.t_f:g}, t_b={self.t_b:g}); '
                 f'AP{int(round(100 * self.t_f))} = {pts(self.ap).strip()}',
                 f'{"error":<40}{"count":>7}{"dAP":>8}{"fixed AP":>10}']
        for k in ERROR_TYPES:
            lines.append(f'{LONG_NAMES[k] + " (" + k + ")":<40}{self.counts[k]:>7}'
                         f'{pts(self.dap[k]):>8}{pts(self.fixed_ap[k]):>10}')
        return '\n'.join(lines)


def _class_aps(dets: Sequence[_Det], num_gt: np.ndarray, classes: Sequence[int]) -> list:
    """AP of each of ``classes`` from the kept detections (state 'tp'/'fp'/'ignored')."""
    aps = []
    for c in classes:
        mine = sorted((d for d in dets if d.label == c), key=lambda d: d.seq)
        m = ClassMatches(np.array([d.score for d in mine], dtype=np.float64),
                         np.array([d.state == 'tp' for d in mine], dtype=bool),
                         np.array([d.state == 'ignored' for d in mine], dtype=bool),
                         int(num_gt[c]))
        aps.append(average_precision(m))
    return aps


def tide_errors(records: Sequence[Mapping], num_classes: int, t_f: float = 0.5,
                t_b: float = 0.1, max_dets: int = MAX_DETS) -> TideResult:
    """The TIDE breakdown of the detections in ``records`` (see the module docstring).

    Args:
        records: per image, ``bboxes`` (M, 4), ``scores`` (M,), ``labels`` (M,), ``gt_bboxes``
            (N, 4), ``gt_labels`` (N,), ``gt_ignore`` (N,), xyxy pixels.
        num_classes: C; labels are in ``0 .. C-1``.
        t_f: the foreground IoU (a match; the AP's IoU), 0.5 in the paper.
        t_b: the background IoU, 0.1 in the paper.
        max_dets: detections scored per image and class (pycocotools' 100).

    Raises:
        ValueError: ``t_b > t_f``.
    """
    if not 0 <= t_b <= t_f <= 1:
        raise ValueError(f'TIDE needs 0 <= t_b <= t_f <= 1, got t_b={t_b}, t_f={t_f}')
    dets: list[_Det] = []
    num_gt = np.zeros(num_classes, dtype=np.int64)
    gt_used, gt_labels_all = [], []
    det_errors, missed = [], []
    for i, rec in enumerate(records):
        labels = np.asarray(rec['labels'], dtype=np.int64)
        scores = np.asarray(rec['scores'], dtype=np.float64)
        boxes = np.asarray(rec['bboxes'], dtype=np.float64).reshape(-1, 4)
        gt_boxes = np.asarray(rec['gt_bboxes'], dtype=np.float64).reshape(-1, 4)
        gt_labels = np.asarray(rec['gt_labels'], dtype=np.int64)
        gt_ignore = np.asarray(rec['gt_ignore'], dtype=bool)
        regular = np.flatnonzero(~gt_ignore)
        np.add.at(num_gt, gt_labels[regular], 1)
        used = np.zeros(len(gt_labels), dtype=bool)
        image_dets: list[tuple[int, _Det]] = []  # (index in the record, det)
        for c in range(num_classes):
            gt_idx = np.flatnonzero(gt_labels == c)
            det_idx = np.flatnonzero(labels == c)
            det_idx = det_idx[top_detections(scores[det_idx], max_dets)]
            det_gt, det_ign = match_image(iou_matrix(boxes[det_idx], gt_boxes[gt_idx],
                                                     gt_ignore[gt_idx]), gt_ignore[gt_idx], t_f)
            for k, d in enumerate(det_idx):
                state = 'ignored' if det_ign[k] else ('tp' if det_gt[k] > -1 else 'fp')
                if state == 'tp':
                    used[gt_idx[det_gt[k]]] = True
                image_dets.append((int(d), _Det(0, i, c, float(scores[d]), state)))
        # COCO accumulates image by image; within an image the per-class order is kept by seq
        ious = iou_matrix(boxes, gt_boxes[regular], np.zeros(len(regular), dtype=bool))
        for d, det in image_dets:
            det.seq = len(dets)
            dets.append(det)
            if det.state != 'fp':
                continue
            same = gt_labels[regular] == det.label
            row = ious[d]
            iou_same = row[same].max() if same.any() else 0.0
            iou_other = row[~same].max() if (~same).any() else 0.0
            if iou_same >= t_f:
                det.error = 'duplicate'
            elif iou_other >= t_f:
                det.error = 'cls'
                det.target = int(regular[~same][row[~same].argmax()])
            elif iou_same >= t_b:
                det.error = 'loc'
                det.target = int(regular[same][row[same].argmax()])
            elif iou_other >= t_b:
                det.error = 'both'
            else:
                det.error = 'background'
        errors = [None] * len(labels)
        for d, det in image_dets:
            errors[d] = det.error
        det_errors.append(errors)
        covered = {det.target for _, det in image_dets if det.target is not None}
        missed.append([int(g) for g in regular if not used[g] and int(g) not in covered])
        gt_used.append(used)
        gt_labels_all.append(gt_labels)

    classes = [c for c in range(num_classes) if num_gt[c] > 0]
    base = mean_ap(_class_aps(dets, num_gt, classes))
    counts = {k: sum(d.error == k for d in dets) for k in ERROR_TYPES[:-1]}
    counts['missed'] = sum(len(m) for m in missed)
    fixed_ap = {}
    for kind in ERROR_TYPES[:-1]:
        fixed, claimed = [], set()
        for det in sorted(dets, key=lambda d: -d.score):  # the highest score claims a box first
            if det.error != kind:
                fixed.append(det)
            elif kind in ('cls', 'loc'):
                key = (det.image, det.target)
                if gt_used[det.image][det.target] or key in claimed:
                    continue  # the box is taken: the detection is removed
                claimed.add(key)
                fixed.append(_Det(det.seq, det.image, int(gt_labels_all[det.image][det.target]),
                                  det.score, 'tp'))
            # both, duplicate, background: removed
        fixed_ap[kind] = mean_ap(_class_aps(fixed, num_gt, classes))
    fewer = num_gt.copy()
    for i, m in enumerate(missed):
        np.add.at(fewer, gt_labels_all[i][m], -1)
    fixed_ap['missed'] = mean_ap(_class_aps(dets, fewer, classes))
    dap = {k: (None if fixed_ap[k] is None or base is None else fixed_ap[k] - base)
           for k in ERROR_TYPES}
    return TideResult(base, counts, dap, fixed_ap, t_f, t_b, det_errors, missed)


__all__ = ['ERROR_TYPES', 'LONG_NAMES', 'TideResult', 'tide_errors']
