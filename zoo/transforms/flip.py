"""Random horizontal (or vertical) flip of the image and its boxes."""
from __future__ import annotations

import torch
from torchvision.transforms.v2 import functional as F

from registry import TRANSFORMS
from registry.errors import ConfigError


@TRANSFORMS.register_module()
class RandomFlip:
    """Flip ``img``, ``gt_bboxes`` and ``proposals`` (when present, see ``LoadProposals``) with
    probability ``prob``.

    Uses ``torchvision.transforms.v2.functional.horizontal_flip`` (``vertical_flip``), which on
    xyxy boxes of an image ``w`` pixels wide maps ``x1 -> w - x2`` and ``x2 -> w - x1``: the
    continuous-pixel mirror, no "-1" (mmdet's ``bbox_flip`` without the legacy offset).
    Sets ``flip`` (bool) and ``flip_direction`` (``'horizontal'``/``'vertical'`` or None).
    The coin is ``torch.rand``, so ``torch.manual_seed`` (and mmengine's ``randomness.seed``,
    which seeds DataLoader workers) makes runs repeatable.

    Args:
        prob: probability of flipping, in [0, 1].
        direction: ``'horizontal'`` (the paper's only augmentation) or ``'vertical'``.

    Raises:
        ConfigError: ``prob`` outside [0, 1]; unknown ``direction``.
    """

    def __init__(self, prob: float = 0.5, direction: str = 'horizontal'):
        if not 0.0 <= float(prob) <= 1.0:
            raise ConfigError(f'RandomFlip: `prob` must be in [0, 1], got {prob!r}')
        if direction not in ('horizontal', 'vertical'):
            raise ConfigError(f"RandomFlip: `direction` must be 'horizontal' or 'vertical', got "
                              f'{direction!r}')
        self.prob, self.direction = float(prob), direction

    def __call__(self, results: dict) -> dict:
        flip = self.prob > 0 and (self.prob >= 1 or torch.rand(()).item() < self.prob)
        if flip:
            fn = F.horizontal_flip if self.direction == 'horizontal' else F.vertical_flip
            results['img'] = fn(results['img'])
            for key in ('gt_bboxes', 'proposals'):
                if results.get(key) is not None:
                    results[key] = fn(results[key])
        results['flip'] = bool(flip)
        results['flip_direction'] = self.direction if flip else None
        return results

    def __repr__(self) -> str:
        return f'RandomFlip(prob={self.prob}, direction={self.direction!r})'
