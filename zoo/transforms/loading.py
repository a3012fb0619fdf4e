"""Reading the image file named by a results dict."""
from __future__ import annotations

import os.path as osp

import torch
from torchvision import tv_tensors
from torchvision.io import ImageReadMode, decode_image, read_file
from torchvision.transforms.v2.functional import to_dtype

from registry import TRANSFORMS

from ..errors import DatasetError


@TRANSFORMS.register_module()
class LoadImageFromFile:
    """Decode ``results['img_path']`` into ``results['img']``: a uint8 RGB
    :class:`torchvision.tv_tensors.Image` of shape (3, H, W).

    The file is decoded by ``torchvision.io.decode_image`` (libjpeg / libpng) in RGB mode, so
    grey and RGBA files come out with three channels. Also sets ``img_shape`` = (H, W), and
    ``ori_shape`` = (H, W) and ``scale_factor`` = (1.0, 1.0) where absent.

    Args:
        apply_exif_orientation: rotate by the file's EXIF orientation tag (torchvision's
            default, off, is kept: annotation tools disagree about EXIF, and the size check
            below catches a 90-degree mismatch on non-square images).
        check_shape: when ``results`` already holds ``ori_shape`` (from the annotation), check
            the decoded image has that size.

    Raises:
        DatasetError: the file is missing, cannot be read or decoded, or its size differs from
            the annotation's (``check_shape``). The message names the file. A dataset built
            with ``skip_bad_samples=True`` skips such samples.
    """

    def __init__(self, apply_exif_orientation: bool = False, check_shape: bool = True):
        self.apply_exif_orientation = bool(apply_exif_orientation)
        self.check_shape = bool(check_shape)

    def __call__(self, results: dict) -> dict:
        path = results['img_path']
        if not osp.isfile(path):
            raise DatasetError(f'image file not found: {path}', path)
        try:
            img = decode_image(read_file(path), mode=ImageReadMode.RGB,
                               apply_exif_orientation=self.apply_exif_orientation)
        except (RuntimeError, ValueError, OSError) as err:
            raise DatasetError(f'cannot decode image {path}: {err}', path) from None
        h, w = int(img.shape[-2]), int(img.shape[-1])
        if self.check_shape and 'ori_shape' in results and tuple(results['ori_shape']) != (h, w):
            ah, aw = results['ori_shape']
            raise DatasetError(f'image {path} is {w}x{h} pixels (w x h) but its annotation says '
                               f'{aw}x{ah}', path)
        if img.dtype != torch.uint8:  # 16-bit PNG: rescale to 0..255
            img = to_dtype(img, torch.uint8, scale=True)
        results['img'] = tv_tensors.Image(img)
        results['img_shape'] = (h, w)
        results.setdefault('ori_shape', (h, w))
        results.setdefault('scale_factor', (1.0, 1.0))
        return results

    def __repr__(self) -> str:
        return (f'LoadImageFromFile(apply_exif_orientation={self.apply_exif_orientation}, '
                f'check_shape={self.check_shape})')
