"""The Region Proposal Network head (Ren et al. 2015, section 3.1).

A 3x3 convolution slides over every feature level; two sibling 1x1 convolutions give, for each
of the A anchors of a location, an objectness score and 4 box deltas. Training (section 3.1.2,
3.1.3): anchors are matched to ground truth by IoU (positive >= 0.7 or the best anchor of a
ground-truth box, negative < 0.3, others ignored), 256 anchors per image are sampled with at
most half positive (all images in one draw, ``RandomSampler.sample_batch``), anchors
crossing the image border are ignored (section 3.3, an option).
Proposals: decode, clip to the image, drop boxes smaller than ``min_bbox_size``, keep the
``nms_pre`` best per level, NMS at 0.7 (per level and image, in one batched call that stops
each once it has kept ``max_per_img``: :func:`zoo.api.batched_nms_topk`), keep the
``max_per_img`` best (paper: 12000/2000 in training, 6000/300 at test; torchvision's
fasterrcnn_resnet50_fpn: 2000/2000 and 1000/1000 per level).
"""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
from mmengine.structures import InstanceData
from torch import Tensor, nn

import registry
from registry import HEADS, Requires
from zoo.api import (batched_nms_by_cfg, check_loss, clip_boxes, force_fp32, gt_of, inside_flags,
                     per_image_topk_mask, sample_images, size_keep_mask)


