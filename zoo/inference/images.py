"""The images a :class:`~zoo.inference.Detector` accepts, turned into what the test pipeline's
first step (``LoadImageFromFile``) would make of them.

An input is a path (an image file, or a folder: its ``.jpg``/``.jpeg``/``.png``/``.bmp`` files,
sorted by name), a numpy array (H, W, 3) or (H, W) uint8, a PIL image, or a tensor (3, H, W)
(uint8, or float in [0, 1] as torchvision's transforms make it). Every in-memory image becomes
a uint8 RGB tensor (3, H, W) and the results keys ``LoadImageFromFile`` sets (``img``,
``img_shape``, ``ori_shape``, ``scale_factor``); the rest of the test pipeline runs on it
unchanged, as mmdet's ``DetInferencer`` does with ``LoadImageFromNDArray``.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Optional

import numpy as np
import torch

IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp')
CHANNEL_ORDERS = ('rgb', 'bgr')

__all__ = ['IMAGE_EXTENSIONS', 'InputImage', 'collect_images', 'expand_inputs', 'loaded_results',
           'to_rgb_tensor']


@dataclass
class InputImage:
    """One image to detect in: a file (``path``) or an in-memory image (``image``, a uint8 RGB
    tensor (3, H, W)); ``index`` is its position among the inputs of one call."""
    index: int
    path: Optional[str] = None
    image: Optional[torch.Tensor] = None


def collect_images(items: list[str]) -> list[str]:
    """The image files named by ``items``: a file as given, a folder as its image files
    (:data:`IMAGE_EXTENSIONS`, case-insensitive, sorted; sub-folders are not searched, and a
    folder named like an image is skipped).

    Raises:
        FileNotFoundError: an item is neither a file nor a folder (the item is named).
        ValueError: no image at all (the items are named).
    """
    paths = []
    for item in items:
        item = os.fspath(item)
        if os.path.isdir(item):
            paths += sorted(os.path.join(item, f) for f in os.listdir(item)
                            if f.lower().endswith(IMAGE_EXTENSIONS)
                            and os.path.isfile(os.path.join(item, f)))
        elif os.path.isfile(item):
            paths.append(item)
        else:
            raise FileNotFoundError(f'input {item!r} is neither an image file nor a folder')
    if not paths:
        raise ValueError(f'no image found in {[os.fspath(i) for i in items]} (image files end in '
                         f'{", ".join(IMAGE_EXTENSIONS)})')
    return paths


def to_rgb_tensor(image: Any, channel_order: str = 'rgb') -> torch.Tensor:
    """An in-memory image as a uint8 RGB tensor (3, H, W) on the CPU.

    Args:
        image: numpy array (H, W, 3) or grey (H, W), uint8; a PIL image (any mode, converted
            to RGB; ``channel_order`` does not apply); or a tensor (3, H, W), uint8 or float
            in [0, 1].
        channel_order: ``'rgb'`` or ``'bgr'`` (OpenCV's ``cv2.imread``): the order of the
            channels of a numpy array or tensor.

    Raises:
        ValueError: a wrong shape, dtype or value range, or an unknown ``channel_order``.
        TypeError: none of these kinds.
    """
    from PIL import Image
    if channel_order not in CHANNEL_ORDERS:
        raise ValueError(f'channel_order must be one of {CHANNEL_ORDERS}, got {channel_order!r}')
    if isinstance(image, Image.Image):
        return torch.from_numpy(np.array(image.convert('RGB'))).permute(2, 0, 1).contiguous()
    if isinstance(image, np.ndarray):
        if image.dtype != np.uint8:
            raise ValueError(f'a numpy image must be uint8 (H, W, 3), got dtype {image.dtype}')
        if image.ndim == 2:
            image = np.repeat(image[:, :, None], 3, axis=2)
        if image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f'a numpy image must be (H, W, 3) (height, width, channels) or grey '
                             f'(H, W), got shape {image.shape}')
        tensor = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)
    elif isinstance(image, torch.Tensor):
        if image.dim() != 3 or image.shape[0] != 3:
            raise ValueError(f'an image tensor must be (3, H, W) (channels first), got shape '
                             f'{tuple(image.shape)}')
        tensor = image.detach().cpu()
        if tensor.is_floating_point():
            if tensor.numel() and (tensor.min() < 0 or tensor.max() > 1):
                raise ValueError('a float image tensor must hold values in [0, 1] (torchvision\'s '
                                 f'convention), got [{float(tensor.min())}, {float(tensor.max())}]')
            tensor = (tensor * 255).round().to(torch.uint8)
        elif tensor.dtype != torch.uint8:
            raise ValueError(f'an image tensor must be uint8 or float in [0, 1], got {tensor.dtype}')
    else:
        raise TypeError(f'cannot detect in a {type(image).__name__}: expected a path, a numpy '
                        'array (H, W, 3), a PIL image or a tensor (3, H, W)')
    if channel_order == 'bgr':
        tensor = tensor.flip(0)
    if min(tensor.shape[1:]) == 0:
        raise ValueError(f'the image is empty: shape (3, {tensor.shape[1]}, {tensor.shape[2]})')
    return tensor.contiguous()


def expand_inputs(inputs: Any, channel_order: str = 'rgb') -> tuple[list[InputImage], bool]:
    """The images of one call, and whether ``inputs`` was a single image (a folder counts as
    several).

    Raises:
        FileNotFoundError, ValueError, TypeError: see :func:`collect_images` and
            :func:`to_rgb_tensor`; an empty list is a ValueError.
    """
    single = not isinstance(inputs, (list, tuple))
    items = [inputs] if single else list(inputs)
    if not items:
        raise ValueError('no image given (an empty list)')
    images: list[InputImage] = []
    for item in items:
        if isinstance(item, (str, os.PathLike)):
            if os.path.isdir(item):
                single = False
            for path in collect_images([item]):
                images.append(InputImage(len(images), path=path))
        else:
            images.append(InputImage(len(images), image=to_rgb_tensor(item, channel_order)))
    return images, single


def loaded_results(image: InputImage) -> dict:
    """The results dict of an in-memory image, as ``LoadImageFromFile`` leaves it."""
    from torchvision import tv_tensors
    h, w = int(image.image.shape[1]), int(image.image.shape[2])
    return dict(img=tv_tensors.Image(image.image), img_shape=(h, w), ori_shape=(h, w),
                scale_factor=(1.0, 1.0), img_id=image.index)

