"""Do two detectors give the same detections? The check run before any timing.

"The same" is: per image, the same number of detections, and each detection of one has a
partner in the other with the same class, a box within ``box_atol`` pixels (every coordinate)
and a score within ``score_atol``. Bitwise equality is not asked for: a different but
equivalent order of floating-point operations (a channels-last convolution, batch norm folded
into the convolution's weights) moves values by about 1e-6 relative, far below the
tolerances, and may swap two detections whose scores are equal to the last digits, which is
why partners are looked up rather than compared position by position (the number of such
swaps is reported).
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
