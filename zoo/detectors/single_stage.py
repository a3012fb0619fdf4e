"""Single-stage detectors: backbone, optional neck, one dense head (YOLOv1, YOLOv3 and kin, RetinaNet).

Source: mmdet's ``SingleStageDetector`` (the same keys: ``backbone``, ``neck``, ``bbox_head``,
``train_cfg``, ``test_cfg``) and ``YOLOV3``; the heads follow Redmon et al., "You Only Look
Once", CVPR 2016, and Redmon & Farhadi, "YOLOv3: An Incremental Improvement", 2018.
"""
from __future__ import annotations

from typing import Optional

from torch import Tensor

import registry
from registry import DETECTORS, AssemblyError, FeatureSpec, check_link
from registry.contracts import describe

from .base import BaseDetector


@DETECTORS.register_module()
class SingleStageDetector(BaseDetector):
    """Backbone -> (neck) -> dense head, all parts built by name.

    Args:
        backbone: config of a backbone (kind ``backbone``), e.g. ``Darknet``.
        bbox_head: config of a dense head (kind ``head``), e.g. ``YOLOV3Head``; it gets
            ``train_cfg`` and ``test_cfg`` as default arguments. The head must provide
            ``loss(feats, data_samples) -> dict`` and ``predict(feats, data_samples, rescale)
            -> list[InstanceData]``.
        neck: optional config of a neck (kind ``neck``), e.g. ``YOLOV3Neck`` or ``FPN``; it
            receives the backbone's ``out_channels`` and ``strides`` as defaults for
            ``in_channels``/``in_strides``.
        train_cfg: the head's training settings (e.g. ``dict(assigner=dict(type='GridAssigner',
            ignore_iou_thr=0.5))``).
        test_cfg: the head's inference settings (score threshold, NMS, detections per image).
        data_preprocessor, init_cfg, channels_last: see :class:`~zoo.detectors.base.BaseDetector`.

    Raises:
        AssemblyError: before anything runs, when neighbours disagree: the neck's
            ``in_channels``/``in_strides`` against the backbone, the head's ``in_channels``
            against the features it reads (all levels, or the level ``in_index`` for a head that
            reads one, such as ``YOLOV1Head``), the anchor generator's strides against the
            feature strides.
    """

    def __init__(self, backbone: dict, bbox_head: dict, neck: Optional[dict] = None,
                 train_cfg: Optional[dict] = None, test_cfg: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None, init_cfg: Optional[dict] = None,
                 channels_last: bool = False):
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg,
                         channels_last=channels_last)
        self.train_cfg, self.test_cfg = train_cfg, test_cfg
        producer, spec = self._build_features(backbone, neck)
        self.bbox_head = registry.build('head', bbox_head, key='bbox_head', default_args=dict(
            train_cfg=train_cfg, test_cfg=test_cfg))
        self._check_head(producer, spec)
        anchors = getattr(self.bbox_head, 'anchor_generator', None)
        if anchors is not None:
            check_link(producer, anchors, spec)
        self._set_memory_format()

    def _check_head(self, producer, spec: FeatureSpec) -> None:
        """Check the head against the features it reads: all levels, or only the level
        ``bbox_head.in_index`` of a head that has one."""
        index = getattr(self.bbox_head, 'in_index', None)
        if index is None:
            check_link(producer, self.bbox_head, spec)
            return
        path = getattr(self.bbox_head, '_zoo_key_path', 'bbox_head')
        if not -spec.num_levels <= index < spec.num_levels:
            raise AssemblyError(f'{path}.in_index = {index}, but '
                                f'{describe(producer)} produces only '
                                f'{spec.num_levels} feature levels ({spec})')
        level = FeatureSpec((spec.channels[index],), (spec.strides[index],))
        try:
            check_link(producer, self.bbox_head, level)
        except AssemblyError as err:
            raise AssemblyError(f'{err} ({path} reads only level in_index={index} of {spec})') \
                from None

    @property
    def num_classes(self) -> int:
        return self.bbox_head.num_classes

    def loss(self, inputs: Tensor, data_samples: list) -> dict:
        """The head's losses for the batch (ground truth in input-tensor pixels)."""
        return self.bbox_head.loss(self.extract_feat(inputs), data_samples)

    def predict(self, inputs: Tensor, data_samples: list, rescale: bool = True) -> list:
        """Detections per image: each data sample gets ``pred_instances`` (bboxes (N, 4) xyxy,
        in original-image pixels with ``rescale``, scores (N,), labels int64 (N,)). A
        single-stage detector makes no ``proposals``."""
        results = self.bbox_head.predict(self.extract_feat(inputs), data_samples, rescale=rescale)
        for sample, result in zip(data_samples, results):
            sample.pred_instances = result
        return data_samples

    def _forward(self, inputs: Tensor, data_samples: Optional[list] = None):
        """The head's raw outputs (e.g. YOLOV3Head: per level (B, A * (5 + C), H, W))."""
        return self.bbox_head(self.extract_feat(inputs))


@DETECTORS.register_module()
class YOLOV3(SingleStageDetector):
    """YOLOv3 (Redmon & Farhadi 2018): a :class:`SingleStageDetector` with a Darknet backbone,
    ``YOLOV3Neck`` and ``YOLOV3Head`` in its recipes (mmdet's name; see ``configs/yolo/`` and
    ``docs/yolo.md``). The class adds nothing: any backbone, neck and dense head fit."""


@DETECTORS.register_module()
class RetinaNet(SingleStageDetector):
    """RetinaNet (Lin et al., "Focal Loss for Dense Object Detection", ICCV 2017): a
    :class:`SingleStageDetector` with a ResNet, an FPN with P6/P7 (``FPN(extra_convs=...)``) and
    ``RetinaHead`` in its recipes (mmdet's name; see ``configs/retinanet/`` and ``docs/yolo.md``,
    "The dense focal head"). The class adds nothing: any backbone, neck and dense head fit."""
