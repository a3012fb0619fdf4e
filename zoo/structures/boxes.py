"""Box operations on xyxy pixel boxes (``x1, y1, x2, y2``, width ``x2 - x1``, no "+1"): the one
implementation that every part, the metrics and the runner use.

* :func:`box_iou`: IoU of every pair of two sets (batched over leading dimensions);
  :func:`box_iof`: intersection over the first box's area (ignore regions);
  :func:`paired_iou`: IoU of matched pairs, differentiable (the IoU-family losses);
  :func:`shape_iou`: IoU of (w, h) shapes aligned at a common centre (YOLO anchors, k-means);
  :func:`box_diou`: Distance-IoU of every pair (IoU minus the normalized centre distance).
* :func:`batched_diou_nms`: DIoU-NMS within groups (per image and class);
  :func:`batched_nms_topk`: torchvision's NMS within groups, stopping each group once it has
  kept enough boxes; :func:`first_k_per_group`: the first k entries of each group.
* :func:`clip_boxes`: clip to one image, or per image of a batch;
  :func:`rescale_boxes`: resized-image pixels back to original-image pixels;
  :func:`size_keep_mask`: drop boxes smaller than a minimum size;
  :func:`inside_flags`: anchors inside the image (up to a border).

Conventions follow mmdet (``mmdet/structures/bbox/bbox_overlaps.py``, ``transforms.py``) and
torchvision (``torchvision.ops.boxes``). A pair whose union is empty (two zero-area boxes) has
IoU 0, not NaN.
"""
from __future__ import annotations

import math
from typing import Sequence, Union

import numpy as np
import torch
from torch import Tensor
from torchvision.ops import box_area

__all__ = ['IOU_EPS', 'batched_diou_nms', 'batched_nms_topk', 'box_area', 'box_diou', 'box_iof', 'box_iou',
           'clip_boxes', 'first_k_per_group', 'inside_flags', 'paired_iou', 'rescale_boxes', 'shape_iou',
           'size_keep_mask']

#: the ``eps`` added to the union by :func:`paired_iou` (torchvision's box losses use the same).
IOU_EPS = 1e-7


def _tiny(t: Tensor) -> float:
    return torch.finfo(t.dtype).eps if t.is_floating_point() else 1


def _intersection(boxes1: Tensor, boxes2: Tensor) -> Tensor:
    """Intersection areas (..., N, M) of (..., N, 4) and (..., M, 4) boxes; 0 when disjoint."""
    lt = torch.maximum(boxes1[..., :, None, :2], boxes2[..., None, :, :2])
    rb = torch.minimum(boxes1[..., :, None, 2:], boxes2[..., None, :, 2:])
    wh = (rb - lt).clamp(min=0)
    return wh[..., 0] * wh[..., 1]


def _areas(boxes: Tensor) -> Tensor:
    return ((boxes[..., 2] - boxes[..., 0]) * (boxes[..., 3] - boxes[..., 1])).clamp(min=0)


def box_iou(boxes1: Tensor, boxes2: Tensor) -> Tensor:
    """IoU of every pair: (..., N, 4) x (..., M, 4) -> (..., N, M), leading dimensions (a batch
    of images) matched or broadcast.

    Equals :func:`torchvision.ops.box_iou` for boxes of positive area; a zero-area box (padding,
    a degenerate ground truth) has IoU 0 with everything instead of NaN (the union is clamped at
    the dtype's eps).
    """
    inter = _intersection(boxes1, boxes2)
    union = _areas(boxes1)[..., :, None] + _areas(boxes2)[..., None, :] - inter
    return inter / union.clamp(min=_tiny(inter))


def box_diou(boxes1: Tensor, boxes2: Tensor) -> Tensor:
    """Distance-IoU of every pair: (..., N, 4) x (..., M, 4) -> (..., N, M), values in (-1, 1].

    ``IoU - rho^2 / c^2``, with ``rho`` the distance between the two boxes' centres and ``c`` the
    diagonal of the smallest box enclosing both (Zheng et al., "Distance-IoU Loss", AAAI 2020,
    section "Distance-IoU Loss", eq. 6; the penalty ``R_DIoU`` of DIoU-NMS, section
    "Non-Maximum Suppression using DIoU"). IoU as :func:`box_iou`; two identical zero-area boxes
    (``c`` = 0) have DIoU 0.
    """
    iou = box_iou(boxes1, boxes2)
    ctr1 = (boxes1[..., :, None, :2] + boxes1[..., :, None, 2:]) / 2
    ctr2 = (boxes2[..., None, :, :2] + boxes2[..., None, :, 2:]) / 2
    rho2 = ((ctr1 - ctr2) ** 2).sum(-1)
    lt = torch.minimum(boxes1[..., :, None, :2], boxes2[..., None, :, :2])
    rb = torch.maximum(boxes1[..., :, None, 2:], boxes2[..., None, :, 2:])
    c2 = ((rb - lt) ** 2).sum(-1)
    return iou - rho2 / c2.clamp(min=_tiny(iou))


