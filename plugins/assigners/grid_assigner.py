"""YOLOv3's assignment: each gt box to one anchor, at the cell that holds its centre.

Source: Redmon & Farhadi, "YOLOv3: An Incremental Improvement", 2018, section 2.1 ("If the
bounding box prior is not the best but does overlap a ground truth object by more than some
threshold we ignore the prediction, following [Faster R-CNN]. We use the threshold of .5. ...
our system only assigns one bounding box prior for each ground truth object"); darknet's
``yolo_layer.c`` (``forward_yolo_layer``): the best anchor of a gt box is chosen by the IoU of
(w, h) shapes aligned at a common centre, over the anchors of *all* levels (``best_n`` over
``l.total``), and a prediction whose decoded box overlaps any gt by more than ``ignore_thresh``
is not a negative. mmdet's ``GridAssigner`` does the ignore test on the anchors instead; both
are available (``ignore_by``).

Batched: all images of a batch are assigned at once (no loop over images or boxes).
"""
from __future__ import annotations

from numbers import Real
from typing import Optional, Sequence

import torch
from torch import Tensor

from registry import ASSIGNERS
from zoo.api import GridAssignResult, box_iou, shape_iou

__all__ = ['GridAssigner']


def pad_boxes(boxes: Sequence[Tensor], width: int = 4) -> tuple[Tensor, Tensor]:
    """Per-image tensors (M_i, width) -> zero-padded (B, max M_i, width) and the mask (B, max M_i)."""
    B = len(boxes)
    m = max([b.shape[0] for b in boxes] + [1])
    ref = boxes[0]
    out = ref.new_zeros(B, m, width)
    counts = torch.tensor([b.shape[0] for b in boxes], device=ref.device)
    mask = torch.arange(m, device=ref.device)[None, :] < counts[:, None]
    if bool(mask.any()):
        out[mask] = torch.cat(list(boxes)).to(out.dtype)
    return out, mask


