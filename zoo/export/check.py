"""Do an exported model and the PyTorch model find the same objects? The check run by
``zoo export`` before it writes the file.

"The same" (:func:`match_detections`): every detection of one list that scores above the
floor has a partner in the other list with the same class, a box overlapping it with IoU
>= ``min_iou`` and a score within ``score_atol``. The floor is the score threshold plus
``score_atol``; where a list holds ``max_per_img`` detections (it was cut there), the floor
is also at least the lowest score of the cut list plus ``score_atol``, since two detections
scoring within rounding of the cut may be on either side of it in the two runtimes.
Detections within ``score_atol`` of the floor may be missing from the other list.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np
import torch
from torch import Tensor

#: the default tolerances of the check (docs/export.md, "Tolerance")
MIN_IOU = 0.99
SCORE_ATOL = 1e-3
SCORE_THR = 0.05


@dataclass
class Match:
    """Result of :func:`match_detections` for one image (or, merged, for several).

    Attributes:
        ok: every detection above the floor has its partner.
        checked: detections above the floor, both lists together.
        min_iou: the smallest IoU of a matched pair (1.0 when nothing was matched).
        max_score_diff: the largest score difference of a matched pair.
        max_box_diff: the largest difference of a box coordinate of a matched pair (pixels).
        problems: one line per detection without partner.
    """
    ok: bool = True
    checked: int = 0
    min_iou: float = 1.0
    max_score_diff: float = 0.0
    max_box_diff: float = 0.0
    problems: list = field(default_factory=list)

    def merge(self, other: 'Match', name: str) -> None:
        self.ok &= other.ok
        self.checked += other.checked
        self.min_iou = min(self.min_iou, other.min_iou)
        self.max_score_diff = max(self.max_score_diff, other.max_score_diff)
        self.max_box_diff = max(self.max_box_diff, other.max_box_diff)
        self.problems += [f'{name}: {p}' for p in other.problems]


def _as_tensors(dets: dict) -> tuple[Tensor, Tensor, Tensor]:
    return tuple(torch.as_tensor(np.asarray(dets[k]) if not isinstance(dets[k], Tensor)
                                 else dets[k]).detach().cpu()
                 for k in ('boxes', 'scores', 'labels'))


def match_detections(reference: dict, candidate: dict, score_thr: float = SCORE_THR,
                     min_iou: float = MIN_IOU, score_atol: float = SCORE_ATOL,
                     max_per_img: Optional[int] = None) -> Match:
    """Compare the detections of one image (see the module docstring).

    Args:
        reference, candidate: ``dict(boxes (N, 4) xyxy pixels, scores (N,), labels (N,))``,
            tensors or numpy arrays.
        score_thr: detections scoring at most this are not compared.
        min_iou: the smallest IoU of partners; score_atol: their largest score difference.
        max_per_img: the detector's cap on detections per image (None: no cap).
    """
    from torchvision.ops import box_iou

    rb, rs, rl = _as_tensors(reference)
    cb, cs, cl = _as_tensors(candidate)
    floor = score_thr
    for scores in (rs, cs):
        if max_per_img is not None and scores.numel() >= max_per_img:
            floor = max(floor, float(scores.min()))
    floor += score_atol
    result = Match()
    iou = box_iou(rb.double(), cb.double()) if rb.numel() and cb.numel() else \
        torch.zeros(rb.shape[0], cb.shape[0], dtype=torch.float64)
    sdiff = (rs.double()[:, None] - cs.double()[None, :]).abs()
    fits = (rl.long()[:, None] == cl.long()[None, :]) & (iou >= min_iou) & (sdiff <= score_atol)
    for side, (scores, labels, boxes, fit) in enumerate(((rs, rl, rb, fits), (cs, cl, cb, fits.t()))):
        others = ('the ONNX model', 'PyTorch')[side]
        own = ('PyTorch', 'the ONNX model')[side]
        pair_iou = iou if side == 0 else iou.t()
        pair_sdiff = sdiff if side == 0 else sdiff.t()
        for i in (scores > floor).nonzero().flatten().tolist():
            result.checked += 1
            partners = fit[i].nonzero().flatten()
            if partners.numel() == 0:
                result.ok = False
                best = float(pair_iou[i].max()) if pair_iou.shape[1] else 0.0
                result.problems.append(
                    f'{own} finds class {int(labels[i])} at {[round(v, 1) for v in boxes[i].tolist()]} '
                    f'(score {float(scores[i]):.4f}), {others} does not (best IoU {best:.3f})')
                continue
            j = partners[pair_sdiff[i, partners].argmin()]
            result.min_iou = min(result.min_iou, float(pair_iou[i, j]))
            result.max_score_diff = max(result.max_score_diff, float(pair_sdiff[i, j]))
            other_boxes = cb if side == 0 else rb
            result.max_box_diff = max(result.max_box_diff,
                                      float((boxes[i].double() - other_boxes[j].double()).abs().max()))
    return result
