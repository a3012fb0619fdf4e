"""Removing boxes that transforms made degenerate, with their labels and ignore flags."""
from __future__ import annotations

from numbers import Real

from torchvision.transforms import v2

from registry import TRANSFORMS
from registry.errors import ConfigError


def _labels_and_flags(inputs: dict) -> tuple:
    """What ``v2.SanitizeBoundingBoxes`` must filter together with the boxes."""
    return inputs['gt_labels'], inputs['gt_ignore_flags']


@TRANSFORMS.register_module()
class SanitizeBoxes:
    """Drop boxes narrower or shorter than ``min_size`` pixels, or reaching outside the image,
    keeping ``gt_labels`` and ``gt_ignore_flags`` aligned (``v2.SanitizeBoundingBoxes``).

    Only ``gt_bboxes``, ``gt_labels`` and ``gt_ignore_flags`` change; ``instances`` (the
    original-image ground truth the metrics use) stays whole. Place it after the transforms that
    move boxes (crops, resizes that make small boxes tiny).

    Args:
        min_size: minimum width and height in pixels of the current image, at least 1
            (torchvision's lower bound).

    Raises:
        ConfigError: ``min_size`` below 1.
    """

    def __init__(self, min_size: float = 1):
        if not isinstance(min_size, Real) or min_size < 1:
            raise ConfigError(f'SanitizeBoxes: `min_size` must be a number >= 1 (pixels), got '
                              f'{min_size!r}')
        self.min_size = float(min_size)
        self._sanitize = v2.SanitizeBoundingBoxes(min_size=self.min_size, min_area=1.0,
                                                  labels_getter=_labels_and_flags)

    def __call__(self, results: dict) -> dict:
        if results.get('gt_bboxes') is None:
            return results
        out = self._sanitize({k: results[k] for k in ('gt_bboxes', 'gt_labels',
                                                      'gt_ignore_flags')})
        results.update(out)
        return results

    def __repr__(self) -> str:
        return f'SanitizeBoxes(min_size={self.min_size})'
