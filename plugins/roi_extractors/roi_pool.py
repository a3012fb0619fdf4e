"""RoI max pooling (Fast R-CNN, Girshick 2015, section 2.1), on ``torchvision.ops.roi_pool``.

torchvision's kernel is Caffe's ``ROIPooling`` layer of py-faster-rcnn: a RoI's corners are
rounded to feature cells (``round(x * spatial_scale)``), its size in cells is
``max(x2 - x1 + 1, 1)``, and each of the S x S bins takes the max over the cells it covers
(floor/ceil bin edges; an empty bin gives 0). Faster R-CNN's ZF and VGG16 models use it on conv5
with ``spatial_scale=1/16`` and S = 6 (ZF) or 7 (VGG16). On the CPU the RoIs are split over all
cores (:mod:`plugins.roi_extractors.threaded`), with the same result.
"""
from __future__ import annotations

from torch import Tensor, nn

from registry import ROI_EXTRACTORS
from zoo.api import force_fp32

from .checks import check_feat_rois, check_output_size
from .threaded import threaded_roi_pool

__all__ = ['RoIPool']


@ROI_EXTRACTORS.register_module()
class RoIPool(nn.Module):
    """RoI max pooling of one feature map.

    Args:
        output_size: S; every RoI gives S x S bins.
        spatial_scale: feature cells per input pixel, ``1 / stride`` (e.g. 1/16 for conv5).
            :class:`~plugins.roi_extractors.SingleRoIExtractor` sets it from its
            ``featmap_strides``.

    Shapes:
        forward: ``feat`` (B, C, H, W), ``rois`` (K, 5) float ``[batch_index, x1, y1, x2, y2]`` in
        input-tensor pixels -> (K, C, S, S), ``feat``'s dtype.

    Raises:
        ValueError: ``output_size`` not a positive int, ``spatial_scale`` not positive, or
            inputs of the wrong shape (see ``check_feat_rois``).
    """

    def __init__(self, output_size: int, spatial_scale: float = 1.0):
        super().__init__()
        self.output_size = check_output_size('RoIPool', output_size)
        if (isinstance(spatial_scale, bool) or not isinstance(spatial_scale, (int, float))
                or not spatial_scale > 0):
            raise ValueError(f'RoIPool: spatial_scale must be > 0 (1 / stride), got {spatial_scale!r}')
        self.spatial_scale = float(spatial_scale)

    @force_fp32
    def forward(self, feat: Tensor, rois: Tensor) -> Tensor:
        check_feat_rois('RoIPool', feat, rois)
        # torchvision's roi_pool; on the CPU its RoIs are split over all cores (bitwise the
        # same result and gradient, see plugins/roi_extractors/threaded.py)
        return threaded_roi_pool(feat, rois, self.output_size, self.spatial_scale)

    def extra_repr(self) -> str:
        return f'output_size={self.output_size}, spatial_scale={self.spatial_scale}'
