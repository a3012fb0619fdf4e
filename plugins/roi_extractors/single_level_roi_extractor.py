"""RoI feature extraction from one or several feature levels (mmdet's ``SingleRoIExtractor``).

Each RoI is pooled from exactly one level ("single" RoI extractor, as opposed to pooling from all
levels and fusing). With one level (Faster R-CNN with ZF/VGG16: conv5, stride 16) every RoI uses
it. With several levels (FPN) the level is chosen by the FPN paper's equation (1)
(Lin et al., CVPR 2017, section 4.2)::

    k = floor(k0 + log2(sqrt(w * h) / 224))

clamped to the levels present, exactly as torchvision's ``LevelMapper``
(``torchvision/ops/poolers.py``): ``k = floor(k0 + log2(sqrt(area) / canonical_scale) + 1e-6)``,
``area = (x2 - x1) * (y2 - y1)`` (no "+1"), clamped to ``[k_min, k_max]`` where
``k_min = log2(featmap_strides[0])`` and ``k_max = log2(featmap_strides[-1])``, and the level
index is ``k - k_min``. torchvision infers the strides from the feature and image sizes; here they
are the configured ``featmap_strides`` (the same numbers when, as in the zoo, images are padded to
a multiple of the largest stride).

The pooling layer is any registered RoI layer (``roi_layer=dict(type='RoIAlign', ...)`` or
``dict(type='RoIPool', ...)``); switching is only that ``type``. One layer is built per level with
``spatial_scale = 1 / stride``.
"""
from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import Tensor, nn

from registry import ROI_EXTRACTORS, AssemblyError, Requires, build
from zoo.api import box_area, force_fp32

__all__ = ['SingleRoIExtractor']


def _declared_output_size(layer: nn.Module) -> int:
    """S, from the RoI layer's ``output_size`` attribute: an int S, or an (S, S) pair.

    The extractor allocates its (K, C, S, S) output from it before pooling (several levels), and
    the box head is built for S x S inputs: a layer that does not declare it is refused.

    Raises:
        AssemblyError: naming the layer's key path and type, and what it holds instead.
    """
    size = getattr(layer, 'output_size', None)
    if isinstance(size, (tuple, list)) and len(size) == 2 and size[0] == size[1]:
        size = size[0]
    if isinstance(size, bool) or not isinstance(size, int) or size <= 0:
        path = getattr(layer, '_zoo_key_path', None) or 'roi_layer'
        raise AssemblyError(f'{path}.type = {type(layer).__name__!r}: a RoI layer must declare the '
                            'attribute output_size (a positive int S: it returns (K, C, S, S)); '
                            f'got {getattr(layer, "output_size", "no attribute")!r}; see '
                            'docs/parts.md, "RoI layer"')
    return size


