"""Do two detectors give the same detections? The check run before any timing, and the
agreement within a tolerance of mixed precision (:func:`match_detections`).

"The same" is: per image, the same number of detections, and each detection of one has a
partner in the other with the same class, a box within ``box_atol`` pixels (every coordinate)
and a score within ``score_atol``. Bitwise equality is not asked for: a different but
equivalent order of floating-point operations (a channels-last convolution, batch norm folded
into the convolution's weights) moves values by about 1e-6 relative, far below the
tolerances, and may swap two detections whose scores are equal to the last digits, which is
why partners are looked up rather than compared position by position (the number of such
swaps is reported).

Under mixed precision (bfloat16 on the CPU) that check cannot pass: bfloat16 keeps 8 bits of
mantissa, so features, scores and boxes move by about 1e-2 relative, and detections near the
score threshold or the NMS overlap come and go. :func:`match_detections` measures agreement
instead: the share of detections matched one to one (greedy, by decreasing score) to a partner
with the same label, an IoU of at least 0.9 and a score within 0.05.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Sequence

import torch
from torch import Tensor


@dataclass
class Agreement:
    """Result of :func:`compare_detections`.

    Attributes:
        ok: every image agrees.
        images: number of images compared; detections: detections of the reference, in all.
        max_box_diff: the largest coordinate difference in pixels over matched detections.
        max_score_diff: the largest score difference.
        reordered: detections whose partner is at another position (near-equal scores).
        problems: one line per disagreeing image, naming it and what differs.
    """
    ok: bool
    images: int
    detections: int
    max_box_diff: float
    max_score_diff: float
    reordered: int = 0
    problems: list = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


def compare_detections(reference: Sequence[dict], candidate: Sequence[dict],
                       box_atol: float = 0.01, score_atol: float = 1e-4,
                       names: Sequence[str] | None = None) -> Agreement:
    """Compare per-image detections ``dict(boxes (N, 4), scores (N,), labels (N,))``.

    Args:
        reference, candidate: one dict per image, in the same image order; boxes xyxy in the
            same pixels, labels in the same numbering (map them before calling).
        box_atol: largest accepted coordinate difference in pixels.
        score_atol: largest accepted score difference.
        names: image names used in :attr:`Agreement.problems` (default: indices).

    Raises:
        ValueError: the two lists differ in length.
    """
    if len(reference) != len(candidate):
        raise ValueError(f'compare_detections: {len(reference)} reference images against '
                         f'{len(candidate)} candidate images')
    names = list(names) if names is not None else [str(i) for i in range(len(reference))]
    problems, box_diff, score_diff, count, swaps = [], 0.0, 0.0, 0, 0
    for name, ref, cand in zip(names, reference, candidate):
        rb, rs, rl = (_cpu(ref[k]) for k in ('boxes', 'scores', 'labels'))
        cb, cs, cl = (_cpu(cand[k]) for k in ('boxes', 'scores', 'labels'))
        count += rb.shape[0]
        if rb.shape[0] != cb.shape[0]:
            problems.append(f'image {name}: {rb.shape[0]} detections against {cb.shape[0]}')
            continue
        if rb.numel() == 0:
            continue
        # partners: same class, every coordinate within box_atol, score within score_atol;
        # greedy in the reference's order, the nearest free candidate first
        dist = (rb[:, None, :].double() - cb[None, :, :].double()).abs().amax(-1)  # (N, N)
        sdist = (rs[:, None].double() - cs[None, :].double()).abs()
        fits = ((rl.long()[:, None] == cl.long()[None, :]) & (dist <= box_atol)
                & (sdist <= score_atol))
        dist = dist.masked_fill(~fits, float('inf'))
        taken = torch.zeros(cb.shape[0], dtype=torch.bool)
        unmatched = []
        for i in range(rb.shape[0]):
            row = dist[i].masked_fill(taken, float('inf'))
            j = int(row.argmin())
            if not torch.isfinite(row[j]):
                unmatched.append(i)
                continue
            taken[j] = True
            swaps += int(j != i)
            box_diff = max(box_diff, float(dist[i, j]))
            score_diff = max(score_diff, float(sdist[i, j]))
        if unmatched:
            i = unmatched[0]
            near = int((rb[i][None].double() - cb.double()).abs().amax(-1).argmin())
            problems.append(
                f'image {name}: {len(unmatched)} of {rb.shape[0]} detections have no partner, '
                f'e.g. #{i} (class {int(rl[i])}, score {float(rs[i]):.6f}, box '
                f'{[round(v, 3) for v in rb[i].tolist()]}); nearest: class {int(cl[near])}, '
                f'score {float(cs[near]):.6f}, box {[round(v, 3) for v in cb[near].tolist()]}')
    return Agreement(ok=not problems, images=len(reference), detections=count,
                     max_box_diff=box_diff, max_score_diff=score_diff, reordered=swaps,
                     problems=problems)


def _cpu(t) -> Tensor:
    return t.detach().float().cpu() if t.is_floating_point() else t.detach().cpu()


# --- agreement within a tolerance (mixed precision) -------------------------------------------
#: the tolerance of :func:`match_detections` used by ``benchmarks/vs_torchvision.py --amp``
MATCH_IOU = 0.9
MATCH_SCORE_ATOL = 0.05


@dataclass
class Matching:
    """Result of :func:`match_detections`.

    Attributes:
        iou_thr, score_atol: the tolerance the pairs were matched within.
        images: images compared.
        reference, candidate: detections of each side, in all.
        matched: one-to-one pairs found, in all.
        share: ``matched / sum over images of max(reference_i, candidate_i)``: the share of
            detections matched, counted on the side with more detections in each image, so it
            is below 1 when either side has a detection without a partner (1.0 when there are
            no detections at all).
        per_image: ``[matched_i, reference_i, candidate_i]`` per image.
    """
    iou_thr: float
    score_atol: float
    images: int
    reference: int
    candidate: int
    matched: int
    share: float
    per_image: list = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


def box_iou_xyxy(a: Tensor, b: Tensor) -> Tensor:
    """Pairwise IoU of xyxy boxes ``a`` (N, 4) and ``b`` (M, 4) in float64: (N, M).
    A pair of boxes without area has IoU 0 (no division by zero)."""
    a, b = a.double(), b.double()
    area_a = (a[:, 2] - a[:, 0]).clamp(min=0) * (a[:, 3] - a[:, 1]).clamp(min=0)
    area_b = (b[:, 2] - b[:, 0]).clamp(min=0) * (b[:, 3] - b[:, 1]).clamp(min=0)
    lt = torch.maximum(a[:, None, :2], b[None, :, :2])
    rb = torch.minimum(a[:, None, 2:], b[None, :, 2:])
    wh = (rb - lt).clamp(min=0)
    inter = wh[..., 0] * wh[..., 1]
    union = area_a[:, None] + area_b[None, :] - inter
    return torch.where(union > 0, inter / union.clamp(min=1e-12), torch.zeros_like(inter))


def match_pairs(reference: dict, candidate: dict, iou_thr: float = MATCH_IOU,
                score_atol: float = MATCH_SCORE_ATOL) -> list[tuple[int, int]]:
    """Greedy one-to-one matching of one image's detections.

    A reference detection and a candidate detection may pair when they have the same label,
    an IoU >= ``iou_thr`` and scores within ``score_atol``. The reference detections are taken
    by decreasing score (ties: the earlier first); each takes, among the candidates still free
    that it may pair with, the one of highest IoU (ties: the earlier), as COCO evaluation
    matches detections to ground truth. A candidate is used at most once.

    Args:
        reference, candidate: ``dict(boxes (N, 4) xyxy pixels, scores (N,), labels (N,))``.

    Returns:
        The pairs ``(reference index, candidate index)``, in the order they were made.
    """
    rb, rs, rl = (_cpu(reference[k]) for k in ('boxes', 'scores', 'labels'))
    cb, cs, cl = (_cpu(candidate[k]) for k in ('boxes', 'scores', 'labels'))
    if rb.shape[0] == 0 or cb.shape[0] == 0:
        return []
    iou = box_iou_xyxy(rb.reshape(-1, 4), cb.reshape(-1, 4))
    fits = ((rl.long()[:, None] == cl.long()[None, :]) & (iou >= iou_thr)
            & ((rs.double()[:, None] - cs.double()[None, :]).abs() <= score_atol))
    iou = iou.masked_fill(~fits, -1.0)
    taken = torch.zeros(cb.shape[0], dtype=torch.bool)
    pairs = []
    for i in torch.sort(rs.double(), descending=True, stable=True).indices.tolist():
        row = iou[i].masked_fill(taken, -1.0)
        j = int(row.argmax())
        if row[j] < 0:
            continue
        taken[j] = True
        pairs.append((i, j))
    return pairs


def match_detections(reference: Sequence[dict], candidate: Sequence[dict],
                     iou_thr: float = MATCH_IOU, score_atol: float = MATCH_SCORE_ATOL
                     ) -> Matching:
    """Agreement of two detectors whose outputs cannot be bitwise equal (bfloat16 against
    float32, or two implementations both in bfloat16): the share of detections matched
    one to one within a tolerance (:func:`match_pairs`, per image; defaults: same label,
    IoU >= 0.9, scores within 0.05).

    Args:
        reference, candidate: one dict per image, in the same image order, as for
            :func:`compare_detections` (boxes xyxy in the same pixels, the same label numbering).
        iou_thr: in (0, 1]. score_atol: >= 0.

    Raises:
        ValueError: the lists differ in length, or a tolerance is out of range.
    """
    if len(reference) != len(candidate):
        raise ValueError(f'match_detections: {len(reference)} reference images against '
                         f'{len(candidate)} candidate images')
    if not 0 < iou_thr <= 1 or score_atol < 0:
        raise ValueError(f'match_detections: iou_thr must be in (0, 1] and score_atol >= 0, '
                         f'got iou_thr={iou_thr}, score_atol={score_atol}')
    per_image = []
    for ref, cand in zip(reference, candidate):
        pairs = match_pairs(ref, cand, iou_thr, score_atol)
        per_image.append([len(pairs), int(ref['boxes'].shape[0]), int(cand['boxes'].shape[0])])
    matched = sum(p[0] for p in per_image)
    larger = sum(max(p[1], p[2]) for p in per_image)
    return Matching(iou_thr=float(iou_thr), score_atol=float(score_atol), images=len(reference),
                    reference=sum(p[1] for p in per_image),
                    candidate=sum(p[2] for p in per_image), matched=matched,
                    share=matched / larger if larger else 1.0, per_image=per_image)
