"""Adaptive Training Sample Selection: positives chosen by each gt box's own IoU statistics.

Source: Zhang et al., "Bridging the Gap Between Anchor-based and Anchor-free Detection via
Adaptive Training Sample Selection", CVPR 2020, sec. 3.3, Algorithm 1: for each gt box, the k
anchors closest to its centre on every pyramid level are candidates; the IoU threshold is the
mean plus the standard deviation of the candidates' IoUs; a candidate at or above it whose
centre lies inside the gt box is positive; an anchor positive for several gt boxes goes to the
one it overlaps most. Every other anchor is negative: no IoU band is ignored. Code: mmdet's
``ATSSAssigner`` (same arguments; its unbiased standard deviation and its 0.01-pixel margin for
"centre inside"); vectorised over gt boxes.
"""
from __future__ import annotations

from typing import Optional, Sequence

import torch
from torch import Tensor

from registry import ASSIGNERS
from zoo.api import AssignResult, box_iof, box_iou

__all__ = ['ATSSAssigner']


def _check_boxes(t, name: str) -> None:
    if not isinstance(t, Tensor) or t.dim() != 2 or t.shape[1] != 4:
        shape = tuple(t.shape) if isinstance(t, Tensor) else type(t).__name__
        raise ValueError(f'ATSSAssigner.assign: {name} must be an (n, 4) xyxy tensor, got {shape}')


