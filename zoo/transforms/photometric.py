"""Random photometric distortion: brightness, contrast, saturation and hue jitter."""
from __future__ import annotations

from numbers import Real

import torch
from torchvision.transforms import v2

from registry import TRANSFORMS
from registry.errors import ConfigError


@TRANSFORMS.register_module()
class PhotoMetricDistortion:
    """mmdet's ``PhotoMetricDistortion`` on torchvision's ``v2.ColorJitter``.

    Each of the four distortions is applied with probability ``prob`` (mmdet: 0.5), in a random
    order, each by its own one-factor ``v2.ColorJitter``. Only ``img`` changes; boxes do not.
    The defaults follow mmdet's, converted to ColorJitter's parameters:

    * ``brightness=0.125``: factor in [0.875, 1.125]. mmdet adds a shift in [-32, 32] grey
      levels; ColorJitter multiplies, and 0.125 = 32 / 255 gives the same shift at full white
      (half of it at mid grey).
    * ``contrast=0.5``: factor in [0.5, 1.5] (mmdet's ``contrast_range``); ColorJitter blends
      with the mean grey level where mmdet scales the pixel values.
    * ``saturation=0.5``: factor in [0.5, 1.5] (mmdet's ``saturation_range``).
    * ``hue=0.05``: shift in [-0.05, 0.05] of the hue circle = mmdet's ``hue_delta=18`` degrees.

    mmdet's eighth step, a random permutation of the colour channels, is left out (it makes
    little sense for RGB microscope images and is ``v2.RandomChannelPermutation`` if wanted).
    Randomness comes from ``torch``'s generator (seeded by ``torch.manual_seed``).

    Cost: torchvision's hue shift goes through HSV in float and takes about 90 ms for a 600x800
    image on one CPU core (the other three about 15 ms each). Place the transform before
    ``Resize`` when images grow (BCCD: 480x640 instead of 600x800 pixels), use DataLoader
    workers, or set ``hue=0``.

    Args:
        brightness, contrast, saturation: ColorJitter ranges (non-negative); 0 turns one off.
        hue: in [0, 0.5]; 0 turns it off.
        prob: probability of applying each distortion, in [0, 1].

    Raises:
        ConfigError: a parameter out of its range.
    """

    def __init__(self, brightness: float = 0.125, contrast: float = 0.5,
                 saturation: float = 0.5, hue: float = 0.05, prob: float = 0.5):
        params = dict(brightness=brightness, contrast=contrast, saturation=saturation, hue=hue)
        for name, value in params.items():
            top = 0.5 if name == 'hue' else float('inf')
            if not isinstance(value, Real) or not 0 <= value <= top:
                raise ConfigError(f'PhotoMetricDistortion: `{name}` must be a number in '
                                  f'[0, {top}], got {value!r}')
        if not isinstance(prob, Real) or not 0 <= prob <= 1:
            raise ConfigError(f'PhotoMetricDistortion: `prob` must be in [0, 1], got {prob!r}')
        self.params, self.prob = {k: float(v) for k, v in params.items()}, float(prob)
        self.jitters = [v2.ColorJitter(**{k: v}) for k, v in self.params.items() if v > 0]

    def __call__(self, results: dict) -> dict:
        img = results['img']
        for k in torch.randperm(len(self.jitters)).tolist():
            if torch.rand(()).item() < self.prob:
                img = self.jitters[k](img)
        results['img'] = img
        return results

    def __repr__(self) -> str:
        args = ', '.join(f'{k}={v}' for k, v in self.params.items())
        return f'PhotoMetricDistortion({args}, prob={self.prob})'