@ROI_EXTRACTORS.register_module()
class SingleRoIExtractor(nn.Module):
    """Pool each RoI from one feature level.

    Args:
        roi_layer: config of the RoI layer, e.g. ``dict(type='RoIAlign', output_size=7,
            sampling_ratio=2)`` or ``dict(type='RoIPool', output_size=7)``, without
            ``spatial_scale`` (set per level from ``featmap_strides``). Built at the config key
            ``<this key>.roi_layer``.
        out_channels: channels of the pooled features (= the feature maps' channels).
        featmap_strides: strides of the levels to pool from, finest first; the forward uses the
            first ``len(featmap_strides)`` levels of ``feats``, so this must be the producer's
            strides or a prefix of them (FPN: [4, 8, 16, 32], leaving out P6). With several
            levels they must be consecutive powers of two.
        canonical_scale: the FPN paper's 224 (a RoI of that size maps to ``canonical_level``).
        canonical_level: the FPN paper's k0 = 4.

    Attributes:
        roi_layers: one RoI layer per level (``nn.ModuleList``).
        featmap_strides: tuple of ints; num_levels: its length.
        output_size: S (the RoI layer's ``output_size``); out_channels: as given.

    Shapes:
        forward: ``feats`` tuple of (B, out_channels, H_l, W_l) finest first (extra levels
        after the first ``num_levels`` are ignored), ``rois`` (K, 5) float
        ``[batch_index, x1, y1, x2, y2]`` in input-tensor pixels -> (K, out_channels, S, S).

    Raises:
        ValueError: ``roi_layer`` not a dict or holding ``spatial_scale``; ``featmap_strides``
            empty, not positive ints, or (several levels) not consecutive powers of two;
            ``out_channels`` not positive; at forward, fewer levels than ``featmap_strides``,
            channels other than ``out_channels``, or ``rois`` not (K, 5).
        registry.ConfigError: the RoI layer config is invalid (unknown type or argument).
        registry.AssemblyError: the RoI layer has no ``output_size`` attribute (int S).
    """

    def __init__(self, roi_layer: dict, out_channels: int, featmap_strides: Sequence[int],
                 canonical_scale: int = 224, canonical_level: int = 4):
        super().__init__()
        if not isinstance(roi_layer, dict):
            raise ValueError(f'SingleRoIExtractor: roi_layer must be a config dict such as '
                             f"dict(type='RoIAlign', output_size=7, sampling_ratio=2), got {roi_layer!r}")
        if 'spatial_scale' in roi_layer:
            raise ValueError(f'SingleRoIExtractor: roi_layer must not set spatial_scale (got '
                             f'{roi_layer["spatial_scale"]!r}); it is 1 / stride for each of '
                             'featmap_strides')
        if (isinstance(featmap_strides, str) or not isinstance(featmap_strides, Sequence)
                or not featmap_strides
                or any(not isinstance(s, int) or isinstance(s, bool) or s <= 0 for s in featmap_strides)):
            raise ValueError(f'SingleRoIExtractor: featmap_strides must be a non-empty list of '
                             f'positive ints, got {featmap_strides!r}')
        strides = tuple(featmap_strides)
        if len(strides) > 1:
            if any(s & (s - 1) for s in strides) or any(b != 2 * a for a, b in zip(strides, strides[1:])):
                raise ValueError(f'SingleRoIExtractor: with several levels, featmap_strides must be '
                                 f'consecutive powers of two (e.g. [4, 8, 16, 32]), got {list(strides)}')
        if isinstance(out_channels, bool) or not isinstance(out_channels, int) or out_channels <= 0:
            raise ValueError(f'SingleRoIExtractor: out_channels must be a positive int, '
                             f'got {out_channels!r}')
        if not canonical_scale > 0:
            raise ValueError(f'SingleRoIExtractor: canonical_scale must be > 0, got {canonical_scale!r}')
        self.featmap_strides = strides
        self.num_levels = len(strides)
        self.out_channels = out_channels
        self.canonical_scale = canonical_scale
        self.canonical_level = canonical_level
        self.eps = 1e-6
        self.k_min = int(math.log2(strides[0]))
        self.k_max = int(math.log2(strides[-1]))
        self.roi_layers = nn.ModuleList(
            build('roi_extractor', dict(roi_layer, spatial_scale=1.0 / s), key='roi_layer')
            for s in strides)
        self.output_size = _declared_output_size(self.roi_layers[0])

    def consumes(self) -> list[Requires]:
        """The producer (backbone or neck) must produce these strides, with these channels."""
        return [Requires('featmap_strides', list(self.featmap_strides), 'strides', 'subset'),
                Requires('out_channels', self.out_channels, 'channels', 'each')]

    def map_roi_levels(self, rois: Tensor) -> Tensor:
        """Level index (0 .. num_levels - 1) of each RoI by FPN eq. (1), as torchvision's LevelMapper.

        Args:
            rois: (K, 5) ``[batch_index, x1, y1, x2, y2]`` (only the box columns are used).

        Returns:
            int64 (K,) level indices. Degenerate boxes (zero or negative area) go to level 0.
        """
        scale = torch.sqrt(box_area(rois[:, 1:5]).clamp(min=0))
        eps = torch.full((), self.eps, dtype=scale.dtype, device=scale.device)
        levels = torch.floor(self.canonical_level + torch.log2(scale / self.canonical_scale) + eps)
        levels = torch.clamp(levels, min=self.k_min, max=self.k_max)
        return levels.to(torch.int64) - self.k_min

    @force_fp32
    def forward(self, feats: Sequence[Tensor], rois: Tensor) -> Tensor:
        if len(feats) < self.num_levels:
            raise ValueError(f'SingleRoIExtractor got {len(feats)} feature levels, needs '
                             f'{self.num_levels} (featmap_strides {list(self.featmap_strides)})')
        if feats[0].dim() != 4 or feats[0].shape[1] != self.out_channels:
            raise ValueError(f'SingleRoIExtractor: features must be (B, {self.out_channels}, H, W) '
                             f'(out_channels), got {tuple(feats[0].shape)}')
        if rois.dim() != 2 or rois.shape[1] != 5:
            raise ValueError(f'SingleRoIExtractor: rois must be (K, 5) [batch_index, x1, y1, x2, y2], '
                             f'got shape {tuple(rois.shape)}')
        if self.num_levels == 1:
            return self.roi_layers[0](feats[0], rois)
        levels = self.map_roi_levels(rois)
        first = feats[0]
        out = first.new_zeros((rois.shape[0], self.out_channels, self.output_size, self.output_size))
        for level in range(self.num_levels):
            index = torch.where(levels == level)[0]
            out[index] = self.roi_layers[level](feats[level], rois[index]).to(out.dtype)
        return out
