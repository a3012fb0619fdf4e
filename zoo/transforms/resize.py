"""Resizing the image and its boxes (mmdet's ``Resize`` semantics, torchvision's kernels)."""
from __future__ import annotations

from numbers import Real
from typing import Optional, Sequence, Union

from torchvision.transforms import InterpolationMode
from torchvision.transforms.v2 import functional as F

from registry import TRANSFORMS
from registry.errors import ConfigError

#: the default ``scale``; compared by identity so that ``Resize(scale_factor=2.0)`` means a factor
_DEFAULT_SCALE = (1000, 600)


def rescale_size(old_hw: tuple[int, int], scale: Sequence[int]) -> tuple[int, int]:
    """(h, w) after a ratio-keeping resize into ``scale`` = (long_max, short_max), in any order.

    The factor is ``min(max(scale) / long side, min(scale) / short side)``: the short side
    becomes ``min(scale)`` unless the long side would then exceed ``max(scale)``
    (py-faster-rcnn's rule for ``SCALES=(600,)``, ``MAX_SIZE=1000``; mmcv's ``rescale_size``).
    Sizes round half up: ``int(w * factor + 0.5)``, as mmcv does.
    """
    h, w = old_hw
    factor = min(max(scale) / max(h, w), min(scale) / min(h, w))
    return int(h * factor + 0.5), int(w * factor + 0.5)


@TRANSFORMS.register_module()
class Resize:
    """Resize ``img``, ``gt_bboxes`` and ``proposals`` (when present, see ``LoadProposals``) and
    record the new shape.

    Exactly one of ``scale`` and ``scale_factor`` is given:

    * ``scale`` with ``keep_ratio=True`` (default ``(1000, 600)``): the short side becomes
      ``min(scale)`` pixels unless the long side would exceed ``max(scale)`` (see
      :func:`rescale_size`). A 640x480 BCCD image becomes 800x600 (factor 1.25).
    * ``scale=(w, h)`` with ``keep_ratio=False``: exactly that size (mmdet's (w, h) order).
    * ``scale_factor=f`` (float, or ``(fw, fh)``): ``w' = int(w * fw + 0.5)``, likewise h.

    Sets ``img_shape`` = (h', w') and ``scale_factor`` = (w' / ori_w, h' / ori_h), the total
    factor from the original image, so boxes in resized pixels divide by it to return to
    original pixels (the DetDataSample contract). Boxes are scaled by
    ``torchvision.transforms.v2.functional.resize``: x by w'/w and y by h'/h, no "+1".

    Image interpolation is bilinear by default with ``antialias=True`` (torchvision's v2
    default): upsampling is unaffected; downsampling then matches PIL and avoids aliasing, where
    mmdet (cv2) and torchvision's ``GeneralizedRCNNTransform`` (``F.interpolate``) use plain
    bilinear. The image stays uint8.

    Args:
        scale: target (long_max, short_max) with ``keep_ratio``, else (w, h); pixels.
        scale_factor: a float or (fw, fh); used when ``scale`` is None.
        keep_ratio: keep the aspect ratio (only with ``scale``).
        interpolation: ``'bilinear'``, ``'nearest'`` or ``'bicubic'``.
        antialias: passed to torchvision for the image.

    Raises:
        ConfigError: neither or both of ``scale`` and ``scale_factor``; a non-positive or
            malformed size or factor; an unknown interpolation.
    """

    def __init__(self,
                 scale: Optional[Sequence[int]] = _DEFAULT_SCALE,
                 scale_factor: Optional[Union[float, Sequence[float]]] = None,
                 keep_ratio: bool = True,
                 interpolation: str = 'bilinear',
                 antialias: bool = True):
        if scale_factor is not None and scale is _DEFAULT_SCALE:
            scale = None  # only a factor was given
        if (scale is None) == (scale_factor is None):
            raise ConfigError(f'Resize: give exactly one of `scale` and `scale_factor`, got '
                              f'scale={scale!r}, scale_factor={scale_factor!r}')
        if scale is not None:
            if (isinstance(scale, (str, bytes)) or not isinstance(scale, Sequence)
                    or len(scale) != 2 or not all(isinstance(v, Real) and v > 0 for v in scale)):
                raise ConfigError(f'Resize: `scale` must be two positive sizes in pixels, got '
                                  f'{scale!r}')
            scale = (int(scale[0]), int(scale[1]))
        if scale_factor is not None:
            fw, fh = (scale_factor, scale_factor) if isinstance(scale_factor, Real) else (
                tuple(scale_factor) if isinstance(scale_factor, Sequence)
                and len(scale_factor) == 2 else (None, None))
            if not all(isinstance(v, Real) and v > 0 for v in (fw, fh)):
                raise ConfigError(f'Resize: `scale_factor` must be a positive number or a '
                                  f'(w, h) pair of them, got {scale_factor!r}')
            scale_factor = (float(fw), float(fh))
        try:
            self._mode = InterpolationMode(interpolation)
        except ValueError:
            raise ConfigError(f'Resize: unknown interpolation {interpolation!r}; use bilinear, '
                              f'nearest or bicubic') from None
        self.scale, self.scale_factor = scale, scale_factor
        self.keep_ratio, self.interpolation, self.antialias = bool(keep_ratio), interpolation, \
            bool(antialias)

    def target_size(self, hw: tuple[int, int]) -> tuple[int, int]:
        """The (h, w) an image of (h, w) = ``hw`` is resized to."""
        h, w = hw
        if self.scale is not None:
            if self.keep_ratio:
                return rescale_size(hw, self.scale)
            return self.scale[1], self.scale[0]
        fw, fh = self.scale_factor
        return max(1, int(h * fh + 0.5)), max(1, int(w * fw + 0.5))

    def __call__(self, results: dict) -> dict:
        img = results['img']
        new_h, new_w = self.target_size((int(img.shape[-2]), int(img.shape[-1])))
        results['img'] = F.resize(img, [new_h, new_w], interpolation=self._mode,
                                  antialias=self.antialias)
        for key in ('gt_bboxes', 'proposals'):
            if results.get(key) is not None:
                results[key] = F.resize(results[key], [new_h, new_w])
        ori_h, ori_w = results.get('ori_shape', img.shape[-2:])
        results['img_shape'] = (new_h, new_w)
        results['scale_factor'] = (new_w / ori_w, new_h / ori_h)
        return results

    def __repr__(self) -> str:
        what = (f'scale={self.scale}, keep_ratio={self.keep_ratio}' if self.scale is not None
                else f'scale_factor={self.scale_factor}')
        return f'Resize({what}, interpolation={self.interpolation!r}, antialias={self.antialias})'