def batched_diou_nms(boxes: Tensor, scores: Tensor, idxs: Tensor, iou_threshold: float) -> Tensor:
    """DIoU-NMS within each group (image, class) of a set of boxes; the counterpart of
    :func:`torchvision.ops.batched_nms`.

    Greedy, in decreasing score within a group: the best remaining box is kept and every box
    ``B_i`` with ``IoU(M, B_i) - rho^2 / c^2 >= iou_threshold`` is suppressed (Zheng et al.,
    "Distance-IoU Loss", AAAI 2020, section "Non-Maximum Suppression using DIoU", eq. 10; see
    :func:`box_diou`). Two boxes that overlap as much as plain NMS would suppress survive when
    their centres are far apart (two occluded objects). Note the paper's ``>=``; torchvision's
    plain NMS suppresses at ``IoU > iou_threshold``. Boxes of different groups never suppress
    each other. Equal scores keep their input order.

    Args:
        boxes: (N, 4) xyxy pixels. scores: (N,). idxs: int64 (N,) group of each box.
        iou_threshold: the DIoU at or above which a lower-scored box is suppressed.

    Returns:
        int64 (K,) indices of the kept boxes, in decreasing score (as ``batched_nms``).
    """
    if boxes.numel() == 0:
        return torch.zeros(0, dtype=torch.long, device=boxes.device)
    order = torch.sort(scores, descending=True, stable=True).indices
    order = order[torch.sort(idxs[order], stable=True).indices]        # by group, best first in each
    counts = torch.unique_consecutive(idxs[order], return_counts=True)[1].tolist()
    kept = []
    for members in order.split(counts):
        suppresses = (box_diou(boxes[members], boxes[members]) >= iou_threshold).cpu().numpy()
        removed = np.zeros(members.numel(), dtype=bool)
        for i in range(members.numel()):
            if not removed[i]:
                removed[i + 1:] |= suppresses[i, i + 1:]
        kept.append(members[torch.from_numpy(~removed).to(members.device)])
    kept = torch.cat(kept)
    return kept[torch.sort(scores[kept], descending=True, stable=True).indices]


#: torchvision's ``batched_nms`` runs one ``nms`` per group on the CPU above this many box
#: coordinates (``boxes.numel()``); below it, one call with the groups offset apart
_VANILLA_NUMEL = 4000


def first_k_per_group(groups: Tensor, k: int) -> Tensor:
    """Bool mask keeping the first ``k`` entries of each group, for entries already in the
    order that decides (e.g. decreasing score, as ``batched_nms`` returns them).

    Args:
        groups: int64 (N,) group (image, or image and level) of each entry. k: entries per group.

    Returns:
        bool (N,).
    """
    n = groups.numel()
    if n == 0:
        return torch.zeros(0, dtype=torch.bool, device=groups.device)
    order = torch.sort(groups, stable=True).indices  # grouped, the given order kept in each
    sorted_groups = groups[order]
    counts = torch.unique_consecutive(sorted_groups, return_counts=True)[1]
    starts = (counts.cumsum(0) - counts).repeat_interleave(counts)
    rank = torch.empty_like(order)
    rank[order] = torch.arange(n, device=groups.device) - starts
    return rank < k


def _nms_first_k(boxes: Tensor, scores: Tensor, iou_threshold: float, k: int) -> Tensor:
    """The first ``k`` boxes greedy NMS keeps (all, if it keeps fewer), in its order.

    Greedy NMS decides each box from the boxes before it only, so NMS on the ``n`` best boxes
    keeps exactly the kept boxes among them. torchvision's kernel processes equal scores in
    input order (a stable sort), so the best ``n`` are taken in that order too. The prefix
    starts at ``2k`` and grows with the density of kept boxes seen, until ``k`` are kept.
    """
    from torchvision.ops import nms
    total = scores.numel()
    order = torch.sort(scores, descending=True, stable=True).indices
    boxes, scores = boxes[order], scores[order]
    n = min(total, 2 * k)
    while True:
        kept = nms(boxes[:n], scores[:n], iou_threshold)
        if kept.numel() >= k or n == total:
            return order[kept[:k]]
        n = min(total, max(n + k, math.ceil(1.25 * n * k / max(kept.numel(), 1))))


