"""The Fast R-CNN box head: two shared fully connected layers, then a (C + 1)-way softmax
classifier and class-specific box regression (Girshick, "Fast R-CNN", ICCV 2015, section 2;
used by Faster R-CNN, section 3.2). torchvision's ``TwoMLPHead`` + ``FastRCNNPredictor``,
mmdet's ``Shared2FCBBoxHead``.

Label convention: foreground classes ``0 .. C-1``, background is ``C`` (last). torchvision puts
background first; ``zoo convert torchvision`` reorders its weights.
"""
from __future__ import annotations

from typing import Optional, Sequence

import torch
from mmengine.structures import InstanceData
from torch import Tensor, nn

import registry
from registry import HEADS
from zoo.api import check_loss, clip_boxes, force_fp32, nms_per_image

DEFAULT_CODER = dict(type='DeltaXYWHBBoxCoder', target_means=(0.0, 0.0, 0.0, 0.0),
                     target_stds=(0.1, 0.1, 0.2, 0.2))


@HEADS.register_module()
class Shared2FCBBoxHead(nn.Module):
    """fc6 -> ReLU -> (dropout) -> fc7 -> ReLU -> (dropout) -> {fc_cls: C + 1, fc_reg: 4C}.

    Args:
        num_classes: C, the number of foreground classes.
        in_channels: channels of the pooled RoI features.
        roi_feat_size: S of the (S, S) pooled features (6 for ZF as in the paper, 7 otherwise).
        fc_out_channels: width of fc6/fc7 (4096 for ZF/VGG16 as in the paper, 1024 for FPN).
        dropout: dropout after fc6 and fc7 (0.5 in the paper's ZF/VGG16 heads).
        bbox_coder: config (kind ``coder``); default deltas with stds 0.1/0.1/0.2/0.2.
        reg_class_agnostic: one box per RoI instead of one per class.
        loss_cls: classification loss (kind ``loss``), default softmax cross-entropy.
        loss_bbox: box loss (kind ``loss``), default Smooth L1 with beta 1 on deltas; a loss
            with ``takes_decoded_boxes`` (GIoU, CIoU, ...) is applied to decoded boxes.

    Shapes: ``forward(x)``: x (K, in_channels, S, S) -> cls_score (K, C + 1), bbox_pred (K, 4C)
    (or (K, 4) class-agnostic), deltas ordered (class, delta).

    Raises:
        ValueError: a non-positive size; AssemblyError: a loss of the wrong kind.
    """

    def __init__(self, num_classes: int, in_channels: int = 256, roi_feat_size: int = 7,
                 fc_out_channels: int = 1024, dropout: float = 0.0,
                 bbox_coder: Optional[dict] = None, reg_class_agnostic: bool = False,
                 loss_cls: Optional[dict] = None, loss_bbox: Optional[dict] = None):
        super().__init__()
        for name, value in (('num_classes', num_classes), ('in_channels', in_channels),
                            ('roi_feat_size', roi_feat_size), ('fc_out_channels', fc_out_channels)):
            if not isinstance(value, int) or value <= 0:
                raise ValueError(f'Shared2FCBBoxHead.{name} must be a positive int, got {value!r}')
        self.num_classes, self.in_channels = num_classes, in_channels
        self.roi_feat_size, self.reg_class_agnostic = roi_feat_size, reg_class_agnostic
        self.bbox_coder = registry.build('coder', bbox_coder or DEFAULT_CODER, key='bbox_coder')
        self.loss_cls = registry.build('loss', loss_cls or dict(type='CrossEntropyLoss'),
                                       key='loss_cls')
        self.loss_bbox = registry.build('loss', loss_bbox or dict(type='SmoothL1Loss', beta=1.0),
                                        key='loss_bbox')
        check_loss(self.loss_cls, 'classification', 'loss_cls')
        check_loss(self.loss_bbox, 'regression', 'loss_bbox')
        self.fc6 = nn.Linear(in_channels * roi_feat_size * roi_feat_size, fc_out_channels)
        self.fc7 = nn.Linear(fc_out_channels, fc_out_channels)
        self.drop = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.fc_cls = nn.Linear(fc_out_channels, num_classes + 1)
        self.fc_reg = nn.Linear(fc_out_channels, 4 if reg_class_agnostic else 4 * num_classes)
        nn.init.normal_(self.fc_cls.weight, std=0.01)
        nn.init.normal_(self.fc_reg.weight, std=0.001)
        nn.init.constant_(self.fc_cls.bias, 0)
        nn.init.constant_(self.fc_reg.bias, 0)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        x = self.drop(torch.relu(self.fc6(x.flatten(1))))
        x = self.drop(torch.relu(self.fc7(x)))
        return self.fc_cls(x), self.fc_reg(x)

    def _select(self, bbox_pred: Tensor, labels: Tensor) -> Tensor:
        """Deltas (P, 4) of each RoI's class from (P, 4C)."""
        if self.reg_class_agnostic:
            return bbox_pred
        # the class count, not -1: with no positive RoI in the batch the shape is (0, 4C)
        return bbox_pred.view(bbox_pred.shape[0], self.num_classes, 4)[
            torch.arange(labels.numel()), labels]

    @force_fp32
    def loss(self, cls_score: Tensor, bbox_pred: Tensor, rois: Tensor, labels: Tensor,
             pos_gt_bboxes: Tensor) -> dict:
        """Fast R-CNN multi-task loss (Fast R-CNN eq. 1), averaged over the sampled RoIs.

        Args:
            cls_score: (S, C + 1); bbox_pred: (S, 4C); rois: (S, 5) the sampled RoIs, positives
                first in the order of ``pos_gt_bboxes`` (see :meth:`StandardRoIHead.loss`).
            labels: (S,) int64, ``C`` for background.
            pos_gt_bboxes: (P, 4) matched ground truth of the P positives, input pixels.

        Returns:
            ``loss_cls``, ``loss_bbox`` and ``acc`` (classification accuracy in %, logged only).
        """
        num = max(labels.numel(), 1)
        loss_cls = self.loss_cls(cls_score, labels, avg_factor=num)
        pos = (labels >= 0) & (labels < self.num_classes)
        pred = self._select(bbox_pred[pos], labels[pos])
        priors = rois[pos, 1:]
        if getattr(self.loss_bbox, 'takes_decoded_boxes', False):
            pred, target = self.bbox_coder.decode(priors, pred), pos_gt_bboxes
        else:
            target = self.bbox_coder.encode(priors, pos_gt_bboxes)
        loss_bbox = self.loss_bbox(pred, target, avg_factor=num)
        acc = (cls_score.detach().argmax(1) == labels).float().mean() * 100
        return dict(loss_cls=loss_cls, loss_bbox=loss_bbox, acc=acc)

    @torch.no_grad()
    @force_fp32
    def predict_by_feat(self, rois: Tensor, cls_score: Tensor, bbox_pred: Tensor,
                        data_samples: Sequence, cfg: dict, rescale: bool = True
                        ) -> list[InstanceData]:
        """Detections per image from the scores and deltas of all RoIs of the batch.

        Per RoI and class: decode, clip to the image, keep score > ``score_thr`` (0.05) and
        boxes not smaller than ``min_bbox_size`` (0: boxes of positive area; torchvision uses
        0.01), NMS per class (``nms.iou_threshold``: 0.3 in the paper, 0.5 for FPN; ``nms.type``
        ``'nms'`` or ``'diou_nms'``, see :func:`zoo.api.batched_nms_by_cfg`), at most
        ``max_per_img`` (100) per image, best first. One ``batched_nms`` serves all images and classes.

        Args:
            rois: (K, 5) ``[batch_index, x1, y1, x2, y2]`` input-tensor pixels.
            cls_score: (K, C + 1) logits; bbox_pred: (K, 4C) deltas.
            data_samples: per image, metainfo ``img_shape`` and (with ``rescale``) ``scale_factor``.
            rescale: return boxes in original-image pixels (divide by ``scale_factor``).

        Returns:
            Per image ``InstanceData(bboxes (M, 4), scores (M,), labels int64 (M,))``.
        """
        C = self.num_classes
        score_thr = cfg.get('score_thr', 0.05)
        nms_cfg = {'iou_threshold': 0.5, **cfg.get('nms', {})}
        max_per_img = cfg.get('max_per_img', 100)
        min_size = cfg.get('min_bbox_size', 0.0)
        scores = cls_score.softmax(-1)[:, :C]                               # (K, C)
        K = rois.shape[0]
        deltas = bbox_pred if not self.reg_class_agnostic else bbox_pred.repeat(1, C)
        boxes = self.bbox_coder.decode(rois[:, 1:], deltas).view(K, C, 4)
        img_idx = rois[:, 0].long()
        # (B, 2) (h, w); stacked, so that a traced shape (ONNX export) stays symbolic
        hw = torch.stack([torch.as_tensor(_hw(s.metainfo['img_shape']), dtype=boxes.dtype,
                                          device=boxes.device) for s in data_samples])
        boxes = clip_boxes(boxes, hw[img_idx]).reshape(-1, 4)             # each RoI's image
        scores = scores.reshape(-1)
        labels = torch.arange(C, device=boxes.device).repeat(K)
        img_idx = img_idx.repeat_interleave(C)
        return nms_per_image(boxes, scores, labels, img_idx, data_samples, C, score_thr, min_size,
                             nms_cfg, max_per_img, rescale, nms_key='test_cfg.rcnn.nms')


def _hw(shape):
    """(h, w) of an ``img_shape``: a tuple, or a traced (h, w) tensor (2,) under ONNX export."""
    return shape if isinstance(shape, Tensor) else list(shape[:2])
