"""The RoI head of a two-stage detector: sample proposals, pool their features, classify and
refine them (Faster R-CNN section 3.2, Fast R-CNN section 2.3; mmdet's ``StandardRoIHead``,
torchvision's ``RoIHeads``).

Training: each image's proposals are matched alone (its own ground truth), then all images are
sampled in one call when the sampler can (``RandomSampler.sample_batch``). Per image: the
ground-truth boxes join the proposals (sampler's
``add_gt_as_proposals``), proposals are matched (fg IoU >= 0.5; bg IoU in [0.1, 0.5) in the
paper, [0, 0.5) for FPN), and 128 (paper) or 512 (FPN) RoIs are sampled with at most 25 %
foreground.
"""
from __future__ import annotations

from typing import Optional

import torch
from mmengine.structures import InstanceData
from torch import Tensor, nn

import registry
from registry import HEADS, AssemblyError
from zoo.api import gt_of, sample_images


def rois_of(boxes_list: list[Tensor]) -> Tensor:
    """Per-image boxes (K_i, 4) -> RoIs (sum K_i, 5) ``[batch_index, x1, y1, x2, y2]``."""
    return torch.cat([torch.cat([b.new_full((b.shape[0], 1), i), b], 1)
                      for i, b in enumerate(boxes_list)])


@HEADS.register_module()
class StandardRoIHead(nn.Module):
    """RoI extractor + box head, with the sampling that trains them.

    Args:
        bbox_roi_extractor: config (kind ``roi_extractor``), e.g. ``SingleRoIExtractor`` with
            ``roi_layer=dict(type='RoIPool' | 'RoIAlign', output_size=...)``.
        bbox_head: config (kind ``head``), e.g. ``Shared2FCBBoxHead``.
        train_cfg: ``dict(assigner=..., sampler=...)`` (the detector's ``train_cfg.rcnn``).
        test_cfg: ``dict(score_thr, nms=dict(iou_threshold), max_per_img, min_bbox_size)``
            (the detector's ``test_cfg.rcnn``).

    Raises:
        AssemblyError: the extractor's ``out_channels``/``output_size`` disagree with the box
            head's ``in_channels``/``roi_feat_size``.
    """

    def __init__(self, bbox_roi_extractor: dict, bbox_head: dict, train_cfg: Optional[dict] = None,
                 test_cfg: Optional[dict] = None):
        super().__init__()
        self.bbox_roi_extractor = registry.build('roi_extractor', bbox_roi_extractor,
                                                 key='bbox_roi_extractor')
        self.bbox_head = registry.build('head', bbox_head, key='bbox_head')
        self.train_cfg, self.test_cfg = train_cfg, test_cfg
        ext, head = self.bbox_roi_extractor, self.bbox_head
        for ext_key, head_key in (('out_channels', 'in_channels'), ('output_size', 'roi_feat_size')):
            held, produced = getattr(head, head_key, None), getattr(ext, ext_key, None)
            if produced is not None and held is not None and _size(produced) != _size(held):
                raise AssemblyError(
                    f'{getattr(head, "_zoo_key_path", "bbox_head")}.{head_key} = {held!r}, but '
                    f'{getattr(ext, "_zoo_key_path", "bbox_roi_extractor")} '
                    f'({type(ext).__name__}) produces {ext_key} {produced!r}')
        if train_cfg is not None:
            self.assigner = registry.build('assigner', train_cfg['assigner'], key='train_cfg.assigner')
            self.sampler = registry.build('sampler', train_cfg['sampler'], key='train_cfg.sampler')

    @property
    def num_classes(self) -> int:
        return self.bbox_head.num_classes

    def forward(self, feats: tuple[Tensor, ...], proposals: list[InstanceData]):
        """(cls_score (K, C + 1), bbox_pred (K, 4C)) for the proposals of every image."""
        rois = rois_of([p.bboxes for p in proposals])
        return self.bbox_head(self.bbox_roi_extractor(feats, rois))

    def loss(self, feats: tuple[Tensor, ...], proposals: list[InstanceData],
             data_samples: list) -> dict:
        """Sample RoIs per image, then one extractor and head pass for the whole batch."""
        if self.train_cfg is None:
            raise RuntimeError('StandardRoIHead.loss needs train_cfg (model.train_cfg.rcnn) with '
                               'an assigner and a sampler')
        C = self.num_classes
        assigns, boxes_list, gts = [], [], []
        for props, sample in zip(proposals, data_samples):
            gt_bboxes, gt_labels, gt_ignore = gt_of(sample)
            boxes = props.bboxes.detach()
            assigns.append(self.assigner.assign(boxes, gt_bboxes, gt_labels, gt_ignore))
            boxes_list.append(boxes)
            gts.append((gt_bboxes, gt_labels))
        pos_boxes, neg_boxes, labels, pos_gt = [], [], [], []
        for res in sample_images(self.sampler, assigns, boxes_list, gts):
            pos_boxes.append(res.pos_priors)
            neg_boxes.append(res.neg_priors)
            pos_gt.append(res.pos_gt_bboxes)
            labels += [res.pos_gt_labels, res.pos_gt_labels.new_full((res.neg_priors.shape[0],), C)]
        # positives of all images first, then negatives: rois[:P] pair with pos_gt
        rois = torch.cat([rois_of(pos_boxes), rois_of(neg_boxes)])
        labels = torch.cat(labels[0::2] + labels[1::2])
        cls_score, bbox_pred = self.bbox_head(self.bbox_roi_extractor(feats, rois))
        return self.bbox_head.loss(cls_score, bbox_pred, rois, labels, torch.cat(pos_gt))

    def predict(self, feats: tuple[Tensor, ...], proposals: list[InstanceData],
                data_samples: list, rescale: bool = True) -> list[InstanceData]:
        """Detections per image (see ``Shared2FCBBoxHead.predict_by_feat``)."""
        if self.test_cfg is None:
            raise RuntimeError('StandardRoIHead.predict needs test_cfg (model.test_cfg.rcnn)')
        rois = rois_of([p.bboxes for p in proposals])
        cls_score, bbox_pred = self.bbox_head(self.bbox_roi_extractor(feats, rois))
        return self.bbox_head.predict_by_feat(rois, cls_score, bbox_pred, data_samples,
                                              self.test_cfg, rescale=rescale)


def _size(value):
    return tuple(value) if isinstance(value, (list, tuple)) else value
