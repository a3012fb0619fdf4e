"""Two-stage detectors: backbone, optional neck, RPN, RoI head (Faster R-CNN and its variants).

Source: Ren et al., "Faster R-CNN: Towards Real-Time Object Detection with Region Proposal
Networks", NeurIPS 2015 (approximate joint training, section 3.2); the modern form with FPN and
RoIAlign follows torchvision's ``fasterrcnn_resnet50_fpn`` and mmdet's ``TwoStageDetector``.

The paper's 4-step alternating training (section 3.2) trains the same network in stages: the
RPN alone, then the Fast R-CNN head alone on fixed proposals. :attr:`TwoStageDetector.train_stage`
selects which losses ``forward(mode='loss')`` computes; ``zoo.runner.alternating_loop`` sets it.
"""
from __future__ import annotations

from typing import Optional

from mmengine.structures import InstanceData
from torch import Tensor

import registry
from registry import DETECTORS, check_link

from .base import BaseDetector


def _sub(cfg: Optional[dict], key: str) -> Optional[dict]:
    return None if cfg is None else cfg.get(key)


#: what ``forward(mode='loss')`` trains: both heads (approximate joint training), the RPN alone,
#: or the Fast R-CNN (RoI) head alone on the proposals carried by the data samples
TRAIN_STAGES = ('joint', 'rpn', 'fast_rcnn')


