"""The batch transform on the model's device: normalize, pad and stack the images."""
from __future__ import annotations

import math
from typing import Optional, Sequence

import torch
from mmengine.model import BaseDataPreprocessor
from torch import Tensor

from registry import TRANSFORMS, build
from registry.errors import ConfigError


@TRANSFORMS.register_module()
class DetDataPreprocessor(BaseDataPreprocessor):
    """Turn a collated batch into the model's ``inputs`` tensor (mmdet's ``DetDataPreprocessor``).

    Per image, on the preprocessor's device: ``(img.float() - mean) / std`` on the 0..255 scale,
    then all images are copied into one tensor padded at the bottom and right to the largest
    height and width rounded up to a multiple of ``pad_size_divisor``; the padding holds
    ``pad_value`` *after* normalization (0 by default: exactly torchvision's
    ``GeneralizedRCNNTransform.batch_images``). With ``mean = 255 * (0.485, 0.456, 0.406)`` and
    ``std = 255 * (0.229, 0.224, 0.225)`` the result equals torchvision's
    ``normalize(img / 255)`` followed by ``batch_images(size_divisible=32)``.

    Args:
        mean: per-channel mean, RGB, 0..255 scale (default: ImageNet's, as in mmdet). None
            together with ``std=None`` skips normalization (images only become float).
        std: per-channel standard deviation, RGB, 0..255 scale.
        pad_size_divisor: the padded height and width are multiples of it (the largest feature
            stride of the model; 32 for FPN up to P5 and for VGG16/ZF conv5 stride 16 too).
        pad_value: value of the padded pixels, in normalized units.
        non_blocking: passed to ``tensor.to`` when moving the batch to the device.
        channels_last: make the batch in channels-last memory format (same shape and values);
            a detector built with ``channels_last=True`` turns it on, so that its input needs
            no second, reordered copy.
        batch_augments: transform configs applied, in order, to the padded batch in training
            only (``forward(data, training=True)``), each called as
            ``aug(inputs, data_samples) -> (inputs, data_samples)`` (mmdet's key and
            protocol); e.g. multi-scale training, YOLOv2's 320..608 every 10 batches::

                batch_augments=[dict(type='BatchSyncRandomResize',
                                     random_size_range=(320, 608), interval=10,
                                     size_divisor=32)]

            Built at key paths ``data_preprocessor.batch_augments.0``, ...

    Input (mmengine's ``pseudo_collate`` of ``PackDetInputs`` outputs)::

        dict(inputs=[uint8 (3, H_i, W_i), ...],   # or a stacked (B, 3, H, W) tensor
             data_samples=[DetDataSample, ...])   # optional

    Output::

        dict(inputs=float32 (B, 3, Hp, Wp), data_samples=[...])

    with every data sample (and its ``gt_instances``) moved to the device and its metainfo
    given ``batch_input_shape`` = (Hp, Wp) and ``pad_shape`` = that image's (H_i, W_i) rounded
    up to ``pad_size_divisor`` (mmdet's per-image meaning).

    Raises:
        ConfigError: ``mean``/``std`` not three numbers (or only one of them None), a zero std,
            a ``pad_size_divisor`` below 1, ``batch_augments`` not a list of transform configs
            (or one of them invalid, with its key path).
        ValueError: the batch is empty, an image is not a (3, H, W) tensor, or the data samples
            do not match the images one to one.
    """

    def __init__(self,
                 mean: Optional[Sequence[float]] = (123.675, 116.28, 103.53),
                 std: Optional[Sequence[float]] = (58.395, 57.12, 57.375),
                 pad_size_divisor: int = 32,
                 pad_value: float = 0.0,
                 non_blocking: bool = False, channels_last: bool = False,
                 batch_augments: Optional[Sequence[dict]] = None):
        super().__init__(non_blocking)
        self.channels_last = bool(channels_last)
        if (mean is None) != (std is None):
            raise ConfigError(f'DetDataPreprocessor: give both `mean` and `std` or neither, got '
                              f'mean={mean!r}, std={std!r}')
        self._normalize = mean is not None
        if self._normalize:
            for name, v in (('mean', mean), ('std', std)):
                if len(v) != 3:
                    raise ConfigError(f'DetDataPreprocessor: `{name}` needs 3 values (R, G, B), '
                                      f'got {v!r}')
            if any(s == 0 for s in std):
                raise ConfigError(f'DetDataPreprocessor: `std` holds a zero: {std!r}')
            self.register_buffer('mean', torch.tensor(mean, dtype=torch.float32).view(3, 1, 1),
                                 persistent=False)
            self.register_buffer('std', torch.tensor(std, dtype=torch.float32).view(3, 1, 1),
                                 persistent=False)
        if int(pad_size_divisor) < 1:
            raise ConfigError(f'DetDataPreprocessor: `pad_size_divisor` must be >= 1, got '
                              f'{pad_size_divisor!r}')
        self.pad_size_divisor = int(pad_size_divisor)
        self.pad_value = float(pad_value)
        if batch_augments is None:
            batch_augments = ()
        if isinstance(batch_augments, (dict, str)) or not isinstance(batch_augments, Sequence):
            raise ConfigError(f'DetDataPreprocessor: `batch_augments` must be a list of transform '
                              f'configs, got {batch_augments!r}')
        self.batch_augments = [build('transform', cfg, key=f'batch_augments.{i}')
                               for i, cfg in enumerate(batch_augments)]
        for i, aug in enumerate(self.batch_augments):
            if not callable(aug):
                raise ConfigError(f'DetDataPreprocessor: batch_augments.{i} must be a transform '
                                  f'config (a dict with `type`), got {aug!r}')

    def _pad_to(self, size: int) -> int:
        d = self.pad_size_divisor
        return int(math.ceil(size / d) * d)

    def forward(self, data: dict, training: bool = False) -> dict:
        """Normalize, pad and stack ``data['inputs']``; see the class docstring.

        With ``training=True`` the ``batch_augments`` run last, on the padded batch (they may
        change its size, the boxes and the metainfo; see e.g. ``BatchSyncRandomResize``).
        """
        data = self.cast_data(data)
        inputs = data['inputs']
        if isinstance(inputs, Tensor):
            if inputs.dim() != 4:
                raise ValueError(f'DetDataPreprocessor: a stacked batch must be (B, 3, H, W), '
                                 f'got shape {tuple(inputs.shape)}')
            inputs = list(inputs.unbind(0))
        if not inputs:
            raise ValueError('DetDataPreprocessor: the batch holds no image')
        for i, img in enumerate(inputs):
            if not isinstance(img, Tensor) or img.dim() != 3 or img.shape[0] != 3:
                raise ValueError(f'DetDataPreprocessor: inputs[{i}] must be a (3, H, W) tensor, '
                                 f'got {type(img).__name__} of shape '
                                 f'{tuple(getattr(img, "shape", ()))}')
        samples = data.get('data_samples')
        if samples is not None and len(samples) != len(inputs):
            raise ValueError(f'DetDataPreprocessor: {len(inputs)} images but {len(samples)} data '
                             f'samples')

        hp = self._pad_to(max(int(img.shape[1]) for img in inputs))
        wp = self._pad_to(max(int(img.shape[2]) for img in inputs))
        layout = torch.channels_last if self.channels_last else torch.contiguous_format
        batch = torch.empty((len(inputs), 3, hp, wp), dtype=torch.float32, device=inputs[0].device,
                            memory_format=layout).fill_(self.pad_value)
        for i, img in enumerate(inputs):
            img = img.float()
            if self._normalize:
                img = (img - self.mean) / self.std
            batch[i, :, :img.shape[1], :img.shape[2]] = img
        if samples is not None:
            for img, sample in zip(inputs, samples):
                sample.set_metainfo(dict(
                    batch_input_shape=(hp, wp),
                    pad_shape=(self._pad_to(int(img.shape[1])), self._pad_to(int(img.shape[2])))))
        if training:
            for aug in self.batch_augments:
                batch, samples = aug(batch, samples)
            if self.channels_last:
                batch = batch.contiguous(memory_format=torch.channels_last)
        return dict(inputs=batch, data_samples=samples)