def batched_nms_topk(boxes: Tensor, scores: Tensor, idxs: Tensor, iou_threshold: float,
                     max_per_group: int) -> Tensor:
    """:func:`torchvision.ops.batched_nms` within each group, keeping each group's first
    ``max_per_group`` kept boxes, without running NMS past them.

    An RPN keeps ``max_per_img`` proposals out of ``nms_pre`` boxes per image (and level), but
    NMS over all of them costs about (boxes kept) x (boxes): in the ZF recipe's training, 6000
    boxes per image of which about 2000 survive NMS at 0.7, while the 1000th kept box comes at
    about the 3300th place, so stopping there does a quarter of the work (50 ms -> 13 ms per
    image on this project's CPU). The boxes are torchvision's: its ``nms`` on the best ``n`` of
    each group (:func:`_nms_first_k`).

    Only where torchvision itself runs one ``nms`` per group (CPU, more than 1000 boxes, not
    traced); otherwise ``batched_nms`` (one kernel on the GPU) and then the cut.

    Args:
        boxes: (N, 4) xyxy pixels. scores: (N,). idxs: int64 (N,) group of each box.
        iou_threshold: suppress at ``IoU > iou_threshold`` (torchvision's rule).
        max_per_group: boxes kept per group at most (>= 1).

    Returns:
        int64 (K,) indices, in decreasing score: ``batched_nms``'s result cut to the first
        ``max_per_group`` of each group. Equal scores are ordered by index (torchvision's
        final sort leaves their order unspecified), so with ties at a group's cut the box kept
        there is the one of lower index.

    Raises:
        ValueError: ``max_per_group`` < 1.
    """
    from torchvision.ops import batched_nms
    if max_per_group < 1:
        raise ValueError(f'max_per_group must be >= 1, got {max_per_group}')
    if (boxes.device.type != 'cpu' or boxes.numel() <= _VANILLA_NUMEL or torch.jit.is_tracing()
            or torch.jit.is_scripting()):
        keep = batched_nms(boxes, scores, idxs, iou_threshold)
        keep = keep[torch.sort(scores[keep], descending=True, stable=True).indices]
        return keep[first_k_per_group(idxs[keep], max_per_group)]
    keep_mask = torch.zeros_like(scores, dtype=torch.bool)
    for group in torch.unique(idxs):
        members = torch.where(idxs == group)[0]
        keep_mask[members[_nms_first_k(boxes[members], scores[members], iou_threshold,
                                       max_per_group)]] = True
    keep = torch.where(keep_mask)[0]
    return keep[torch.sort(scores[keep], descending=True, stable=True).indices]


def box_iof(boxes: Tensor, regions: Tensor) -> Tensor:
    """Intersection over the area of each box ("foreground"; mmdet's ``mode='iof'``):
    (..., N, 4) x (..., M, 4) -> (..., N, M); 0 for a zero-area box."""
    inter = _intersection(boxes, regions)
    return inter / _areas(boxes)[..., :, None].clamp(min=_tiny(inter))


def paired_iou(boxes1: Tensor, boxes2: Tensor, eps: float = IOU_EPS) -> Tensor:
    """IoU of each pair ``(boxes1[i], boxes2[i])``: (..., 4) x (..., 4) -> (...,).

    ``inter / (union + eps)``; differentiable (the intersection is clamped at 0 for disjoint
    boxes), as the IoU-family losses need (mmdet's ``bbox_overlaps(is_aligned=True)``).
    """
    lt = torch.max(boxes1[..., :2], boxes2[..., :2])
    rb = torch.min(boxes1[..., 2:], boxes2[..., 2:])
    wh = (rb - lt).clamp(min=0)
    inter = wh[..., 0] * wh[..., 1]
    area1 = (boxes1[..., 2] - boxes1[..., 0]) * (boxes1[..., 3] - boxes1[..., 1])
    area2 = (boxes2[..., 2] - boxes2[..., 0]) * (boxes2[..., 3] - boxes2[..., 1])
    return inter / (area1 + area2 - inter + eps)


