"""RoIAlign (Mask R-CNN, He et al. 2017, section 3), on ``torchvision.ops.roi_align``.

No rounding of RoI coordinates: each of the S x S bins averages ``sampling_ratio`` x
``sampling_ratio`` bilinearly interpolated points (``sampling_ratio=0``: ``ceil(bin size)``
points per axis, adaptively). ``aligned=False`` (torchvision's ``MultiScaleRoIAlign`` and
``fasterrcnn_resnet50_fpn``) keeps the original Detectron convention; ``aligned=True`` shifts the
box by -0.5 cell so that pixel centres line up (Detectron2's ROIAlignV2). On the CPU the RoIs
are split over all cores (:mod:`plugins.roi_extractors.threaded`), with the same result.
"""
from __future__ import annotations

from torch import Tensor, nn

from registry import ROI_EXTRACTORS
from zoo.api import force_fp32

from .checks import check_feat_rois, check_output_size
from .threaded import threaded_roi_align

__all__ = ['RoIAlign']


@ROI_EXTRACTORS.register_module()
class RoIAlign(nn.Module):
    """RoIAlign of one feature map.

    Args:
        output_size: S; every RoI gives S x S bins.
        spatial_scale: feature cells per input pixel, ``1 / stride``; set by
            :class:`~plugins.roi_extractors.SingleRoIExtractor` from its ``featmap_strides``.
        sampling_ratio: sampling points per bin and axis; 0 = adaptive (see module doc).
            torchvision's Faster R-CNN uses 2.
        aligned: half-pixel shift of Detectron2 (see module doc).

    Shapes:
        forward: ``feat`` (B, C, H, W), ``rois`` (K, 5) float ``[batch_index, x1, y1, x2, y2]``
        in input-tensor pixels -> (K, C, S, S), ``feat``'s dtype.

    Raises:
        ValueError: ``output_size`` not a positive int, ``spatial_scale`` not positive,
            ``sampling_ratio`` negative, or inputs of the wrong shape.
    """

    def __init__(self, output_size: int, spatial_scale: float = 1.0, sampling_ratio: int = 0,
                 aligned: bool = False):
        super().__init__()
        self.output_size = check_output_size('RoIAlign', output_size)
        if (isinstance(spatial_scale, bool) or not isinstance(spatial_scale, (int, float))
                or not spatial_scale > 0):
            raise ValueError(f'RoIAlign: spatial_scale must be > 0 (1 / stride), got {spatial_scale!r}')
        if isinstance(sampling_ratio, bool) or not isinstance(sampling_ratio, int) or sampling_ratio < 0:
            raise ValueError(f'RoIAlign: sampling_ratio must be an int >= 0 (0 = adaptive), '
                             f'got {sampling_ratio!r}')
        self.spatial_scale = float(spatial_scale)
        self.sampling_ratio = sampling_ratio
        self.aligned = bool(aligned)

    @force_fp32
    def forward(self, feat: Tensor, rois: Tensor) -> Tensor:
        check_feat_rois('RoIAlign', feat, rois)
        # torchvision's roi_align; on the CPU its RoIs are split over all cores (bitwise the
        # same result and gradient, see plugins/roi_extractors/threaded.py)
        return threaded_roi_align(feat, rois, self.output_size, self.spatial_scale,
                                  self.sampling_ratio, self.aligned)

    def extra_repr(self) -> str:
        return (f'output_size={self.output_size}, spatial_scale={self.spatial_scale}, '
                f'sampling_ratio={self.sampling_ratio}, aligned={self.aligned}')
