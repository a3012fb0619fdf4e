"""What an assigner says about each prior: ignored, negative, or positive for which gt box."""
from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor

__all__ = ['AssignResult']


@dataclass
class AssignResult:
    """The assignment of N priors (anchors or proposals) to M ground-truth boxes of one image.

    Follows mmdet's ``AssignResult`` (same field names and codes).

    Attributes:
        num_gts: M, the number of ground-truth boxes (ignore boxes not counted).
        gt_inds: int64 (N,): ``-1`` ignore (neither positive nor negative; left out of the
            losses), ``0`` negative (background), ``i + 1`` positive, matched to gt box ``i``.
        max_overlaps: float (N,): each prior's highest IoU with any gt box (0 when M == 0).
        labels: int64 (N,): the class of the matched gt box where positive, ``-1`` elsewhere.
    """

    num_gts: int
    gt_inds: Tensor
    max_overlaps: Tensor
    labels: Tensor

    @property
    def num_priors(self) -> int:
        """N, the number of priors assigned."""
        return int(self.gt_inds.shape[0])

    @property
    def pos_mask(self) -> Tensor:
        """bool (N,): positive priors."""
        return self.gt_inds > 0

    @property
    def neg_mask(self) -> Tensor:
        """bool (N,): negative priors."""
        return self.gt_inds == 0

    def __repr__(self) -> str:
        return (f'AssignResult(num_gts={self.num_gts}, num_priors={self.num_priors}, '
                f'num_pos={int(self.pos_mask.sum())}, num_neg={int(self.neg_mask.sum())})')