def shape_iou(wh1: Tensor, wh2: Tensor) -> Tensor:
    """IoU of box shapes aligned at a common centre (or corner): (M, 2) x (K, 2) -> (M, K).

    ``min(w1, w2) * min(h1, h2) / (w1 h1 + w2 h2 - min(w1, w2) * min(h1, h2))``; sizes in pixels
    (darknet's anchor matching, YOLOv3 section 2.1; the k-means distance of YOLOv2 section 2).
    """
    inter = torch.minimum(wh1[:, None, 0], wh2[None, :, 0]) * torch.minimum(wh1[:, None, 1],
                                                                             wh2[None, :, 1])
    area1 = (wh1[:, 0] * wh1[:, 1])[:, None]
    area2 = (wh2[:, 0] * wh2[:, 1])[None, :]
    return inter / (area1 + area2 - inter).clamp(min=_tiny(inter))


def clip_boxes(boxes: Tensor, shape: Union[Sequence, Tensor]) -> Tensor:
    """Clip boxes xyxy to the image: x in [0, w], y in [0, h].

    Args:
        boxes: (..., 4) pixels.
        shape: ``(h, w)`` of the one image, or per image of a batch (B, 2) (a tensor or a list of
            ``(h, w[, ...])``), for boxes (B, ..., 4) whose first dimension is the image.

    Returns:
        The clipped boxes, same shape.

    Raises:
        ValueError: ``shape`` is neither one (h, w) nor one per image of the batch.
    """
    if not isinstance(shape, Tensor) and len(shape) and isinstance(shape[0], (Sequence, Tensor)):
        # stacked rather than read as numbers: a traced (h, w) tensor (2,) (ONNX export) stays
        # symbolic
        hw = torch.stack([torch.as_tensor(s if isinstance(s, Tensor) else list(s[:2]),
                                          dtype=boxes.dtype, device=boxes.device) for s in shape])
    else:
        hw = torch.as_tensor(shape, dtype=boxes.dtype, device=boxes.device)
    if hw.shape == (2,):
        pass
    elif hw.dim() == 2 and hw.shape[1] == 2 and boxes.dim() >= 2 and hw.shape[0] == boxes.shape[0]:
        hw = hw.reshape((hw.shape[0],) + (1,) * (boxes.dim() - 2) + (2,))
    else:
        raise ValueError(f'clip_boxes: shape must be (h, w), or one (h, w) per image of the '
                         f'{boxes.shape[0] if boxes.dim() >= 2 else 1} of the batch, got '
                         f'{tuple(hw.shape)}')
    upper = torch.cat((hw.flip(-1), hw.flip(-1)), dim=-1)  # w, h, w, h
    return torch.minimum(boxes.clamp(min=0), upper)


def rescale_boxes(boxes: Tensor, scale_factor: Union[Sequence[float], Tensor]) -> Tensor:
    """Boxes (..., 4) in resized-image pixels back to original pixels: divide x by ``w`` and y by
    ``h`` of ``scale_factor``: one ``(w, h)`` pair, or a tensor (..., 2) of one pair per box."""
    sf = torch.as_tensor(scale_factor, dtype=boxes.dtype, device=boxes.device)
    return boxes / torch.cat((sf, sf), dim=-1)


def size_keep_mask(boxes: Tensor, min_size: float = 0.0) -> Tensor:
    """Bool (...,): boxes (..., 4) whose width and height are both ``>= min_size`` pixels, or,
    with ``min_size`` 0, both positive (an empty box is always dropped).

    The heads' ``min_bbox_size`` (py-faster-rcnn: 16 pixels at the original scale; torchvision
    removes boxes under 1e-3 px in the RPN and 1e-2 px in the box head).
    """
    wh = boxes[..., 2:] - boxes[..., :2]
    return (wh >= min_size).all(-1) if min_size > 0 else (wh > 0).all(-1)


def inside_flags(boxes: Tensor, shape: tuple[int, int], allowed_border: float = 0) -> Tensor:
    """Bool (N,): boxes (N, 4) lying inside an image of ``shape`` (h, w), up to ``allowed_border``
    pixels outside. A negative ``allowed_border`` keeps every box (the paper ignores
    cross-boundary anchors during training, section 3.3; ``allowed_border=-1`` turns that off)."""
    if allowed_border < 0:
        return torch.ones(boxes.shape[0], dtype=torch.bool, device=boxes.device)
    h, w = shape
    return ((boxes[:, 0] >= -allowed_border) & (boxes[:, 1] >= -allowed_border)
            & (boxes[:, 2] <= w + allowed_border) & (boxes[:, 3] <= h + allowed_border))
