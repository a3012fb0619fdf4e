"""Pick a fixed-size, fixed-fraction random mini-batch of positive and negative priors.

Source: Ren et al., Faster R-CNN (NIPS 2015), sec. 3.1.3: "we randomly sample 256 anchors in an
image to compute the loss function of a mini-batch, where the sampled positive and negative
anchors have a ratio of up to 1:1. If there are fewer than 128 positive samples in an image, we
pad the mini-batch with negative ones"; Fast R-CNN (ICCV 2015) sec. 2.3 for RoIs (128 per
image, 25 % foreground). Code: mmdet's ``RandomSampler`` (arguments, ``neg_pos_ub``,
``add_gt_as_proposals``) and torchvision's ``BalancedPositiveNegativeSampler``.
"""
from __future__ import annotations

from numbers import Integral, Real
from typing import Sequence

import torch
from torch import Tensor
from torch.nn.utils.rnn import pad_sequence

from registry import SAMPLERS
from zoo.api import SamplingResult

__all__ = ['RandomSampler']


@SAMPLERS.register_module()
class RandomSampler:
    """Uniformly random positives (up to ``num * pos_fraction``), negatives filling up to ``num``.

    Per image: P = min(#positives, int(num * pos_fraction)) positives are drawn without
    replacement (all of them when there are not more); then Q = min(#negatives, num - P)
    negatives, further capped at ``int(neg_pos_ub * max(P, 1))`` when ``neg_pos_ub >= 0``
    (mmdet's rule). Priors assigned ``-1`` (ignore) are never drawn.

    Two paths, the same distribution (a uniformly random subset of each size):

    * :meth:`sample`, one image: ``torch.randperm`` on the priors' device, like torchvision's
      ``BalancedPositiveNegativeSampler`` (which runs two randperms per image in a Python loop).
    * :meth:`sample_batch`, the speed path: one ``torch.rand`` of shape (B, N_max) for the whole
      batch and two ``topk`` calls (the k largest of i.i.d. uniform keys are a uniform random
      k-subset), one host sync for the counts; only the final split per image is a Python loop.

    Both follow ``torch.manual_seed`` (the global generator of the priors' device). The two
    paths do not draw the same subsets for the same seed.

    Args:
        num: sampled priors per image (256 RPN, 128 / 512 RoIs).
        pos_fraction: the largest fraction of positives (0.5 RPN, 0.25 RoIs).
        neg_pos_ub: if >= 0, at most ``neg_pos_ub`` negatives per positive; -1: no cap.
        add_gt_as_proposals: prepend the image's M gt boxes to the priors as positives matched
            to themselves (IoU 1), as Fast R-CNN training does with proposals; the returned
            indices then point into the augmented priors (``SamplingResult.priors``).

    Raises:
        ValueError: ``num`` not a positive int, ``pos_fraction`` not in [0, 1], ``neg_pos_ub``
            not a number.
    """

    def __init__(self, num: int, pos_fraction: float, neg_pos_ub: float = -1,
                 add_gt_as_proposals: bool = False):
        if not (isinstance(num, Integral) and not isinstance(num, bool) and num > 0):
            raise ValueError(f'RandomSampler: num must be a positive int (priors per image), '
                             f'got {num!r}')
        if not (isinstance(pos_fraction, Real) and 0 <= pos_fraction <= 1):
            raise ValueError(f'RandomSampler: pos_fraction must be in [0, 1], got {pos_fraction!r}')
        if not (isinstance(neg_pos_ub, Real) and not isinstance(neg_pos_ub, bool)):
            raise ValueError(f'RandomSampler: neg_pos_ub must be a number (negatives per '
                             f'positive; -1 for no cap), got {neg_pos_ub!r}')
        self.num = int(num)
        self.pos_fraction = float(pos_fraction)
        self.neg_pos_ub = float(neg_pos_ub)
        self.add_gt_as_proposals = bool(add_gt_as_proposals)

    @property
    def num_expected_pos(self) -> int:
        """``int(num * pos_fraction)``: the most positives drawn per image."""
        return int(self.num * self.pos_fraction)

    # shared steps -------------------------------------------------------------------------
    def _prepare(self, assign_result, priors: Tensor, gt_bboxes: Tensor, gt_labels: Tensor):
        """Check shapes; return (priors, gt_inds, labels, num_added) with gts prepended if asked."""
        if priors.dim() != 2 or priors.shape[1] < 4:
            raise ValueError(f'RandomSampler: priors must be (N, 4) xyxy, got shape '
                             f'{tuple(priors.shape)}')
        if gt_bboxes.dim() != 2 or gt_bboxes.shape[1] != 4:
            raise ValueError(f'RandomSampler: gt_bboxes must be (M, 4) xyxy, got shape '
                             f'{tuple(gt_bboxes.shape)}')
        if gt_labels.shape != (gt_bboxes.shape[0],):
            raise ValueError(f'RandomSampler: gt_labels must be ({gt_bboxes.shape[0]},), one per '
                             f'gt box, got shape {tuple(gt_labels.shape)}')
        n = priors.shape[0]
        if assign_result.gt_inds.shape != (n,):
            raise ValueError(f'RandomSampler: assign_result covers '
                             f'{tuple(assign_result.gt_inds.shape)} priors, but priors has {n}')
        if assign_result.num_gts != gt_bboxes.shape[0]:
            raise ValueError(f'RandomSampler: assign_result was made for '
                             f'{assign_result.num_gts} gt boxes, but gt_bboxes has '
                             f'{gt_bboxes.shape[0]}')
        priors = priors[:, :4]
        gt_inds, labels = assign_result.gt_inds, assign_result.labels
        m = gt_bboxes.shape[0]
        if self.add_gt_as_proposals and m > 0:
            dev = priors.device
            priors = torch.cat((gt_bboxes.to(priors.dtype), priors), dim=0)
            gt_inds = torch.cat((torch.arange(1, m + 1, dtype=torch.long, device=dev), gt_inds))
            labels = torch.cat((gt_labels.to(device=dev, dtype=torch.long), labels))
            return priors, gt_inds, labels, m
        return priors, gt_inds, labels, 0

    def _neg_cap(self, num_pos: int) -> int:
        cap = self.num - num_pos
        if self.neg_pos_ub >= 0:
            cap = min(cap, int(self.neg_pos_ub * max(1, num_pos)))
        return cap

    @staticmethod
    def _result(priors, gt_inds, labels, num_added, pos_inds, neg_inds, gt_bboxes) -> SamplingResult:
        assigned = gt_inds[pos_inds] - 1
        if gt_bboxes.shape[0] > 0:
            pos_gt_bboxes = gt_bboxes.to(priors.dtype)[assigned]
        else:  # no gt box, hence no positive
            pos_gt_bboxes = priors.new_zeros((0, 4))
        return SamplingResult(
            pos_inds=pos_inds, neg_inds=neg_inds, priors=priors,
            pos_priors=priors[pos_inds], neg_priors=priors[neg_inds],
            pos_gt_bboxes=pos_gt_bboxes, pos_gt_labels=labels[pos_inds],
            pos_assigned_gt_inds=assigned, pos_is_gt=pos_inds < num_added,
            num_gts=int(gt_bboxes.shape[0]))

    # one image ----------------------------------------------------------------------------
    def sample(self, assign_result, priors: Tensor, gt_bboxes: Tensor,
               gt_labels: Tensor) -> SamplingResult:
        """Sample the priors of one image.

        Args:
            assign_result: an ``AssignResult`` of these priors (``gt_inds`` (N,): -1 ignore,
                0 negative, i + 1 positive for gt i; ``labels`` (N,); ``num_gts`` = M).
            priors: (N, 4) xyxy pixels (extra columns, e.g. scores, are dropped).
            gt_bboxes: (M, 4) xyxy pixels.
            gt_labels: int64 (M,).

        Returns:
            :class:`SamplingResult`; indices into the (possibly gt-augmented) priors.

        Raises:
            ValueError: shapes disagree (priors vs ``assign_result``, gt boxes vs labels or vs
                ``assign_result.num_gts``).
        """
        priors, gt_inds, labels, num_added = self._prepare(assign_result, priors, gt_bboxes,
                                                           gt_labels)
        device = priors.device
        pos = torch.nonzero(gt_inds > 0, as_tuple=False).squeeze(1)
        neg = torch.nonzero(gt_inds == 0, as_tuple=False).squeeze(1)
        num_pos = min(pos.numel(), self.num_expected_pos)
        if pos.numel() > num_pos:
            pos = pos[torch.randperm(pos.numel(), device=device)[:num_pos]]
        num_neg = min(neg.numel(), self._neg_cap(num_pos))
        if neg.numel() > num_neg:
            neg = neg[torch.randperm(neg.numel(), device=device)[:num_neg]]
        return self._result(priors, gt_inds, labels, num_added, pos, neg, gt_bboxes)

    # a batch ------------------------------------------------------------------------------
    def sample_batch(self, assign_results: Sequence, priors_list: Sequence[Tensor],
                     gt_bboxes_list: Sequence[Tensor],
                     gt_labels_list: Sequence[Tensor]) -> list[SamplingResult]:
        """Sample B images at once: one ``torch.rand`` (B, N_max) and two ``topk`` for all.

        This is the speed path (torchvision draws two ``randperm`` per image in a Python loop):
        each image's gt indices are padded to (B, N_max) with -1 (never drawn), every prior gets
        a uniform random key, and the positives (negatives) with the largest keys are taken,
        as many per image as :meth:`sample`'s rule allows. The counts cross to the host once.

        Args:
            assign_results: B ``AssignResult``s.
            priors_list: B tensors (N_i, 4); the N_i may differ.
            gt_bboxes_list: B tensors (M_i, 4).
            gt_labels_list: B int64 tensors (M_i,).

        Returns:
            B :class:`SamplingResult`, as :meth:`sample` would return them (other random draws).

        Raises:
            ValueError: the four lists differ in length, or :meth:`sample`'s shape errors.
        """
        b = len(assign_results)
        if not (len(priors_list) == len(gt_bboxes_list) == len(gt_labels_list) == b):
            raise ValueError(f'RandomSampler.sample_batch: one entry per image expected, got '
                             f'{b} assign_results, {len(priors_list)} priors_list, '
                             f'{len(gt_bboxes_list)} gt_bboxes_list, {len(gt_labels_list)} '
                             'gt_labels_list')
        if b == 0:
            return []
        prepared = [self._prepare(*args) for args in
                    zip(assign_results, priors_list, gt_bboxes_list, gt_labels_list)]
        device = prepared[0][0].device
        gt_inds = pad_sequence([p[1].to(device) for p in prepared], batch_first=True,
                               padding_value=-1)  # (B, N_max)
        pos_mask, neg_mask = gt_inds > 0, gt_inds == 0
        num_pos = pos_mask.sum(dim=1).clamp(max=self.num_expected_pos)
        num_neg = torch.minimum(neg_mask.sum(dim=1), self.num - num_pos)
        if self.neg_pos_ub >= 0:
            ub = torch.floor(self.neg_pos_ub * num_pos.clamp(min=1).double()).long()
            num_neg = torch.minimum(num_neg, ub)
        counts = torch.stack((num_pos, num_neg)).tolist()  # the one host sync
        keys = torch.rand(gt_inds.shape, device=device)
        k_pos, k_neg = max(counts[0]), max(counts[1])
        pos_top = keys.masked_fill(~pos_mask, -1.0).topk(k_pos, dim=1).indices
        neg_top = keys.masked_fill(~neg_mask, -1.0).topk(k_neg, dim=1).indices
        return [self._result(priors, inds, labels, added, pos_top[i, :counts[0][i]],
                             neg_top[i, :counts[1][i]], gt_bboxes_list[i])
                for i, (priors, inds, labels, added) in enumerate(prepared)]

    def __repr__(self) -> str:
        return (f'RandomSampler(num={self.num}, pos_fraction={self.pos_fraction}, '
                f'neg_pos_ub={self.neg_pos_ub:g}, add_gt_as_proposals={self.add_gt_as_proposals})')