@ASSIGNERS.register_module()
class ATSSAssigner:
    """Assign anchors by ATSS (Algorithm 1 of the paper) for one image.

    For N anchors over L levels and M gt boxes (xyxy pixels):

    1. per gt box and level, the ``min(topk, N_l)`` anchors whose centres are nearest (L2) to the
       box centre are candidates (``topk * L`` per gt box at most);
    2. the gt box's threshold is ``mean + std`` of its candidates' IoUs (``std`` unbiased, as
       torch's and mmdet's; 0 for a single candidate);
    3. a candidate is positive for the box when its IoU ``>= threshold`` and its centre is
       inside the box (every side more than 0.01 px from the centre, mmdet's margin);
    4. an anchor positive for several boxes goes to the one with the highest IoU (the first on
       a tie); all other anchors are negative (0); anchors under an ignore region (IoF
       ``> ignore_iof_thr``, when that is ``>= 0``) are ignored (-1) and never candidates.

    Args:
        topk: candidates per level and gt box (paper: 9).
        ignore_iof_thr: IoF above which an anchor under an ignore box is ignored; < 0: off.

    Attributes:
        needs_level_priors: True: the head passes ``num_level_priors`` (anchors per level, in
            the order of ``priors``).

    Raises:
        ValueError: ``topk`` not a positive int.
    """

    needs_level_priors = True

    def __init__(self, topk: int = 9, ignore_iof_thr: float = -1):
        if isinstance(topk, bool) or not isinstance(topk, int) or topk < 1:
            raise ValueError(f'ATSSAssigner.topk must be a positive int, got {topk!r}')
        self.topk = topk
        self.ignore_iof_thr = float(ignore_iof_thr)

    def assign(self, priors: Tensor, gt_bboxes: Tensor, gt_labels: Tensor,
               gt_bboxes_ignore: Optional[Tensor] = None,
               num_level_priors: Optional[Sequence[int]] = None) -> AssignResult:
        """Assign the anchors of one image.

        Args:
            priors: (N, 4) float xyxy pixels, level by level.
            gt_bboxes: (M, 4) xyxy pixels, same frame as ``priors``.
            gt_labels: int64 (M,) classes ``0 .. C-1``.
            gt_bboxes_ignore: (K, 4) ignore regions or None.
            num_level_priors: anchors on each level, summing to N (``[N]`` for one level);
                required: candidates are chosen per level, so a head that does not pass the
                counts would silently turn ATSS into a single-level rule.

        Returns:
            :class:`AssignResult`: ``gt_inds`` (N,) -1 ignored / 0 negative / i + 1 gt box i,
            ``max_overlaps`` (N,) each anchor's best IoU, ``labels`` (N,) (-1 where not
            positive).

        Raises:
            ValueError: a box tensor not (n, 4), ``gt_labels`` not (M,), or
                ``num_level_priors`` missing or not summing to N.
        """
        _check_boxes(priors, 'priors')
        _check_boxes(gt_bboxes, 'gt_bboxes')
        n, m = priors.shape[0], gt_bboxes.shape[0]
        if not isinstance(gt_labels, Tensor) or gt_labels.shape != (m,):
            shape = tuple(gt_labels.shape) if isinstance(gt_labels, Tensor) else type(gt_labels)
            raise ValueError(f'ATSSAssigner.assign: gt_labels must be ({m},), one per gt box, got {shape}')
        if num_level_priors is None:
            raise ValueError('ATSSAssigner.assign needs num_level_priors (the anchors on each pyramid '
                             'level, in the order of priors); only RetinaHead passes them (an assigner '
                             'with needs_level_priors = True); give [N] for a single level')
        levels = [int(c) for c in num_level_priors]
        if sum(levels) != n or any(c < 0 for c in levels):
            raise ValueError(f'ATSSAssigner.assign: num_level_priors {levels} must be non-negative '
                             f'and sum to the {n} priors')
        device = priors.device
        gt_bboxes = gt_bboxes.to(priors.dtype)

        ignored = torch.zeros(n, dtype=torch.bool, device=device)
        if self.ignore_iof_thr >= 0 and gt_bboxes_ignore is not None and gt_bboxes_ignore.shape[0] and n:
            _check_boxes(gt_bboxes_ignore, 'gt_bboxes_ignore')
            ignored = box_iof(priors, gt_bboxes_ignore.to(priors.dtype)).max(dim=1).values \
                > self.ignore_iof_thr
        if m == 0 or n == 0:
            return AssignResult(m, torch.where(ignored, -1, 0), priors.new_zeros(n),
                                torch.full((n,), -1, dtype=torch.long, device=device))

        overlaps = box_iou(gt_bboxes, priors)                                 # (M, N)
        max_overlaps = overlaps.max(dim=0).values
        anchor_ctr = (priors[:, :2] + priors[:, 2:]) / 2                      # (N, 2)
        gt_ctr = (gt_bboxes[:, :2] + gt_bboxes[:, 2:]) / 2                    # (M, 2)
        dist = torch.cdist(gt_ctr, anchor_ctr)                                # (M, N)
        dist = dist.masked_fill(ignored[None], float('inf'))
        candidates, start = [], 0
        for count in levels:                                                  # step 1
            k = min(self.topk, count)
            if k:
                candidates.append(dist[:, start:start + count].topk(k, dim=1, largest=False).indices + start)
            start += count
        cand = torch.cat(candidates, 1)                                       # (M, K)
        cand_iou = overlaps.gather(1, cand)
        cand_valid = ~ignored[cand]
        cnt = cand_valid.sum(1, keepdim=True).clamp(min=1)                    # step 2
        mean = (cand_iou * cand_valid).sum(1, keepdim=True) / cnt
        var = (((cand_iou - mean) ** 2) * cand_valid).sum(1, keepdim=True) / (cnt - 1).clamp(min=1)
        thr = mean + var.sqrt()
        c = anchor_ctr[cand]                                                  # (M, K, 2), step 3
        g = gt_bboxes[:, None, :]
        inside = torch.stack([c[..., 0] - g[..., 0], c[..., 1] - g[..., 1],
                              g[..., 2] - c[..., 0], g[..., 3] - c[..., 1]], -1).min(-1).values > 0.01
        keep = (cand_iou >= thr) & inside & cand_valid
        pos_iou = torch.full_like(overlaps, -1.0)                             # step 4
        rows = torch.arange(m, device=device)[:, None].expand_as(cand)
        pos_iou[rows[keep], cand[keep]] = overlaps[rows[keep], cand[keep]]
        best_iou, best_gt = pos_iou.max(dim=0)
        gt_inds = torch.where(best_iou >= 0, best_gt + 1, 0)
        gt_inds = torch.where(ignored, -1, gt_inds)
        gt_labels = gt_labels.to(device=device, dtype=torch.long)
        labels = torch.where(gt_inds > 0, gt_labels[(gt_inds - 1).clamp(min=0)], -1)
        return AssignResult(m, gt_inds, max_overlaps, labels)

    def __repr__(self) -> str:
        return f'ATSSAssigner(topk={self.topk}, ignore_iof_thr={self.ignore_iof_thr})'
