"""Small helpers shared by the heads: ground truth of a data sample, batched sampling, the
per-image top-k after a batched NMS, the checks that a loss fits its key (kind,
reduction), the NMS a ``test_cfg`` names (plain or DIoU-NMS), and the score-threshold/NMS/top-k
selection of a dense head's detections."""
from __future__ import annotations

from typing import Optional, Sequence, Union

import torch
from torch import Tensor, nn

from registry import AssemblyError, ConfigError
from zoo.structures import (batched_diou_nms, batched_nms_topk, clip_boxes, first_k_per_group, rescale_boxes,
                            size_keep_mask)

from .precision import force_fp32


def gt_of(sample) -> tuple[Tensor, Tensor, Optional[Tensor]]:
    """``(gt_bboxes (M, 4), gt_labels (M,), ignored boxes (K, 4) or None)`` of a data sample;
    boxes flagged ``ignore_flags`` go to the third (assigners ignore priors they cover)."""
    gt = sample.gt_instances
    bboxes, labels = gt.bboxes, gt.labels
    flags = gt.get('ignore_flags', None)
    if flags is None or not bool(flags.any()):
        return bboxes, labels, None
    return bboxes[~flags], labels[~flags], bboxes[flags]


def per_image_topk_mask(img_idx: Tensor, k: int) -> Tensor:
    """Bool mask keeping the first ``k`` entries of each image, for entries already sorted by
    decreasing score (as ``batched_nms`` returns them). ``img_idx``: (N,) image of each entry.
    (:func:`zoo.structures.first_k_per_group` with images as the groups.)"""
    return first_k_per_group(img_idx, k)


def sample_images(sampler, assign_results: Sequence, priors_list: Sequence[Tensor],
                  gts: Sequence[tuple]) -> list:
    """Sample the priors of every image of a batch: in one call with the sampler's
    ``sample_batch`` (``RandomSampler``: one random draw and two ``topk`` for the batch, instead
    of two ``randperm`` per image), one ``sample`` per image for a sampler without it.

    Args:
        sampler: a sampler (``sample`` and optionally ``sample_batch``).
        assign_results, priors_list: per image, the assignment and its priors (N_i, 4).
        gts: per image ``(gt_bboxes (M_i, 4), gt_labels (M_i,))``.

    Returns:
        Per image a ``SamplingResult``.
    """
    if hasattr(sampler, 'sample_batch'):
        return sampler.sample_batch(assign_results, priors_list, [g[0] for g in gts],
                                    [g[1] for g in gts])
    return [sampler.sample(a, p, g[0], g[1]) for a, p, g in zip(assign_results, priors_list, gts)]


#: the values of a loss's ``loss_kind`` class attribute.
LOSS_KINDS = ('classification', 'regression')


def check_loss(loss: nn.Module, kind: Union[str, tuple[str, ...]], key: str) -> None:
    """Refuse a loss whose declared contract is missing or does not fit its key.

    A loss declares ``loss_kind`` (``'classification'`` or ``'regression'``), and a regression
    loss also ``takes_decoded_boxes`` (``False``: it compares the box coder's deltas;
    ``True``: decoded ``x1, y1, x2, y2`` boxes in pixels), as class attributes (docs/parts.md,
    "Loss"). No default is right for every head: a box loss on deltas fed decoded pixel boxes
    (or the reverse) trains on numbers a thousand times off, with no error. So a loss that
    declares neither is refused here, when the head is built.

    Args:
        loss: the built loss.
        kind: the kind the key needs, or a tuple of the kinds it accepts.
        key: the config key (``'loss_bbox'``), used when the loss carries no key path.

    Raises:
        AssemblyError: naming the key path, the loss and the missing or wrong attribute: no
            ``loss_kind`` (or not one of :data:`LOSS_KINDS`); another kind than ``kind``; a
            regression loss whose ``takes_decoded_boxes`` is not True or False.
    """
    path = getattr(loss, '_zoo_key_path', None) or key
    name = type(loss).__name__
    kinds = (kind,) if isinstance(kind, str) else tuple(kind)
    held = getattr(loss, 'loss_kind', None)
    if held not in LOSS_KINDS:
        raise AssemblyError(f'{path}.type = {name!r} does not declare its kind: the loss class needs '
                            f"the attribute loss_kind = {' or '.join(repr(k) for k in kinds)} "
                            f'(got {held!r}); see docs/parts.md, "Loss"')
    if held not in kinds:
        raise AssemblyError(f'{path}.type = {name!r} is a {held} loss, but '
                            f'{path.rsplit(".", 1)[-1]} needs a {" or ".join(kinds)} loss')
    if held == 'regression':
        decoded = getattr(loss, 'takes_decoded_boxes', None)
        if not isinstance(decoded, bool):
            raise AssemblyError(f'{path}.type = {name!r} is a regression loss that does not say what it '
                                'compares: the loss class needs the attribute takes_decoded_boxes = '
                                'False (the box coder\'s deltas) or True (decoded x1, y1, x2, y2 boxes '
                                f'in pixels) (got {decoded!r}); see docs/parts.md, "Loss"')