@HEADS.register_module()
class RPNHead(nn.Module):
    """RPN: objectness and box deltas for A anchors at every location of every feature level.

    Args:
        in_channels: channels of every input level (int; the same at each level).
        anchor_generator: config of the anchor scheme (kind ``anchor_generator``); its strides
            must equal the feature strides.
        feat_channels: channels of the 3x3 conv (paper: 256 for ZF, 512 for VGG16).
        bbox_coder: config of the box coder (kind ``coder``); default deltas with stds 1.
        loss_cls: objectness loss (kind ``loss``). ``use_sigmoid=True`` (default): one logit per
            anchor. ``use_sigmoid=False``: the paper's two-way softmax, 2A channels laid out as in
            py-faster-rcnn: channels ``[0, A)`` background, ``[A, 2A)`` object.
        loss_bbox: box loss on deltas (kind ``loss``), default Smooth L1 with beta 1/9 (the
            paper's sigma 3).
        train_cfg: ``dict(assigner=..., sampler=..., allowed_border=0, pos_weight=-1)``; from the
            detector's ``train_cfg.rpn``. ``allowed_border=-1`` keeps cross-boundary anchors.
        proposal_cfg: proposal settings in training (``train_cfg.rpn_proposal``):
            ``dict(nms_pre, max_per_img, nms=dict(iou_threshold), min_bbox_size)``; ``nms`` may
            also say ``type='diou_nms'`` (:func:`zoo.api.batched_nms_by_cfg`).
        test_cfg: proposal settings at test time (``test_cfg.rpn``), same keys.
        init_std: std of the normal init of the three convolutions (paper: 0.01), biases 0.

    Shapes: ``forward(feats)`` takes per level (B, in_channels, H_l, W_l) and returns
    ``(cls_scores, bbox_preds)``: per level (B, A or 2A, H_l, W_l) and (B, 4A, H_l, W_l), the 4A
    channels ordered (anchor, delta) as in torchvision; anchors flatten as (y, x, a).

    Raises:
        ValueError: ``in_channels``/``feat_channels`` not positive.
        AssemblyError: a loss that does not fit (a box loss as objectness, a classification loss
            for boxes, a loss on decoded boxes where deltas are regressed).
    """

    def __init__(self, in_channels: int, anchor_generator: dict, feat_channels: int = 256,
                 bbox_coder: Optional[dict] = None, loss_cls: Optional[dict] = None,
                 loss_bbox: Optional[dict] = None, train_cfg: Optional[dict] = None,
                 proposal_cfg: Optional[dict] = None, test_cfg: Optional[dict] = None,
                 init_std: float = 0.01):
        super().__init__()
        for name, value in (('in_channels', in_channels), ('feat_channels', feat_channels)):
            if not isinstance(value, int) or value <= 0:
                raise ValueError(f'RPNHead.{name} must be a positive int, got {value!r}')
        self.in_channels, self.feat_channels = in_channels, feat_channels
        self.anchor_generator = registry.build('anchor_generator', anchor_generator,
                                               key='anchor_generator')
        self.bbox_coder = registry.build('coder', bbox_coder or dict(type='DeltaXYWHBBoxCoder'),
                                         key='bbox_coder')
        self.loss_cls = registry.build(
            'loss', loss_cls or dict(type='CrossEntropyLoss', use_sigmoid=True), key='loss_cls')
        self.loss_bbox = registry.build(
            'loss', loss_bbox or dict(type='SmoothL1Loss', beta=1.0 / 9.0), key='loss_bbox')
        check_loss(self.loss_cls, 'classification', 'loss_cls')
        check_loss(self.loss_bbox, 'regression', 'loss_bbox')
        self.use_sigmoid = bool(getattr(self.loss_cls, 'use_sigmoid', False))
        self.train_cfg, self.proposal_cfg, self.test_cfg = train_cfg, proposal_cfg, test_cfg
        if train_cfg is not None:
            self.assigner = registry.build('assigner', train_cfg['assigner'], key='train_cfg.assigner')
            self.sampler = registry.build('sampler', train_cfg['sampler'], key='train_cfg.sampler')
        A = self.num_anchors = self.anchor_generator.num_base_anchors
        self.rpn_conv = nn.Conv2d(in_channels, feat_channels, 3, padding=1)
        self.rpn_cls = nn.Conv2d(feat_channels, A if self.use_sigmoid else 2 * A, 1)
        self.rpn_reg = nn.Conv2d(feat_channels, 4 * A, 1)
        for conv in (self.rpn_conv, self.rpn_cls, self.rpn_reg):
            nn.init.normal_(conv.weight, std=init_std)
            nn.init.constant_(conv.bias, 0)

    def consumes(self) -> list[Requires]:
        return [Requires('in_channels', self.in_channels, 'channels', 'each')]

    # forward -------------------------------------------------------------------------------
    def forward(self, feats: tuple[Tensor, ...]) -> tuple[list[Tensor], list[Tensor]]:
        """Objectness logits and box deltas at every level.

        Args:
            feats: per level (B, in_channels, H_l, W_l).

        Returns:
            ``(cls_scores, bbox_preds)``, per level (B, A or 2A, H_l, W_l) and (B, 4A, H_l, W_l),
            channel ``a`` (``4a .. 4a+3``) for base anchor ``a``; possibly channel slices of one
            tensor (use ``reshape``, not ``view``).

        The two 1x1 convolutions run as one (their weights concatenated, the result split by
        channel): the same numbers, but the shared 256-channel input is read once, and in
        backward its gradient is made once instead of twice and summed, which at the finest
        level (a (B, 256, H/4, W/4) tensor) is what sets a training step's peak memory.
        """
        num_cls = self.rpn_cls.out_channels
        weight = torch.cat([self.rpn_cls.weight, self.rpn_reg.weight])
        bias = torch.cat([self.rpn_cls.bias, self.rpn_reg.bias])
        cls_scores, bbox_preds = [], []
        for feat in feats[:self.anchor_generator.num_levels]:
            x = torch.relu(self.rpn_conv(feat))
            cls_score, bbox_pred = F.conv2d(x, weight, bias).split(
                [num_cls, weight.shape[0] - num_cls], dim=1)
            cls_scores.append(cls_score)
            bbox_preds.append(bbox_pred)
        return cls_scores, bbox_preds

    def _flatten(self, cls_scores: list[Tensor], bbox_preds: list[Tensor]):
        """Per level to (B, N, 1|2) logits, (B, N, 4) deltas, level index (N,); N = sum H*W*A,
        anchors ordered (level, y, x, a) as the anchor generator's priors."""
        logits, deltas, levels = [], [], []
        A = self.num_anchors
        for lvl, (cls, reg) in enumerate(zip(cls_scores, bbox_preds)):
            B, _, H, W = cls.shape
            if self.use_sigmoid:
                logit = cls.permute(0, 2, 3, 1).reshape(B, -1, 1)
            else:  # py-faster-rcnn layout: [background x A, object x A] -> per anchor (object, bg)
                logit = cls.view(B, 2, A, H, W).permute(0, 3, 4, 2, 1).reshape(B, -1, 2).flip(-1)
            logits.append(logit)
            deltas.append(reg.view(B, A, 4, H, W).permute(0, 3, 4, 1, 2).reshape(B, -1, 4))
            levels.append(torch.full((H * W * A,), lvl, dtype=torch.long, device=cls.device))
        return torch.cat(logits, 1), torch.cat(deltas, 1), torch.cat(levels)

    def _objectness(self, logits: Tensor) -> Tensor:
        """(B, N, 1|2) logits -> (B, N) object probability."""
        if self.use_sigmoid:
            return logits[..., 0].sigmoid()
        return logits.softmax(-1)[..., 0]

    def _priors(self, cls_scores: list[Tensor]) -> Tensor:
        sizes = [tuple(c.shape[-2:]) for c in cls_scores]
        priors = self.anchor_generator.grid_priors(sizes, device=cls_scores[0].device,
                                                   dtype=cls_scores[0].dtype)
        return torch.cat(priors)

    # training ------------------------------------------------------------------------------
    def loss_and_predict(self, feats: tuple[Tensor, ...], data_samples: list
                         ) -> tuple[dict, list[InstanceData]]:
        """RPN losses and the proposals (detached) the RoI head trains on."""
        cls_scores, bbox_preds = self(feats)
        losses = self.loss_by_feat(cls_scores, bbox_preds, data_samples)
        cfg = self.proposal_cfg or self.test_cfg
        proposals = self.predict_by_feat(cls_scores, bbox_preds, data_samples, cfg)
        return losses, proposals

    def loss(self, feats: tuple[Tensor, ...], data_samples: list) -> dict:
        cls_scores, bbox_preds = self(feats)
        return self.loss_by_feat(cls_scores, bbox_preds, data_samples)

    @force_fp32
    def loss_by_feat(self, cls_scores: list[Tensor], bbox_preds: list[Tensor],
                     data_samples: list) -> dict:
        """``loss_rpn_cls`` over the sampled anchors and ``loss_rpn_bbox`` over the positive
        ones, both averaged over the number of sampled anchors of the batch (the paper's
        N_cls normalisation; with lambda = 10 and N_reg ~ 2400 its box term is the same scale).

        Raises:
            RuntimeError: the head was built without ``train_cfg`` (assigner and sampler).
        """
        if self.train_cfg is None:
            raise RuntimeError('RPNHead.loss needs train_cfg (model.train_cfg.rpn) with an '
                               'assigner and a sampler')
        logits, deltas, _ = self._flatten(cls_scores, bbox_preds)
        priors = self._priors(cls_scores)
        allowed_border = self.train_cfg.get('allowed_border', 0)
        decoded = getattr(self.loss_bbox, 'takes_decoded_boxes', False)
        valid, assigns, gts = [], [], []
        for sample in data_samples:
            gt_bboxes, gt_labels, gt_ignore = gt_of(sample)
            if allowed_border < 0:  # every anchor (torchvision): no index, no host sync
                valid_idx, valid_priors = None, priors
            else:
                valid_idx = inside_flags(priors, sample.metainfo['img_shape'],
                                         allowed_border).nonzero().squeeze(1)
                valid_priors = priors[valid_idx]
            # one class for the RPN: every ground truth is "object" (label 0)
            obj_labels = torch.zeros_like(gt_labels)
            valid.append((valid_idx, valid_priors))
            assigns.append(self.assigner.assign(valid_priors, gt_bboxes, obj_labels, gt_ignore))
            gts.append((gt_bboxes, obj_labels))
        results = sample_images(self.sampler, assigns, [v[1] for v in valid], gts)
        sel_logits, sel_labels, pos_preds, pos_targets = [], [], [], []
        for i, ((valid_idx, _), result) in enumerate(zip(valid, results)):
            pos, neg = result.pos_inds, result.neg_inds
            if valid_idx is not None:
                pos, neg = valid_idx[pos], valid_idx[neg]
            sel_logits += [logits[i, pos], logits[i, neg]]
            sel_labels += [torch.zeros_like(pos), torch.ones_like(neg)]  # 0 object, 1 background
            if decoded:  # IoU-family losses compare boxes, not deltas
                pos_preds.append(self.bbox_coder.decode(priors[pos], deltas[i, pos]))
                pos_targets.append(result.pos_gt_bboxes)
            else:
                pos_preds.append(deltas[i, pos])
                pos_targets.append(self.bbox_coder.encode(priors[pos], result.pos_gt_bboxes))
        labels = torch.cat(sel_labels)
        num_samples = max(labels.numel(), 1)
        loss_cls = self.loss_cls(torch.cat(sel_logits), labels, avg_factor=num_samples)
        loss_bbox = self.loss_bbox(torch.cat(pos_preds), torch.cat(pos_targets),
                                   avg_factor=num_samples)
        return dict(loss_rpn_cls=loss_cls, loss_rpn_bbox=loss_bbox)

    # inference -----------------------------------------------------------------------------
    def predict(self, feats: tuple[Tensor, ...], data_samples: list) -> list[InstanceData]:
        cls_scores, bbox_preds = self(feats)
        return self.predict_by_feat(cls_scores, bbox_preds, data_samples, self.test_cfg)

    @torch.no_grad()
    @force_fp32
    def predict_by_feat(self, cls_scores: list[Tensor], bbox_preds: list[Tensor],
                        data_samples: list, cfg: Optional[dict]) -> list[InstanceData]:
        """Proposals per image: ``InstanceData(bboxes (K, 4) input-tensor pixels, scores (K,))``,
        sorted by score, K <= ``max_per_img``.

        All images and levels go through one ``batched_nms`` call (NMS within each level of
        each image, as torchvision and mmdet do), and the per-image top ``max_per_img`` is a
        mask, not a loop.

        Raises:
            RuntimeError: no proposal settings (``test_cfg.rpn``) were given.
        """
        if cfg is None:
            raise RuntimeError('RPNHead needs proposal settings: model.test_cfg.rpn (and '
                               'model.train_cfg.rpn_proposal for training)')
        nms_pre = cfg.get('nms_pre', 1000)
        max_per_img = cfg.get('max_per_img', 1000)
        nms_cfg = {'iou_threshold': 0.7, **cfg.get('nms', {})}
        min_size = cfg.get('min_bbox_size', 0.0)
        logits, deltas, levels = self._flatten([c.detach() for c in cls_scores],
                                               [b.detach() for b in bbox_preds])
        priors = self._priors(cls_scores)
        B, num_levels = logits.shape[0], len(cls_scores)
        scores = self._objectness(logits)  # (B, N)
        # the nms_pre best of each level (torchvision ranks per level on logits: same order)
        per_level = [c.shape[-2] * c.shape[-1] * self.num_anchors for c in cls_scores]
        keep_idx, start = [], 0
        for lvl_scores in scores.split(per_level, dim=1):
            n = lvl_scores.shape[1]  # a traced tensor under ONNX export: k stays symbolic
            k = torch.clamp(n, max=nms_pre) if isinstance(n, Tensor) else min(nms_pre, n)
            keep_idx.append(lvl_scores.topk(k, dim=1).indices + start)
            start += lvl_scores.shape[1]
        idx = torch.cat(keep_idx, 1)                                       # (B, K)
        top_scores = scores.gather(1, idx).reshape(-1)
        top_deltas = deltas.gather(1, idx[..., None].expand(-1, -1, 4))
        boxes = self.bbox_coder.decode(priors[idx], top_deltas)            # (B, K, 4)
        boxes = clip_boxes(boxes, [s.metainfo['img_shape'] for s in data_samples])
        boxes = boxes.reshape(-1, 4)
        img_idx = torch.arange(B, device=boxes.device).repeat_interleave(idx.shape[1])
        group = img_idx * num_levels + levels[idx.reshape(-1)]
        # torchvision drops w or h < min_size (1e-3); the paper < 16 px; 0 keeps non-empty boxes
        ok = size_keep_mask(boxes, min_size)
        ok_idx = ok.nonzero().squeeze(1)
        # no level of an image gives more than max_per_img of its proposals: NMS stops there
        kept = ok_idx[batched_nms_by_cfg(boxes[ok_idx], top_scores[ok_idx], group[ok_idx], nms_cfg,
                                         'test_cfg.rpn.nms (train_cfg.rpn_proposal.nms in training)',
                                         max_per_group=max_per_img)]
        if torch.jit.is_tracing():  # ONNX export, one image: the best max_per_img, no counts
            if B != 1:
                raise ValueError(f'ONNX export traces a batch of one image, got {B}')
            kept = kept[:max_per_img]
            return [InstanceData(bboxes=boxes[kept], scores=top_scores[kept])]
        kept = kept[per_image_topk_mask(img_idx[kept], max_per_img)]
        # batched_nms orders by score over all images: group by image, best first in each
        kept = kept[torch.sort(img_idx[kept], stable=True).indices]
        counts = torch.bincount(img_idx[kept], minlength=B).tolist()
        out = []
        for b_boxes, b_scores in zip(boxes[kept].split(counts), top_scores[kept].split(counts)):
            out.append(InstanceData(bboxes=b_boxes, scores=b_scores))
        return out