@DETECTORS.register_module()
class TwoStageDetector(BaseDetector):
    """Backbone -> (neck) -> RPN proposals -> RoI head detections, all parts built by name.

    Args:
        backbone: config of a backbone (kind ``backbone``).
        rpn_head: config of the region proposal network (kind ``head``), e.g. ``RPNHead``.
        roi_head: config of the RoI head (kind ``head``), e.g. ``StandardRoIHead``.
        neck: optional config of a neck (kind ``neck``), e.g. ``FPN``; it receives the backbone's
            ``out_channels`` and ``strides`` as defaults for ``in_channels``/``in_strides``.
        train_cfg: ``dict(rpn=..., rpn_proposal=..., rcnn=...)``: assigner/sampler of the RPN,
            proposal settings in training, assigner/sampler of the RoI head (mmdet's layout).
        test_cfg: ``dict(rpn=..., rcnn=...)``: proposal settings at test time and the RoI head's
            score threshold, NMS and detections per image.
        data_preprocessor, init_cfg, channels_last: see :class:`~zoo.detectors.base.BaseDetector`.

    Raises:
        AssemblyError: before anything runs, when neighbours disagree: the neck's
            ``in_channels`` against the backbone, the RPN's ``in_channels`` and its anchor
            strides against the features, the RoI extractor's strides and channels against
            the features, the box head's input against the RoI extractor.
    """

    def __init__(self, backbone: dict, rpn_head: dict, roi_head: dict, neck: Optional[dict] = None,
                 train_cfg: Optional[dict] = None, test_cfg: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None, init_cfg: Optional[dict] = None,
                 channels_last: bool = False):
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg,
                         channels_last=channels_last)
        self.train_cfg, self.test_cfg = train_cfg, test_cfg
        producer, spec = self._build_features(backbone, neck)
        self.rpn_head = registry.build('head', rpn_head, key='rpn_head', default_args=dict(
            train_cfg=_sub(train_cfg, 'rpn'), proposal_cfg=_sub(train_cfg, 'rpn_proposal'),
            test_cfg=_sub(test_cfg, 'rpn')))
        self.roi_head = registry.build('head', roi_head, key='roi_head', default_args=dict(
            train_cfg=_sub(train_cfg, 'rcnn'), test_cfg=_sub(test_cfg, 'rcnn')))
        for consumer in (self.rpn_head, getattr(self.rpn_head, 'anchor_generator', None),
                         self.roi_head, getattr(self.roi_head, 'bbox_roi_extractor', None)):
            if consumer is not None:
                check_link(producer, consumer, spec)
        self._set_memory_format()

    #: which losses ``loss`` computes, one of :data:`TRAIN_STAGES`; set by
    #: :meth:`set_train_stage` (the alternating training loop), ``'joint'`` otherwise
    train_stage: str = 'joint'

    @property
    def num_classes(self) -> int:
        return self.roi_head.num_classes

    def set_train_stage(self, stage: str) -> None:
        """Choose the losses of ``forward(mode='loss')``.

        Args:
            stage: ``'joint'`` (default): RPN and RoI-head losses, the RoI head on the RPN's
                proposals (:meth:`loss`); ``'rpn'``: the RPN's losses only (:meth:`rpn_loss`);
                ``'fast_rcnn'``: the RoI head's losses only, on the fixed proposals each data
                sample carries (:meth:`roi_loss_on_proposals`).

        Raises:
            ValueError: ``stage`` is not one of :data:`TRAIN_STAGES`.
        """
        if stage not in TRAIN_STAGES:
            raise ValueError(f'train_stage must be one of {TRAIN_STAGES}, got {stage!r}')
        self.train_stage = stage

    def loss(self, inputs: Tensor, data_samples: list) -> dict:
        """The losses of the current :attr:`train_stage`. ``'joint'``: approximate joint
        training (paper section 3.2), RPN and RoI-head losses in one pass; the RoI head trains
        on the RPN's proposals, which carry no gradient.

        Args:
            inputs: float (B, 3, H, W), normalized and padded.
            data_samples: B :class:`~zoo.structures.DetDataSample` with ``gt_instances`` (and,
                for ``'fast_rcnn'``, ``proposals``).

        Returns:
            ``loss_rpn_cls``, ``loss_rpn_bbox`` (``'joint'``, ``'rpn'``), ``loss_cls``,
            ``loss_bbox`` (``'joint'``, ``'fast_rcnn'``): scalar tensors (and the RoI head's
            ``acc``, logged, not summed).
        """
        if self.train_stage == 'rpn':
            return self.rpn_loss(inputs, data_samples)
        if self.train_stage == 'fast_rcnn':
            return self.roi_loss_on_proposals(inputs, data_samples)
        feats = self.extract_feat(inputs)
        rpn_losses, proposals = self.rpn_head.loss_and_predict(feats, data_samples)
        roi_losses = self.roi_head.loss(feats, proposals, data_samples)
        return {**rpn_losses, **roi_losses}

    def rpn_loss(self, inputs: Tensor, data_samples: list) -> dict:
        """The RPN's losses alone (steps 1 and 3 of the 4-step alternating training): the
        backbone (and neck) and the RPN head get gradients, the RoI head is not run.

        Args:
            inputs: float (B, 3, H, W); data_samples: B data samples with ``gt_instances``.

        Returns:
            ``dict(loss_rpn_cls=scalar, loss_rpn_bbox=scalar)``.
        """
        return self.rpn_head.loss(self.extract_feat(inputs), data_samples)

    def roi_loss_on_proposals(self, inputs: Tensor, data_samples: list) -> dict:
        """The Fast R-CNN head's losses on fixed proposals (steps 2 and 4 of the 4-step
        alternating training; Fast R-CNN, Girshick 2015): the RPN is not run.

        Args:
            inputs: float (B, 3, H, W).
            data_samples: B data samples with ``gt_instances`` and ``proposals``
                (``InstanceData`` with ``bboxes`` float (K, 4) xyxy in input-tensor pixels,
                i.e. of the transformed image: the ``LoadProposals`` transform puts stored
                proposals there and ``Resize``/``RandomFlip`` move them with the image).

        Returns:
            ``dict(loss_cls=scalar, loss_bbox=scalar, acc=scalar)``.

        Raises:
            RuntimeError: a data sample has no ``proposals`` (the training pipeline lacks
                ``LoadProposals``; the alternating loop adds it in steps 2 and 4).
        """
        proposals = []
        for sample in data_samples:
            if 'proposals' not in sample:
                raise RuntimeError(
                    f'train_stage fast_rcnn trains on fixed proposals, but the data sample of '
                    f'image {sample.metainfo.get("img_id")!r} has none: put '
                    "dict(type='LoadProposals', proposal_file=...) in the training pipeline")
            proposals.append(InstanceData(bboxes=sample.proposals.bboxes))
        return self.roi_head.loss(self.extract_feat(inputs), proposals, data_samples)

    def predict(self, inputs: Tensor, data_samples: list, rescale: bool = True) -> list:
        """Detections per image in original-image pixels (``rescale``), also RPN proposals.

        Each data sample gets ``pred_instances`` (bboxes, scores, labels) and ``proposals``
        (bboxes (K, 4) in input-tensor pixels, scores (K,)).
        """
        feats = self.extract_feat(inputs)
        proposals = self.rpn_head.predict(feats, data_samples)
        results = self.roi_head.predict(feats, proposals, data_samples, rescale=rescale)
        for sample, props, result in zip(data_samples, proposals, results):
            sample.proposals = props
            sample.pred_instances = result
        return data_samples

    def _forward(self, inputs: Tensor, data_samples: Optional[list] = None) -> tuple:
        """Raw outputs: (RPN objectness per level, RPN deltas per level, RoI class scores,
        RoI deltas) for the test-time proposals."""
        feats = self.extract_feat(inputs)
        rpn_outs = self.rpn_head(feats)
        if data_samples is None:
            from zoo.structures import DetDataSample
            h, w = inputs.shape[-2:]
            data_samples = [DetDataSample(metainfo=dict(img_shape=(h, w), batch_input_shape=(h, w)))
                            for _ in range(inputs.shape[0])]
        proposals = self.rpn_head.predict(feats, data_samples)
        roi_outs = self.roi_head.forward(feats, proposals)
        return (*rpn_outs, *roi_outs)


@DETECTORS.register_module()
class FasterRCNN(TwoStageDetector):
    """Faster R-CNN (Ren et al. 2015): a :class:`TwoStageDetector` whose RoI head is a Fast R-CNN
    head (RoI pooling, two FC layers, softmax over C + 1 classes, class-specific box deltas).

    The paper's recipes (ZF, VGG16) and the modern one (ResNet-50-FPN, RoIAlign) differ only in
    config: see ``configs/faster_rcnn/`` and ``docs/faster_rcnn.md``.
    """