def check_mean_reduction(loss: nn.Module, key: str) -> None:
    """Refuse a loss whose reduction is not ``'mean'`` where a head normalises it itself.

    The YOLO heads pass ``avg_factor`` = the number of images (the papers' sums over a batch,
    per image), which :func:`~zoo.api.weight_reduce_loss` accepts with
    ``reduction='mean'`` only.

    Raises:
        ConfigError: naming the key path and the reduction held.
    """
    held = getattr(loss, 'reduction', 'mean')
    if held != 'mean':
        path = getattr(loss, '_zoo_key_path', None) or key
        raise ConfigError(f"{path}.reduction = {held!r}, but this head divides the summed loss by "
                          f"the number of images (avg_factor), which needs reduction='mean'")


#: the values of ``nms.type`` in a head's ``test_cfg`` (mmdet's spelling for the first).
NMS_TYPES = ('nms', 'diou_nms')


def batched_nms_by_cfg(boxes: Tensor, scores: Tensor, idxs: Tensor, nms_cfg: Union[float, dict],
                       key: str = 'test_cfg.nms', max_per_group: Optional[int] = None) -> Tensor:
    """NMS within each group (image, class or level) of the kind an ``nms`` config names.

    ``nms_cfg``: ``dict(type='nms', iou_threshold=0.5)`` (``type`` defaults to ``'nms'``), or a
    number (plain NMS at that IoU).

    * ``'nms'``: :func:`torchvision.ops.batched_nms`, suppressing at ``IoU > iou_threshold``.
    * ``'diou_nms'``: :func:`~zoo.structures.batched_diou_nms`, suppressing at
      ``IoU - rho^2 / c^2 >= iou_threshold`` (Zheng et al., "Distance-IoU Loss", AAAI 2020,
      section "Non-Maximum Suppression using DIoU").

    Args:
        boxes: (N, 4) xyxy pixels; scores: (N,); idxs: int64 (N,) group of each box.
        nms_cfg: as above. key: the config key path, for errors.
        max_per_group: keep only the first this many kept boxes of each group (``None``: all).
            Plain NMS then stops each group there (:func:`~zoo.structures.batched_nms_topk`);
            equal scores are then ordered by index.

    Returns:
        int64 (K,) indices of the kept boxes, in decreasing score.

    Raises:
        ConfigError: ``type`` is not one of :data:`NMS_TYPES`, ``iou_threshold`` is missing or
            not a number, or another key is given; the message names ``key``.
    """
    from torchvision.ops import batched_nms

    if not isinstance(nms_cfg, dict):
        nms_cfg = dict(iou_threshold=nms_cfg)
    unknown = sorted(set(nms_cfg) - {'type', 'iou_threshold'})
    if unknown:
        raise ConfigError(f"{key}: unknown key(s) {unknown}; expected 'type' and 'iou_threshold'")
    nms_type = nms_cfg.get('type', 'nms')
    if nms_type not in NMS_TYPES:
        raise ConfigError(f'{key}.type = {nms_type!r}; expected one of {list(NMS_TYPES)}')
    iou_thr = nms_cfg.get('iou_threshold')
    if isinstance(iou_thr, bool) or not isinstance(iou_thr, (int, float)):
        raise ConfigError(f'{key}.iou_threshold = {iou_thr!r}; expected a number (an IoU)')
    if torch.jit.is_tracing():  # ONNX export: the graph of the plain call; the caller cuts
        max_per_group = None
    if nms_type == 'diou_nms':
        keep = batched_diou_nms(boxes, scores, idxs, float(iou_thr))
        return keep if max_per_group is None else keep[first_k_per_group(idxs[keep], max_per_group)]
    if max_per_group is not None:
        return batched_nms_topk(boxes, scores, idxs, float(iou_thr), max_per_group)
    return batched_nms(boxes, scores, idxs, iou_thr)


