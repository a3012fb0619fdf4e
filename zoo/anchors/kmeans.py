"""k-means anchors: cluster a dataset's box shapes with the distance ``1 - IoU``.

Source: Redmon & Farhadi, "YOLO9000: Better, Faster, Stronger" (YOLOv2), CVPR 2017, section 2,
"Dimension Clusters": k-means on the training boxes' (w, h) with ``d(box, centroid) =
1 - IOU(box, centroid)``, so that the clusters do not favour large boxes as a Euclidean distance
would; the quality of a set of anchors is the "Avg IOU", the mean over the boxes of the IoU with
their closest centroid (table 1: 61.0 for 9 clusters on VOC 2007). YOLOv3 (2018, section 2.3)
uses 9 such clusters, 3 per scale, sorted by area.

Definitions used here (boxes and anchors as (w, h) pairs in pixels of the network input):

* ``shape IoU``: the IoU of two boxes aligned at a common centre (equivalently a common corner):
  ``min(w1, w2) min(h1, h2) / (w1 h1 + w2 h2 - min(w1, w2) min(h1, h2))``; positions play no part.
* ``mean IoU`` (the paper's Avg IOU): mean over the boxes of the best shape IoU with any anchor.
* ``best possible recall`` (BPR) at threshold ``t`` (default 0.5): the fraction of boxes whose
  best shape IoU with some anchor is ``>= t``, i.e. the boxes that an assigner matching by shape
  IoU at ``t`` could give an anchor if the anchor sat at the box's centre. (ultralytics' YOLOv5
  reports a "BPR" with a size-ratio threshold of 4 instead; that number is not this one.)

The fit (:func:`kmeans_anchors`) is deterministic for a given ``seed``: k-means++ seeding
(Arthur & Vassilvitskii, SODA 2007) with :func:`numpy.random.default_rng(seed)` and the
distance ``1 - IoU`` (squared, as k-means++ prescribes), then Lloyd iterations (assign each box to
its highest-IoU centroid, the first on a tie; move each centroid to the mean, or median, of its
boxes) until the assignment no longer changes. A cluster that loses all its boxes is re-seeded
with the box farthest from every centroid.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from ..structures import shape_iou

__all__ = ['AnchorFit', 'anchor_stats', 'kmeans_anchors', 'split_by_area', 'wh_iou']


def _check_wh(wh, name: str) -> np.ndarray:
    arr = np.asarray(wh, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] != 2 or arr.shape[0] == 0:
        raise ValueError(f'{name} must be a non-empty (N, 2) array of (w, h) sizes, got shape '
                         f'{arr.shape}')
    if not np.isfinite(arr).all() or (arr <= 0).any():
        bad = arr[~(np.isfinite(arr).all(1) & (arr > 0).all(1))][:3].tolist()
        raise ValueError(f'{name} must hold finite positive sizes; got e.g. {bad}')
    return arr


def wh_iou(wh1, wh2) -> np.ndarray:
    """Shape IoU (boxes aligned at a common centre) of every pair: (N, 2) x (K, 2) -> (N, K), in
    float64 (:func:`zoo.structures.shape_iou` on numpy arrays).

    Raises:
        ValueError: not (N, 2)/(K, 2) arrays of finite positive sizes.
    """
    a, b = _check_wh(wh1, 'wh1'), _check_wh(wh2, 'wh2')
    return shape_iou(torch.from_numpy(a), torch.from_numpy(b)).numpy()


def anchor_stats(wh, anchors, thr: float = 0.5) -> tuple[float, float]:
    """``(mean IoU, best possible recall at thr)`` of boxes ``wh`` (N, 2) against anchors (K, 2)
    (definitions in the module docstring).

    Raises:
        ValueError: bad arrays; ``thr`` outside (0, 1].
    """
    if not 0 < thr <= 1:
        raise ValueError(f'the best-possible-recall threshold must be in (0, 1], got {thr!r}')
    best = wh_iou(wh, anchors).max(1)
    return float(best.mean()), float((best >= thr).mean())


@dataclass(frozen=True)
class AnchorFit:
    """The result of :func:`kmeans_anchors`.

    Attributes:
        anchors: float64 (k, 2) cluster centres (w, h) in pixels, sorted by area (w * h), then w.
        mean_iou: the Avg IOU of the boxes with their best anchor (YOLOv2 sec. "Dimension
            Clusters").
        bpr: best possible recall at ``bpr_thr`` (fraction of boxes in [0, 1]).
        bpr_thr: the IoU threshold of ``bpr``.
        assignments: int64 (N,) index into ``anchors`` of each box's cluster.
        iterations: Lloyd iterations run.
        num_boxes: N.
        seed: the seed of the fit.
    """

    anchors: np.ndarray
    mean_iou: float
    bpr: float
    bpr_thr: float
    assignments: np.ndarray
    iterations: int
    num_boxes: int
    seed: int

    def rounded(self) -> list[tuple[int, int]]:
        """The anchors as (w, h) ints (rounded half up, at least 1), in area order."""
        return [(max(1, int(w + 0.5)), max(1, int(h + 0.5))) for w, h in self.anchors]


def _kmeans_pp(wh: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """k-means++ seeding with the distance 1 - IoU: k distinct boxes as initial centroids."""
    n = wh.shape[0]
    idx = [int(rng.integers(n))]
    dist = 1.0 - wh_iou(wh, wh[idx])[:, 0]
    for _ in range(1, k):
        weights = dist ** 2
        total = weights.sum()
        if total <= 0:  # fewer distinct shapes than k: caught by the caller's check
            break
        nxt = int(rng.choice(n, p=weights / total))
        idx.append(nxt)
        dist = np.minimum(dist, 1.0 - wh_iou(wh, wh[nxt:nxt + 1])[:, 0])
    return wh[idx].copy()


def kmeans_anchors(wh, k: int = 9, seed: int = 0, max_iter: int = 300, thr: float = 0.5,
                   centroid: str = 'mean') -> AnchorFit:
    """Fit ``k`` anchors to box sizes ``wh`` by k-means with the distance ``1 - IoU``.

    Args:
        wh: (N, 2) box widths and heights in pixels (of the network input: scale the dataset's
            boxes as the training pipeline resizes them, see :mod:`zoo.anchors.boxes`).
        k: the number of anchors (YOLOv2: 5, YOLOv3: 9).
        seed: seed of the k-means++ seeding (:func:`numpy.random.default_rng`); the same seed and
            boxes give the same anchors.
        max_iter: at most this many Lloyd iterations.
        thr: IoU threshold of the best possible recall.
        centroid: ``'mean'`` (k-means proper) or ``'median'`` (more robust to outliers) of each
            cluster's widths and heights.

    Returns:
        :class:`AnchorFit`, anchors sorted by area.

    Raises:
        ValueError: ``wh`` not (N, 2) finite positive sizes; ``k`` not a positive int or more than
            the number of distinct box shapes; ``max_iter`` < 1; unknown ``centroid``; ``thr``
            outside (0, 1].
    """
    wh = _check_wh(wh, 'wh')
    if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or k < 1:
        raise ValueError(f'k must be a positive int, got {k!r}')
    distinct = np.unique(wh, axis=0).shape[0]
    if k > distinct:
        raise ValueError(f'k = {k} anchors, but the {wh.shape[0]} boxes have only {distinct} '
                         'distinct shapes')
    if not isinstance(max_iter, int) or max_iter < 1:
        raise ValueError(f'max_iter must be a positive int, got {max_iter!r}')
    if centroid not in ('mean', 'median'):
        raise ValueError(f"centroid must be 'mean' or 'median', got {centroid!r}")
    reduce = np.mean if centroid == 'mean' else np.median
    rng = np.random.default_rng(seed)
    centres = _kmeans_pp(wh, k, rng)
    assign = np.full(wh.shape[0], -1, dtype=np.int64)
    iterations = 0
    for iterations in range(1, max_iter + 1):  # noqa: B007  (read after the loop)
        iou = wh_iou(wh, centres)
        new = iou.argmax(1)
        empty = np.setdiff1d(np.arange(k), new)
        for c in empty:  # at most k re-seeds per iteration, not a loop over boxes
            far = int((1.0 - iou.max(1)).argmax())
            centres[c] = wh[far]
            iou = wh_iou(wh, centres)
            new = iou.argmax(1)
        if np.array_equal(new, assign):
            break
        assign = new
        counts = np.bincount(assign, minlength=k)
        for c in np.nonzero(counts)[0]:
            centres[c] = reduce(wh[assign == c], axis=0)
    order = np.lexsort((centres[:, 0], centres[:, 0] * centres[:, 1]))
    centres = centres[order]
    assign = wh_iou(wh, centres).argmax(1)
    mean_iou, bpr = anchor_stats(wh, centres, thr)
    return AnchorFit(centres, mean_iou, bpr, float(thr), assign, iterations, int(wh.shape[0]),
                     int(seed))


def split_by_area(anchors: Sequence[Sequence[float]], num_levels: int) -> list[list[tuple[int, int]]]:
    """Anchors (k, 2), sorted by area, into ``num_levels`` groups of ``k / num_levels``: the
    smallest to the finest level (YOLOv3 sec. 2.3: 3 clusters per scale).

    Raises:
        ValueError: ``k`` is not a multiple of ``num_levels``.
    """
    anchors = [(max(1, int(w + 0.5)), max(1, int(h + 0.5))) for w, h in anchors]
    anchors.sort(key=lambda a: (a[0] * a[1], a[0]))
    k = len(anchors)
    if num_levels < 1 or k % num_levels:
        raise ValueError(f'{k} anchors cannot be split evenly over {num_levels} feature levels '
                         '(every level needs the same number of anchors); choose k as a multiple')
    per = k // num_levels
    return [anchors[i * per:(i + 1) * per] for i in range(num_levels)]