@ASSIGNERS.register_module()
class GridAssigner:
    """YOLOv3's assignment (see the module docstring).

    For every gt box (xyxy pixels of the input tensor) of every image:

    1. its best anchor over all levels: highest :func:`shape_iou` of its (w, h) with the anchor
       sizes (the first on a tie);
    2. the cell of that anchor's level holding the box centre,
       ``(floor(cy / stride), floor(cx / stride))``, clamped to the feature map;
    3. that one prior is positive for the box. Two boxes with the same prior: the later box of
       the image wins (darknet writes the targets box by box, the last one stays).

    Every other prior is negative if its best IoU with the image's gt (and ignore) boxes is
    ``<= ignore_iou_thr``, else ignored. The IoU is that of the prediction decoded at the prior
    (``ignore_by='prediction'``, darknet) or of the prior itself (``'prior'``, mmdet).

    Args:
        ignore_iou_thr: the ignore threshold (YOLOv3: 0.5).
        ignore_by: ``'prediction'`` or ``'prior'``.

    Raises:
        ValueError: ``ignore_iou_thr`` not in [0, 1]; unknown ``ignore_by``.
    """

    def __init__(self, ignore_iou_thr: float = 0.5, ignore_by: str = 'prediction'):
        if not (isinstance(ignore_iou_thr, Real) and 0 <= ignore_iou_thr <= 1):
            raise ValueError(f'GridAssigner: ignore_iou_thr must be a number in [0, 1], got '
                             f'{ignore_iou_thr!r}')
        if ignore_by not in ('prediction', 'prior'):
            raise ValueError(f"GridAssigner: ignore_by must be 'prediction' (darknet) or 'prior' "
                             f"(mmdet), got {ignore_by!r}")
        self.ignore_iou_thr = float(ignore_iou_thr)
        self.ignore_by = ignore_by

    def assign(self, anchor_wh: Tensor, strides: Sequence[int], featmap_sizes: Sequence,
               priors: Tensor, gt_bboxes: Sequence[Tensor], gt_labels: Sequence[Tensor],
               pred_bboxes: Optional[Tensor] = None,
               gt_bboxes_ignore: Optional[Sequence[Optional[Tensor]]] = None) -> GridAssignResult:
        """Assign the priors of every image.

        Args:
            anchor_wh: (L, A, 2) anchor (w, h) in pixels, level ``l`` at ``strides[l]``
                (:meth:`YOLOAnchorGenerator.anchor_wh`).
            strides: L strides in pixels.
            featmap_sizes: L (H_l, W_l) feature map sizes.
            priors: (N, 4) xyxy anchors of all levels, ordered (level, y, x, a), N = sum of
                H_l W_l A; used for the ignore test with ``ignore_by='prior'``.
            gt_bboxes: per image (M_i, 4) xyxy pixels of the input tensor.
            gt_labels: per image int64 (M_i,).
            pred_bboxes: (B, N, 4) decoded predictions (detached), needed with
                ``ignore_by='prediction'``.
            gt_bboxes_ignore: per image (K_i, 4) boxes marked ignore (VOC "difficult") or None;
                they count for the ignore test only.

        Returns:
            :class:`GridAssignResult` with (B, N) tensors.

        Raises:
            ValueError: shapes that disagree (anchor_wh vs strides vs featmap sizes vs priors,
                gt boxes vs labels, missing ``pred_bboxes``).
        """
        if anchor_wh.dim() != 3 or anchor_wh.shape[2] != 2 or len(strides) != anchor_wh.shape[0] \
                or len(featmap_sizes) != anchor_wh.shape[0]:
            raise ValueError(f'GridAssigner.assign: anchor_wh {tuple(anchor_wh.shape)} must be (L, A, '
                             f'2) with one stride and one feature map size per level, got strides '
                             f'{list(strides)} and featmap_sizes {list(featmap_sizes)}')
        A = int(anchor_wh.shape[1])
        sizes = [(int(h), int(w)) for h, w in featmap_sizes]
        per_level = [h * w * A for h, w in sizes]
        N = sum(per_level)
        if priors.shape != (N, 4):
            raise ValueError(f'GridAssigner.assign: priors must be ({N}, 4) for featmap_sizes '
                             f'{sizes} and {A} anchors per cell, got {tuple(priors.shape)}')
        B = len(gt_bboxes)
        if len(gt_labels) != B or any(b.shape[0] != lab.shape[0] or b.dim() != 2 or b.shape[-1] != 4
                                      for b, lab in zip(gt_bboxes, gt_labels)):
            raise ValueError('GridAssigner.assign: gt_bboxes must be one (M_i, 4) tensor per image '
                             'with one label per box in gt_labels')
        device = priors.device
        # ignore test: best IoU of the predictions (or priors) with the image's boxes
        if self.ignore_by == 'prediction':
            if pred_bboxes is None or pred_bboxes.shape != (B, N, 4):
                raise ValueError(f"GridAssigner.assign: ignore_by='prediction' needs pred_bboxes of "
                                 f"shape ({B}, {N}, 4), got "
                                 f"{None if pred_bboxes is None else tuple(pred_bboxes.shape)}")
            cand = pred_bboxes.detach()
        else:
            cand = priors[None].expand(B, N, 4)
        others = [g if ig is None else torch.cat((g, ig.to(g.dtype)))
                  for g, ig in zip(gt_bboxes, gt_bboxes_ignore or [None] * B)]
        padded, _ = pad_boxes(others)
        max_overlaps = box_iou(cand.to(padded.dtype), padded).amax(-1)  # (B, N)
        gt_inds = torch.where(max_overlaps > self.ignore_iou_thr, -1, 0).to(torch.int64)
        labels = torch.full((B, N), -1, dtype=torch.int64, device=device)
        num_gts = torch.tensor([b.shape[0] for b in gt_bboxes], dtype=torch.int64, device=device)
        if int(num_gts.sum()) == 0:
            return GridAssignResult(gt_inds, max_overlaps, labels, num_gts)

        gts = torch.cat(list(gt_bboxes)).to(priors.dtype)                   # (M, 4)
        gl = torch.cat(list(gt_labels)).to(torch.int64)
        img = torch.repeat_interleave(torch.arange(B, device=device), num_gts)
        local = torch.arange(gts.shape[0], device=device) - (num_gts.cumsum(0) - num_gts)[img]
        wh = gts[:, 2:] - gts[:, :2]
        best = shape_iou(wh, anchor_wh.reshape(-1, 2).to(wh.dtype)).argmax(1)  # over L * A
        level, a = best // A, best % A
        stride_t = torch.as_tensor(strides, dtype=gts.dtype, device=device)[level]
        hw = torch.as_tensor(sizes, dtype=torch.int64, device=device)[level]  # (M, 2)
        ctr = (gts[:, :2] + gts[:, 2:]) / 2
        col = torch.minimum(torch.floor(ctr[:, 0] / stride_t).long().clamp(min=0), hw[:, 1] - 1)
        row = torch.minimum(torch.floor(ctr[:, 1] / stride_t).long().clamp(min=0), hw[:, 0] - 1)
        offsets = torch.as_tensor([0] + per_level[:-1], device=device).cumsum(0)
        prior = offsets[level] + (row * hw[:, 1] + col) * A + a
        flat = img * N + prior                                              # (M,)
        # one gt per prior: the last box of the image wins (darknet's order)
        order = torch.arange(gts.shape[0], device=device)
        winner = torch.full((B * N,), -1, dtype=torch.int64, device=device)
        winner.scatter_reduce_(0, flat, order, reduce='amax')
        keep = winner[flat] == order
        gt_inds.view(-1)[flat[keep]] = local[keep] + 1
        labels.view(-1)[flat[keep]] = gl[keep]
        return GridAssignResult(gt_inds, max_overlaps, labels, num_gts)

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(ignore_iou_thr={self.ignore_iou_thr}, '
                f'ignore_by={self.ignore_by!r})')