@force_fp32
def select_detections(boxes: Tensor, scores: Tensor, labels: Tensor, data_samples: Sequence,
                      num_classes: int, cfg: dict, rescale: bool = True) -> list:
    """Score threshold, per-class NMS and top-k of the candidate detections of a batch.

    All images and classes go through one :func:`torchvision.ops.batched_nms` call (groups
    ``image * num_classes + label``), and the per-image top ``max_per_img`` is a mask, not a loop.

    Args:
        boxes: (B, K, 4) xyxy candidates in input-tensor pixels.
        scores: (B, K) their scores; labels: int64 (B, K) their classes in 0 .. C-1.
        data_samples: per image, metainfo ``img_shape`` (boxes are clipped to it) and, with
            ``rescale``, ``scale_factor`` (w, h).
        num_classes: C.
        cfg: ``score_thr`` (0.05; kept: ``score > score_thr``), ``nms``: ``type`` (``'nms'``
            or ``'diou_nms'``, see :func:`batched_nms_by_cfg`) and ``iou_threshold`` (0.45),
            ``max_per_img`` (100), ``min_bbox_size`` (0: keep boxes of positive area).
        rescale: return boxes in original-image pixels (divide by ``scale_factor``).

    Returns:
        Per image ``InstanceData(bboxes (M, 4), scores (M,), labels int64 (M,))``, best first.
    """
    B, K = scores.shape
    score_thr = cfg.get('score_thr', 0.05)
    nms_cfg = {'iou_threshold': 0.45, **cfg.get('nms', {})}
    max_per_img = cfg.get('max_per_img', 100)
    min_size = cfg.get('min_bbox_size', 0.0)
    boxes = clip_boxes(boxes, [s.metainfo['img_shape'] for s in data_samples]).reshape(-1, 4)
    scores, labels = scores.reshape(-1), labels.reshape(-1)
    img_idx = torch.arange(B, device=boxes.device).repeat_interleave(K)
    return nms_per_image(boxes, scores, labels, img_idx, data_samples, num_classes, score_thr,
                         min_size, nms_cfg, max_per_img, rescale)


@force_fp32
def nms_per_image(boxes: Tensor, scores: Tensor, labels: Tensor, img_idx: Tensor,
                  data_samples: Sequence, num_classes: int, score_thr: float, min_size: float,
                  iou_thr: Union[float, dict], max_per_img: int, rescale: bool = True,
                  nms_key: str = 'test_cfg.nms') -> list:
    """The detections of a batch from its clipped candidates: ``score > score_thr`` and boxes
    not smaller than ``min_size`` (:func:`~zoo.structures.size_keep_mask`), NMS per image and
    class in one :func:`batched_nms_by_cfg` call (groups ``image * num_classes + label``), the
    per-image top ``max_per_img``, grouped by image and best first in each.

    Args:
        boxes: (N, 4) xyxy candidates in input-tensor pixels, already clipped to their images.
        scores: (N,); labels: int64 (N,) in 0 .. C-1; img_idx: int64 (N,) image of each.
        data_samples: per image; with ``rescale``, metainfo ``scale_factor`` (w, h).
        num_classes: C. score_thr, min_size (pixels), max_per_img: as their names say.
        iou_thr: a number (plain NMS at that IoU) or an ``nms`` config
            ``dict(type='nms' | 'diou_nms', iou_threshold)`` (:func:`batched_nms_by_cfg`).
        rescale: return boxes in original-image pixels (divide by ``scale_factor``).
        nms_key: the config key path of the ``nms`` config, for errors.

    Returns:
        Per image ``InstanceData(bboxes (M, 4), scores (M,), labels int64 (M,))``, best first.

    Raises:
        ConfigError: a bad ``nms`` config (:func:`batched_nms_by_cfg`).
    """
    from mmengine.structures import InstanceData

    B = len(data_samples)
    keep = ((scores > score_thr) & size_keep_mask(boxes, min_size)).nonzero().squeeze(1)
    keep = keep[batched_nms_by_cfg(boxes[keep], scores[keep], img_idx[keep] * num_classes + labels[keep],
                                   iou_thr, nms_key)]
    exporting = torch.jit.is_tracing()  # ONNX export (one image): no count leaves the graph
    if exporting:
        _check_one_image(B)
        keep = keep[:max_per_img]  # batched_nms returns them best first
    else:
        keep = keep[per_image_topk_mask(img_idx[keep], max_per_img)]
        keep = keep[torch.sort(img_idx[keep], stable=True).indices]  # by image, best first in each
    boxes, scores, labels, img_idx = boxes[keep], scores[keep], labels[keep], img_idx[keep]
    if rescale:  # (B, 2); stacked, so that a traced scale factor (ONNX export) stays symbolic
        factors = torch.stack([torch.as_tensor(_pair(s.metainfo.get('scale_factor', (1.0, 1.0))),
                                               dtype=boxes.dtype, device=boxes.device)
                               for s in data_samples])
        boxes = rescale_boxes(boxes, factors[img_idx])
    if exporting:
        return [InstanceData(bboxes=boxes, scores=scores, labels=labels)]
    counts = torch.bincount(img_idx, minlength=B).tolist()
    return [InstanceData(bboxes=b, scores=s, labels=lab) for b, s, lab in
            zip(boxes.split(counts), scores.split(counts), labels.split(counts))]


def _pair(value):
    return value if isinstance(value, Tensor) else list(value)


def _check_one_image(batch_size: int) -> None:
    """Refuse a batch of more than one image while tracing for ONNX export: the exported
    detectors take one image (their per-image grouping of detections is left out of the graph).

    Raises:
        ValueError: ``batch_size`` is not 1.
    """
    if batch_size != 1:
        raise ValueError(f'ONNX export traces a batch of one image, got {batch_size}')
