"""What an assigner says about each prior: ignored, negative, or positive for which gt box
(:class:`AssignResult`: one image; :class:`GridAssignResult`: a batch)."""
from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor

__all__ = ['AssignResult', 'GridAssignResult']


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


@dataclass
class GridAssignResult:
    """The assignment of the N priors of every image of a batch (mmdet's codes, batched).

    Attributes:
        gt_inds: int64 (B, N): ``-1`` ignored (neither positive nor negative), ``0`` negative,
            ``k + 1`` positive, matched to gt box ``k`` of its image.
        max_overlaps: float (B, N): each prior's (or prediction's, see ``ignore_by``) best IoU
            with the image's gt and ignore boxes (0 without any).
        labels: int64 (B, N): the class of the matched gt box where positive, ``-1`` elsewhere.
        num_gts: int64 (B,): gt boxes per image.
    """

    gt_inds: Tensor
    max_overlaps: Tensor
    labels: Tensor
    num_gts: Tensor

    @property
    def pos_mask(self) -> Tensor:
        return self.gt_inds > 0

    @property
    def neg_mask(self) -> Tensor:
        return self.gt_inds == 0

    def __repr__(self) -> str:
        return (f'GridAssignResult(images={self.gt_inds.shape[0]}, priors={self.gt_inds.shape[1]}, '
                f'num_pos={int(self.pos_mask.sum())}, num_neg={int(self.neg_mask.sum())})')
