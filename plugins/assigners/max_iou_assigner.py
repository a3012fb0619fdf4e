"""Label priors positive, negative or ignored by their IoU with the ground truth.

Source: Ren et al., Faster R-CNN (NIPS 2015), sec. 3.1.2: an anchor is positive if it has the
highest IoU with a ground-truth box, or an IoU above 0.7 with any; negative if its IoU is below
0.3 with all; the rest do not contribute. Fast R-CNN (Girshick, ICCV 2015, sec. 2.3) uses the
range form for RoIs: foreground IoU >= 0.5, background in [0.1, 0.5). Code: mmdet's
``MaxIoUAssigner`` (same arguments and codes) and torchvision's ``Matcher``; vectorised, no
per-gt loop.
"""
from __future__ import annotations

from numbers import Real
from typing import Optional, Sequence, Union

import torch
from torch import Tensor

from registry import ASSIGNERS
from zoo.api import AssignResult, box_iof, box_iou

__all__ = ['MaxIoUAssigner']


def _check_boxes(t, name: str, rows: Optional[int] = None) -> None:
    if not isinstance(t, Tensor) or t.dim() != 2 or t.shape[1] != 4 \
            or (rows is not None and t.shape[0] != rows):
        shape = tuple(t.shape) if isinstance(t, Tensor) else type(t).__name__
        want = f'({rows}, 4)' if rows is not None else '(n, 4)'
        raise ValueError(f'MaxIoUAssigner.assign: {name} must be a {want} xyxy tensor, got {shape}')


