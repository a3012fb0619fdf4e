"""The priors a sampler picked for the losses of one image, and what they are matched to."""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

__all__ = ['SamplingResult']


@dataclass
class SamplingResult:
    """Sampled positive and negative priors of one image (mmdet's ``SamplingResult`` fields).

    P positives and Q negatives were picked among the N' priors of ``priors``.

    Attributes:
        pos_inds: int64 (P,) indices into ``priors``.
        neg_inds: int64 (Q,) indices into ``priors``, disjoint from ``pos_inds``.
        priors: float (N', 4) xyxy pixels the indices point into: the priors given to the
            sampler, with the M gt boxes prepended (rows 0 .. M-1) when it adds the gt boxes as
            proposals (N' = M + N), else the priors themselves (N' = N).
        pos_priors: (P, 4) ``priors[pos_inds]``.
        neg_priors: (Q, 4) ``priors[neg_inds]``.
        pos_gt_bboxes: (P, 4) the gt box each positive is matched to (the regression target).
        pos_gt_labels: int64 (P,) its class ``0 .. C-1``.
        pos_assigned_gt_inds: int64 (P,) its index ``0 .. M-1`` into the image's gt boxes.
        pos_is_gt: bool (P,) True for positives that are prepended gt boxes.
        num_gts: M.
    """

    pos_inds: Tensor
    neg_inds: Tensor
    priors: Tensor
    pos_priors: Tensor
    neg_priors: Tensor
    pos_gt_bboxes: Tensor
    pos_gt_labels: Tensor
    pos_assigned_gt_inds: Tensor
    pos_is_gt: Tensor
    num_gts: int

    @property
    def num_pos(self) -> int:
        return int(self.pos_inds.shape[0])

    @property
    def num_neg(self) -> int:
        return int(self.neg_inds.shape[0])

    @property
    def sampled_priors(self) -> Tensor:
        """(P + Q, 4): positives then negatives (the RoIs of a second stage, in that order)."""
        return torch.cat((self.pos_priors, self.neg_priors), dim=0)

    def __repr__(self) -> str:
        return (f'SamplingResult(num_pos={self.num_pos}, num_neg={self.num_neg}, '
                f'num_priors={self.priors.shape[0]}, num_gts={self.num_gts})')
