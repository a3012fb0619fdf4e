"""Small helpers shared by the heads: ground truth of a data sample, batched clipping, the
per-image top-k after a batched NMS, and the check that a loss fits its key."""
from __future__ import annotations

from typing import Optional, Sequence

import torch
from torch import Tensor, nn

from registry import AssemblyError


def gt_of(sample) -> tuple[Tensor, Tensor, Optional[Tensor]]:
    """``(gt_bboxes (M, 4), gt_labels (M,), ignored boxes (K, 4) or None)`` of a data sample;
    boxes flagged ``ignore_flags`` go to the third (assigners ignore priors they cover)."""
    gt = sample.gt_instances
    bboxes, labels = gt.bboxes, gt.labels
    flags = gt.get('ignore_flags', None)
    if flags is None or not bool(flags.any()):
        return bboxes, labels, None
    return bboxes[~flags], labels[~flags], bboxes[flags]


def clip_boxes_batched(boxes: Tensor, shapes: Sequence[Sequence[int]]) -> Tensor:
    """Clip boxes (B, K, 4) xyxy to each image's (h, w) in ``shapes`` (B entries)."""
    hw = torch.as_tensor([list(s[:2]) for s in shapes], dtype=boxes.dtype, device=boxes.device)
    maxes = hw.flip(1).repeat(1, 2)[:, None, :]  # (B, 1, 4): w, h, w, h
    return boxes.clamp(min=0).minimum(maxes)


def per_image_topk_mask(img_idx: Tensor, k: int) -> Tensor:
    """Bool mask keeping the first ``k`` entries of each image, for entries already sorted by
    decreasing score (as ``batched_nms`` returns them). ``img_idx``: (N,) image of each entry."""
    n = img_idx.numel()
    if n == 0:
        return torch.zeros(0, dtype=torch.bool, device=img_idx.device)
    order = torch.sort(img_idx, stable=True).indices  # grouped by image, score order kept
    sorted_img = img_idx[order]
    counts = torch.bincount(sorted_img)
    starts = counts.cumsum(0) - counts
    rank = torch.empty_like(order)
    rank[order] = torch.arange(n, device=img_idx.device) - starts[sorted_img]
    return rank < k


def check_loss(loss: nn.Module, kind: str, key: str) -> None:
    """Refuse a loss of the wrong kind at ``key`` (a box loss as a classifier and the reverse).

    Raises:
        AssemblyError: naming the key path, the loss and both kinds.
    """
    held = getattr(loss, 'loss_kind', None)
    if held is not None and held != kind:
        path = getattr(loss, '_zoo_key_path', None) or key
        raise AssemblyError(f'{path}.type = {type(loss).__name__!r} is a {held} loss, but '
                            f'{path.rsplit(".", 1)[-1]} needs a {kind} loss')