@ASSIGNERS.register_module()
class MaxIoUAssigner:
    """Assign each prior to the gt box it overlaps most, by IoU thresholds (mmdet's rules).

    For N priors and M gt boxes, with ``IoU`` the (M, N) IoU matrix (xyxy, no "+1") and
    ``max_iou`` each prior's best IoU over the gt boxes:

    1. every prior starts ignored (``-1``);
    2. negative (``0``): ``0 <= max_iou < neg_iou_thr``, or ``lo <= max_iou < hi`` for a range;
    3. positive: ``max_iou >= pos_iou_thr``, matched to its best gt box (the first on a tie);
    4. low-quality matches (``match_low_quality``; the paper's "anchor with the highest IoU with
       a ground-truth box"): for each gt box whose best IoU is ``>= min_pos_iou`` and ``> 0``,
       the prior with that IoU (every tied prior if ``gt_max_assign_all``, else the first)
       becomes positive for it, whatever steps 2-3 said. A prior that is the best of several gt
       boxes goes to the one it overlaps most (the first on a tie).
    5. priors covered by an ignore region (IoF, intersection over the prior's area,
       ``> ignore_iof_thr``, when that is ``>= 0`` and ignore boxes are given) are ignored:
       they take no part in steps 2-4, and no gt box matches them in step 4.

    Differences from the references (the positive and negative *sets* are the same):

    * mmdet gives a prior that is the best of several gt boxes to the last of them (its loop
      over gts overwrites); torchvision's ``Matcher`` gives it to the prior's overall best gt,
      which may be a box it is not the best prior of. Here: the one it overlaps most among the
      gt boxes it is the best prior of (so a gt box gets its best prior whenever it can).
    * A gt box that overlaps no prior at all (best IoU 0) gets no low-quality match here; mmdet
      with ``min_pos_iou=0`` and torchvision would make every prior with IoU 0 to it positive.
    * With M == 0 every prior is negative (as in mmdet), except those under ignore regions.
    * ``max_overlaps`` is the true best IoU also for ignored priors (mmdet reports -1 there).

    Args:
        pos_iou_thr: IoU at or above which a prior is positive (0.7 RPN, 0.5 Fast R-CNN).
        neg_iou_thr: float ``t``: negative if ``0 <= IoU < t`` (0.3 RPN); or ``(lo, hi)``:
            negative if ``lo <= IoU < hi`` (Fast R-CNN's background ``[0.1, 0.5)``).
        min_pos_iou: least IoU for a low-quality match (mmdet's RPN configs use 0.3).
        match_low_quality: apply step 4 (RPN: True; Fast R-CNN RoIs: False).
        gt_max_assign_all: in step 4, make every prior tied at a gt's best IoU positive.
        ignore_iof_thr: IoF above which a prior under an ignore box is ignored; < 0: off.

    Raises:
        ValueError: thresholds not numbers in [0, 1] (``ignore_iof_thr`` may be negative:
            off), a ``neg_iou_thr`` range with ``lo > hi``, or a negative range/threshold above
            ``pos_iou_thr`` (a prior would be both).
    """

    def __init__(self, pos_iou_thr: float, neg_iou_thr: Union[float, Sequence[float]],
                 min_pos_iou: float = 0.0, match_low_quality: bool = True,
                 gt_max_assign_all: bool = True, ignore_iof_thr: float = -1):
        def unit(v, name):
            if not (isinstance(v, Real) and not isinstance(v, bool) and 0 <= v <= 1):
                raise ValueError(f'MaxIoUAssigner: {name} must be an IoU in [0, 1], got {v!r}')
            return float(v)

        self.pos_iou_thr = unit(pos_iou_thr, 'pos_iou_thr')
        if isinstance(neg_iou_thr, Sequence) and not isinstance(neg_iou_thr, str):
            if len(neg_iou_thr) != 2:
                raise ValueError(f'MaxIoUAssigner: neg_iou_thr must be a float or a (lo, hi) '
                                 f'pair, got {neg_iou_thr!r}')
            lo, hi = unit(neg_iou_thr[0], 'neg_iou_thr[0]'), unit(neg_iou_thr[1], 'neg_iou_thr[1]')
            if lo > hi:
                raise ValueError(f'MaxIoUAssigner: neg_iou_thr range (lo, hi) needs lo <= hi, '
                                 f'got {neg_iou_thr!r}')
            self.neg_iou_thr: Union[float, tuple[float, float]] = (lo, hi)
        else:
            self.neg_iou_thr = hi = unit(neg_iou_thr, 'neg_iou_thr')
        if hi > self.pos_iou_thr:
            raise ValueError(f'MaxIoUAssigner: neg_iou_thr={neg_iou_thr!r} reaches above '
                             f'pos_iou_thr={pos_iou_thr!r}; negatives must lie below positives')
        self.min_pos_iou = unit(min_pos_iou, 'min_pos_iou')
        self.match_low_quality = bool(match_low_quality)
        self.gt_max_assign_all = bool(gt_max_assign_all)
        if not (isinstance(ignore_iof_thr, Real) and not isinstance(ignore_iof_thr, bool)
                and ignore_iof_thr <= 1):
            raise ValueError(f'MaxIoUAssigner: ignore_iof_thr must be a number <= 1 (negative: '
                             f'off), got {ignore_iof_thr!r}')
        self.ignore_iof_thr = float(ignore_iof_thr)

    def assign(self, priors: Tensor, gt_bboxes: Tensor, gt_labels: Tensor,
               gt_bboxes_ignore: Optional[Tensor] = None) -> AssignResult:
        """Assign the priors of one image.

        Args:
            priors: (N, 4) float xyxy pixels (anchors or proposals), N >= 0.
            gt_bboxes: (M, 4) xyxy pixels, same frame as ``priors``, M >= 0.
            gt_labels: int64 (M,) classes ``0 .. C-1``.
            gt_bboxes_ignore: (K, 4) ignore regions (crowd / difficult boxes) or None.

        Returns:
            :class:`AssignResult` with ``gt_inds`` (N,) int64, ``max_overlaps`` (N,) float
            (dtype of ``priors``), ``labels`` (N,) int64, on ``priors``' device.

        Raises:
            ValueError: a box tensor is not (n, 4), or ``gt_labels`` is not (M,).
        """
        _check_boxes(priors, 'priors')
        _check_boxes(gt_bboxes, 'gt_bboxes')
        if not isinstance(gt_labels, Tensor) or gt_labels.shape != (gt_bboxes.shape[0],):
            shape = tuple(gt_labels.shape) if isinstance(gt_labels, Tensor) else type(gt_labels)
            raise ValueError(f'MaxIoUAssigner.assign: gt_labels must be ({gt_bboxes.shape[0]},), '
                             f'one per gt box, got {shape}')
        if gt_bboxes_ignore is not None:
            _check_boxes(gt_bboxes_ignore, 'gt_bboxes_ignore')

        device = priors.device
        n, m = priors.shape[0], gt_bboxes.shape[0]
        gt_bboxes = gt_bboxes.to(priors.dtype)

        ignored = None
        if (self.ignore_iof_thr >= 0 and gt_bboxes_ignore is not None
                and gt_bboxes_ignore.shape[0] > 0 and n > 0):
            iof = box_iof(priors, gt_bboxes_ignore.to(priors.dtype))
            ignored = iof.max(dim=1).values > self.ignore_iof_thr  # (N,)

        if m == 0 or n == 0:
            gt_inds = torch.zeros(n, dtype=torch.long, device=device)
            if ignored is not None:
                gt_inds = torch.where(ignored, -1, gt_inds)
            return AssignResult(m, gt_inds, priors.new_zeros(n),
                                torch.full((n,), -1, dtype=torch.long, device=device))

        overlaps = box_iou(gt_bboxes, priors)  # (M, N)
        max_overlaps, argmax = overlaps.max(dim=0)  # (N,), first gt on ties
        if ignored is not None:
            overlaps = overlaps.masked_fill(ignored[None, :], -1.0)
            assign_overlaps = max_overlaps.masked_fill(ignored, -1.0)
        else:
            assign_overlaps = max_overlaps

        # Masks and torch.where throughout: no boolean indexing, so no host sync on CUDA.
        lo, hi = self.neg_iou_thr if isinstance(self.neg_iou_thr, tuple) else (0.0, self.neg_iou_thr)
        neg = (assign_overlaps >= lo) & (assign_overlaps < hi)
        gt_inds = torch.where(neg, 0, -1)
        pos = assign_overlaps >= self.pos_iou_thr
        gt_inds = torch.where(pos, argmax + 1, gt_inds)

        if self.match_low_quality:
            gt_max = overlaps.max(dim=1).values  # (M,), ignored priors excluded (-1)
            eligible = (gt_max >= self.min_pos_iou) & (gt_max > 0)
            if self.gt_max_assign_all:
                best = (overlaps == gt_max[:, None]) & eligible[:, None]  # (M, N)
            else:
                best = torch.zeros_like(overlaps, dtype=torch.bool)
                best[torch.arange(m, device=device), overlaps.argmax(dim=1)] = True
                best &= eligible[:, None]
            # Among the gts a prior is the best of, the one it overlaps most (first on a tie).
            cand = overlaps.masked_fill(~best, -2.0)
            _, lq_gt = cand.max(dim=0)
            lq = best.any(dim=0)
            gt_inds = torch.where(lq, lq_gt + 1, gt_inds)

        gt_labels = gt_labels.to(device=device, dtype=torch.long)
        labels = torch.where(gt_inds > 0, gt_labels[(gt_inds - 1).clamp(min=0)], -1)
        return AssignResult(m, gt_inds, max_overlaps, labels)

    def __repr__(self) -> str:
        return (f'MaxIoUAssigner(pos_iou_thr={self.pos_iou_thr}, neg_iou_thr={self.neg_iou_thr}, '
                f'min_pos_iou={self.min_pos_iou}, match_low_quality={self.match_low_quality})')
