"""The base of every detector: mmengine's ``BaseModel`` with the zoo's model API.

``forward(inputs, data_samples, mode)``:

* ``inputs``: float (B, 3, H, W), normalized RGB, zero-padded at bottom/right (made by the data
  preprocessor, ``data_preprocessor`` key of the config);
* ``mode='loss'``: a dict of scalar losses (keys containing ``loss`` are summed by mmengine);
* ``mode='predict'``: the data samples with ``pred_instances`` (bboxes (N, 4) xyxy in
  original-image pixels, scores (N,), labels int64 (N,));
* ``mode='tensor'``: the raw head outputs.
"""
from __future__ import annotations

from abc import abstractmethod
from typing import Optional, Union

import torch
from mmengine.model import BaseModel
from torch import Tensor

import registry
from registry import FeatureSpec, check_link
from .nonfinite import check_finite

from .probe import probe_features

DEFAULT_PREPROCESSOR = dict(type='DetDataPreprocessor')


class BaseDetector(BaseModel):
    """Dispatches ``forward`` by mode and builds the data preprocessor through the registry.

    Args:
        data_preprocessor: config of the batch transform (kind ``transform``), default
            ``DetDataPreprocessor`` (ImageNet mean/std in 0-255 RGB, pad to a multiple of 32).
        init_cfg: mmengine initialisation config (rarely needed: parts initialise themselves).
        channels_last: keep the convolution weights and the input batch in channels-last memory
            format (NHWC strides; the tensors keep their (B, C, H, W) shape). oneDNN on the CPU
            and tensor cores on CUDA convolve NHWC natively; in NCHW every convolution first
            reorders its input. Same numbers up to rounding. Default False; the R50-FPN
            recipes turn it on (docs/performance.md).
    """

    def __init__(self, data_preprocessor: Optional[dict] = None, init_cfg: Optional[dict] = None,
                 channels_last: bool = False):
        preprocessor = registry.build('transform', data_preprocessor or DEFAULT_PREPROCESSOR,
                                      key='data_preprocessor')
        super().__init__(data_preprocessor=preprocessor, init_cfg=init_cfg)
        self.channels_last = bool(channels_last)

    def _set_memory_format(self) -> None:
        """Called by subclasses once every part is built: 4-d weights to channels-last.

        The parameters stay the same objects (their data is replaced), and later in-place
        updates (``load_state_dict``, optimizer steps, initialisation) keep the layout."""
        if self.channels_last:
            self.to(memory_format=torch.channels_last)
            if hasattr(self.data_preprocessor, 'channels_last'):  # batches made NHWC directly
                self.data_preprocessor.channels_last = True

    def _build_features(self, backbone: dict, neck: Optional[dict]):
        """Build ``self.backbone`` and the optional ``self.neck`` (which gets the backbone's
        ``out_channels``/``strides`` as default ``in_channels``/``in_strides``), measure what
        each really produces with a probe forward (:mod:`zoo.detectors.probe`), check both
        against their declarations and the neck against the backbone, and set
        ``self.feature_spec``.

        Returns:
            ``(producer, spec)``: the part whose features the heads read and its FeatureSpec.

        Raises:
            AssemblyError: a part produces other channels, strides or levels than it declares,
                fails on its input, or the neck disagrees with the backbone (key paths and both
                values named).
        """
        self.backbone = registry.build('backbone', backbone, key='backbone')
        spec = FeatureSpec.of(self.backbone)
        self.neck = None
        if neck is not None:
            self.neck = registry.build('neck', neck, key='neck', default_args=dict(
                in_channels=list(spec.channels), in_strides=list(spec.strides)))
        link = None if self.neck is None else (
            lambda measured: check_link(self.backbone, self.neck, measured))
        self.feature_spec = probe_features(self.backbone, self.neck, link)
        return (self.neck if self.neck is not None else self.backbone), self.feature_spec

    def extract_feat(self, inputs: Tensor) -> tuple[Tensor, ...]:
        """Features (per level (B, C_i, H/s_i, W/s_i)) of the backbone, through the neck if any."""
        if self.channels_last:
            inputs = inputs.contiguous(memory_format=torch.channels_last)
        feats = self.backbone(inputs)
        return self.neck(feats) if self.neck is not None else feats

    def forward(self, inputs: Tensor, data_samples: Optional[list] = None,
                mode: str = 'tensor') -> Union[dict, list, tuple]:
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            return self._forward(inputs, data_samples)
        raise ValueError(f"forward mode must be 'loss', 'predict' or 'tensor', got {mode!r}")

    def train_step(self, data: Union[dict, tuple, list], optim_wrapper) -> dict:
        """mmengine's ``BaseModel.train_step`` (preprocess, loss, ``update_params``), except
        that the preprocessed batch is released before the backward pass.

        mmengine keeps it in a local variable until the step returns, so the normalized,
        padded (B, 3, H, W) float batch (13 MB for two 640x832 images) stays allocated
        through backward, which does not need it; torchvision's model releases it when its
        forward returns. Same losses, gradients and log variables.
        """
        with optim_wrapper.optim_context(self):
            batch = self.data_preprocessor(data, True)
            losses = self._run_forward(batch, mode='loss')
        del batch, data  # the caller still holds the raw batch; the float copy goes now
        parsed_losses, log_vars = self.parse_losses(losses)
        optim_wrapper.update_params(parsed_losses)
        return log_vars

    def parse_losses(self, losses: dict):
        """mmengine's sum of the loss terms, after checking each is finite.

        Raises:
            NonFiniteLossError: a term is NaN or infinite (named, with the iteration); raised
                before the optimizer step, so the weights stay good.
        """
        check_finite(losses)
        return super().parse_losses(losses)

    @abstractmethod
    def loss(self, inputs: Tensor, data_samples: list) -> dict:
        """A dict of scalar losses for the batch (see the module docstring)."""

    @abstractmethod
    def predict(self, inputs: Tensor, data_samples: list) -> list:
        """The data samples with ``pred_instances`` in original-image pixels."""

    @abstractmethod
    def _forward(self, inputs: Tensor, data_samples: Optional[list] = None):
        """The raw head outputs (``mode='tensor'``)."""
