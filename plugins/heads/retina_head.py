"""The RetinaNet head: a dense classifier trained by focal loss over every anchor, with no
sampling (Lin, Goyal, Girshick, He, Dollar, "Focal Loss for Dense Object Detection", ICCV 2017,
sections 3-5).

Per pyramid level (the same weights at every level, sec. 4 "Classification Subnet" and "Box
Regression Subnet"): two towers of ``stacked_convs`` (paper: 4) 3x3 convolutions of
``feat_channels`` (256) with ReLU, one ending in a 3x3 convolution to ``A * C`` class logits
(sigmoid per class, no background class), the other in a 3x3 convolution to ``A * 4`` box deltas
(class-agnostic). Layout of the channels as in torchvision's ``RetinaNetHead``: ``a * C + c`` and
``a * 4 + d``; predictions flatten as (level, y, x, anchor), the order of the anchor generator's
priors.

Training (sec. 3-4.1):

* anchors (A = 9 per location: 3 octave scales ``2^0, 2^(1/3), 2^(2/3)`` x ratios 1:2, 1:1,
  2:1, sizes 32-512 on P3-P7) are matched by IoU: positive at ``>= 0.5``, negative below 0.4,
  the rest ignored (``MaxIoUAssigner(pos_iou_thr=0.5, neg_iou_thr=0.4)``; as torchvision and
  mmdet, a gt box's best anchor is also positive, ``match_low_quality``);
* classification: the sigmoid focal loss (eq. 5, alpha 0.25, gamma 2) summed over **all** anchors
  that are not ignored and all C classes (a positive's target row is one-hot, a negative's all
  zeros), divided by the number of positive anchors of the batch (at least 1): "the total focal
  loss of an image is computed as the sum of the focal loss over all ~100k anchors, normalized by
  the number of anchors assigned to a ground-truth box" (sec. 4.1). No sampler: the focal term
  ``(1 - p_t) ** gamma`` down-weights the easy negatives that a sampler would otherwise drop;
* boxes: ``loss_bbox`` at the positives on the box coder's deltas (Smooth L1, beta 0.11,
  Detectron's; mmdet and torchvision: L1) or, for a loss that ``takes_decoded_boxes`` (the IoU
  family), on the decoded boxes; divided by the same number of positives;
* initialisation (sec. 4.1): every convolution N(0, 0.01) with bias 0, except the classifier's
  bias ``b = -log((1 - pi) / pi)`` with ``pi = prior_prob`` (0.01): every anchor starts at
  foreground probability ``pi``, so the many background anchors do not swamp the first
  iterations with a large loss.

The losses are summed over the batch and divided by the positives of the whole batch (mmdet and
Detectron); torchvision divides each image by its own positives and averages the images. The two
agree for one image (``tests/retinanet/test_retina_head.py`` checks this against torchvision's
``RetinaNetHead.compute_loss``).

Inference (sec. 4.1 "Inference"): per level the ``nms_pre`` (1000) best (anchor, class) scores
(``sigmoid``) above ``score_thr`` (0.05), their boxes decoded; then the levels together, NMS
per class at 0.5 (``nms=dict(type='diou_nms', ...)`` for DIoU-NMS) and the ``max_per_img`` best
(:func:`zoo.api.select_detections`).
"""
from __future__ import annotations

import math
from numbers import Real
from typing import Optional, Sequence

import torch
from torch import Tensor, nn

import registry
from registry import HEADS, ConfigError, Requires
from zoo.api import NORMS, check_loss, gt_of, make_norm, select_detections

__all__ = ['RetinaHead']

#: RetinaNet's anchors (sec. 4 "Anchors"): sizes 32..512 on P3..P7, 3 octave scales, 3 ratios;
#: mmdet's ``octave_base_scale=4, scales_per_octave=3`` written as scales of the strides.
DEFAULT_ANCHORS = dict(type='AnchorGenerator', strides=[8, 16, 32, 64, 128],
                       scales=[4 * 2 ** (i / 3) for i in range(3)], ratios=[0.5, 1.0, 2.0])
DEFAULT_ASSIGNER = dict(type='MaxIoUAssigner', pos_iou_thr=0.5, neg_iou_thr=0.4, min_pos_iou=0.0,
                        match_low_quality=True, ignore_iof_thr=-1)
DEFAULT_TEST_CFG = dict(nms_pre=1000, score_thr=0.05, nms=dict(type='nms', iou_threshold=0.5),
                        max_per_img=100, min_bbox_size=0)


def prior_bias(prior_prob: float) -> float:
    """The classifier bias ``b = -log((1 - pi) / pi)`` whose sigmoid is ``pi`` (sec. 4.1).

    Raises:
        ValueError: ``prior_prob`` not a number strictly between 0 and 1.
    """
    if isinstance(prior_prob, bool) or not isinstance(prior_prob, Real) or not 0 < prior_prob < 1:
        raise ValueError(f'RetinaHead.prior_prob must be a probability in (0, 1), got {prior_prob!r}')
    return -math.log((1 - prior_prob) / prior_prob)


def _positive_int(name: str, value, least: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise ValueError(f'RetinaHead.{name} must be an int >= {least}, got {value!r}')
    return value


@HEADS.register_module()
class RetinaHead(nn.Module):
    """RetinaNet's dense head: focal-loss classification over every anchor, no sampling.

    Args:
        num_classes: C foreground classes (no background output).
        in_channels: channels of every input level (int; FPN's ``out_channels``).
        anchor_generator: config of the anchor scheme (kind ``anchor_generator``); default
            RetinaNet's: strides 8..128, scales ``4 * 2 ** (i / 3)``, ratios 0.5/1/2 (A = 9).
            Its strides must equal the feature strides.
        feat_channels: channels of the tower convolutions (paper: 256).
        stacked_convs: 3x3 convolutions in each tower (paper: 4; 0 gives the bare predictors).
        norm: None (paper), ``'gn'`` or ``'bn'`` after each tower convolution
            (:func:`zoo.api.make_norm`; torchvision's ``retinanet_resnet50_fpn_v2`` uses GN).
        bbox_coder: config of the box coder (kind ``coder``); default ``DeltaXYWHBBoxCoder``
            with means 0 and stds 1 (mmdet's and torchvision's RetinaNet).
        loss_cls: classification loss (kind ``loss``), default ``FocalLoss(gamma=2.0,
            alpha=0.25)``; it must be a sigmoid loss (C logits per anchor, background = all
            zeros), e.g. ``CrossEntropyLoss(use_sigmoid=True)`` for the paper's BCE baseline.
        loss_bbox: box loss (kind ``loss``), default ``SmoothL1Loss(beta=0.11)`` on deltas;
            ``L1Loss`` (mmdet, torchvision) or an IoU-family loss on decoded boxes fit too.
        prior_prob: pi of the classifier's bias initialisation (0.01).
        train_cfg: ``dict(assigner=...)``, default ``MaxIoUAssigner(pos_iou_thr=0.5,
            neg_iou_thr=0.4, min_pos_iou=0.0, match_low_quality=True)``. A ``sampler`` is
            refused: this head trains on every anchor.
        test_cfg: ``dict(nms_pre=1000, score_thr=0.05, nms=dict(type='nms',
            iou_threshold=0.5), max_per_img=100, min_bbox_size=0)`` (the defaults; torchvision's
            and mmdet's); ``nms.type='diou_nms'`` selects DIoU-NMS.

    Attributes:
        num_classes, in_channels, feat_channels, stacked_convs, num_base_priors (A),
        anchor_generator, bbox_coder, loss_cls, loss_bbox, assigner, train_cfg, test_cfg;
        modules ``cls_convs``, ``reg_convs`` (towers: each entry a conv [, norm], ReLU),
        ``retina_cls`` (3x3, A * C outputs), ``retina_reg`` (3x3, A * 4 outputs) (mmdet's
        names).

    Shapes:
        ``forward(feats)``: per level (B, in_channels, H_l, W_l) -> ``(cls_scores,
        bbox_preds)``, per level (B, A * C, H_l, W_l) and (B, A * 4, H_l, W_l).

    Raises:
        ValueError: ``num_classes``/``in_channels``/``feat_channels`` not positive ints,
            ``stacked_convs`` negative, unknown ``norm``, ``prior_prob`` outside (0, 1).
        AssemblyError: a loss of the wrong kind (a box loss for classes, a classifier for boxes).
        ConfigError: a softmax ``loss_cls`` (``use_sigmoid=False``), a loss whose reduction
            is not ``'mean'`` (the head divides by the positives through ``avg_factor``), a
            ``train_cfg.sampler``.
    """

    def __init__(self, num_classes: int, in_channels: int = 256, anchor_generator: Optional[dict] = None,
                 feat_channels: int = 256, stacked_convs: int = 4, norm: Optional[str] = None,
                 bbox_coder: Optional[dict] = None, loss_cls: Optional[dict] = None,
                 loss_bbox: Optional[dict] = None, prior_prob: float = 0.01,
                 train_cfg: Optional[dict] = None, test_cfg: Optional[dict] = None):
        super().__init__()
        self.num_classes = _positive_int('num_classes', num_classes)
        self.in_channels = _positive_int('in_channels', in_channels)
        self.feat_channels = _positive_int('feat_channels', feat_channels)
        self.stacked_convs = _positive_int('stacked_convs', stacked_convs, least=0)
        if norm is not None and norm not in NORMS:
            raise ValueError(f'RetinaHead.norm must be None or one of {NORMS}, got {norm!r}')
        self.norm = norm
        bias = prior_bias(prior_prob)
        self.prior_prob = float(prior_prob)
        self.anchor_generator = registry.build('anchor_generator', anchor_generator or DEFAULT_ANCHORS,
                                               key='anchor_generator')
        self.bbox_coder = registry.build('coder', bbox_coder or dict(type='DeltaXYWHBBoxCoder'),
                                         key='bbox_coder')
        self.loss_cls = registry.build('loss', loss_cls or dict(type='FocalLoss', use_sigmoid=True,
                                                                gamma=2.0, alpha=0.25), key='loss_cls')
        self.loss_bbox = registry.build('loss', loss_bbox or dict(type='SmoothL1Loss', beta=0.11),
                                        key='loss_bbox')
        check_loss(self.loss_cls, 'classification', 'loss_cls')
        check_loss(self.loss_bbox, 'regression', 'loss_bbox')
        for key in ('loss_cls', 'loss_bbox'):
            held = getattr(getattr(self, key), 'reduction', 'mean')
            if held != 'mean':
                raise ConfigError(f"{_path(getattr(self, key), key)}.reduction = {held!r}, but "
                                  'RetinaHead divides the summed loss by the number of positive '
                                  "anchors (avg_factor), which needs reduction='mean'")
        if not getattr(self.loss_cls, 'use_sigmoid', False):
            raise ConfigError(f'{_path(self.loss_cls, "loss_cls")}.use_sigmoid is not True, but '
                              'RetinaHead scores each class with its own sigmoid (no background '
                              'class): use FocalLoss or CrossEntropyLoss(use_sigmoid=True)')
        self.decoded_bbox_loss = bool(getattr(self.loss_bbox, 'takes_decoded_boxes', False))
        self.train_cfg = dict(train_cfg or {})
        if 'sampler' in self.train_cfg:
            raise ConfigError('train_cfg.sampler: RetinaHead trains on every anchor (focal loss '
                              'instead of sampling, RetinaNet sec. 3-4); remove the sampler')
        self.assigner = registry.build('assigner', self.train_cfg.get('assigner', DEFAULT_ASSIGNER),
                                       key='train_cfg.assigner')
        self.test_cfg = {**DEFAULT_TEST_CFG, **(test_cfg or {})}

        A = self.num_base_priors = self.anchor_generator.num_base_anchors
        self.cls_convs = nn.ModuleList(self._tower_conv(i) for i in range(self.stacked_convs))
        self.reg_convs = nn.ModuleList(self._tower_conv(i) for i in range(self.stacked_convs))
        tower_out = self.feat_channels if self.stacked_convs else self.in_channels
        self.retina_cls = nn.Conv2d(tower_out, A * self.num_classes, 3, padding=1)
        self.retina_reg = nn.Conv2d(tower_out, A * 4, 3, padding=1)
        self.init_weights(bias)

    def _tower_conv(self, i: int) -> nn.Sequential:
        cin = self.in_channels if i == 0 else self.feat_channels
        layers = [nn.Conv2d(cin, self.feat_channels, 3, padding=1, bias=self.norm is None)]
        if self.norm is not None:
            layers.append(make_norm(self.norm, self.feat_channels))
        layers.append(nn.ReLU(inplace=True))
        return nn.Sequential(*layers)

    def init_weights(self, cls_bias: Optional[float] = None) -> None:
        """Sec. 4.1: every convolution N(0, 0.01), biases 0, the classifier's bias
        ``-log((1 - pi) / pi)`` (``pi = prior_prob``), so that ``sigmoid`` of every class logit
        starts at ``pi``."""
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.normal_(m.weight, std=0.01)
                if m.bias is not None:
                    nn.init.constant_(m.bias, 0.0)
        nn.init.constant_(self.retina_cls.bias, prior_bias(self.prior_prob) if cls_bias is None
                          else cls_bias)

    def consumes(self) -> list[Requires]:
        return [Requires('in_channels', self.in_channels, 'channels', 'each')]

    # forward ---------------------------------------------------------------------------------
    def forward(self, feats: Sequence[Tensor]) -> tuple[list[Tensor], list[Tensor]]:
        """Class logits and box deltas at every level (the towers' weights shared by the levels).

        Raises:
            ValueError: a number of levels other than the anchor generator's.
        """
        levels = self.anchor_generator.num_levels
        if len(feats) != levels:
            raise ValueError(f'RetinaHead got {len(feats)} feature levels, but its anchor generator '
                             f'has {levels} (strides {list(self.anchor_generator.strides)})')
        cls_scores, bbox_preds = [], []
        for feat in feats:
            c = r = feat
            for conv in self.cls_convs:
                c = conv(c)
            for conv in self.reg_convs:
                r = conv(r)
            cls_scores.append(self.retina_cls(c))
            bbox_preds.append(self.retina_reg(r))
        return cls_scores, bbox_preds

    def _flatten(self, cls_scores: Sequence[Tensor], bbox_preds: Sequence[Tensor]):
        """Per level maps -> logits (B, N, C), deltas (B, N, 4), priors (N, 4), anchors per level;
        N = sum H_l W_l A, ordered (level, y, x, anchor). In float32 (maps may be float16/bfloat16
        under autocast)."""
        A, C = self.num_base_priors, self.num_classes
        logits, deltas, counts = [], [], []
        for cls, reg in zip(cls_scores, bbox_preds):
            B, _, H, W = cls.shape
            logits.append(cls.float().reshape(B, A, C, H, W).permute(0, 3, 4, 1, 2).reshape(B, -1, C))
            deltas.append(reg.float().reshape(B, A, 4, H, W).permute(0, 3, 4, 1, 2).reshape(B, -1, 4))
            counts.append(H * W * A)
        sizes = [tuple(c.shape[-2:]) for c in cls_scores]
        priors = torch.cat(self.anchor_generator.grid_priors(sizes, device=cls_scores[0].device,
                                                             dtype=torch.float32))
        return torch.cat(logits, 1), torch.cat(deltas, 1), priors, counts

    # training --------------------------------------------------------------------------------
    def loss(self, feats: Sequence[Tensor], data_samples: list) -> dict:
        cls_scores, bbox_preds = self(feats)
        return self.loss_by_feat(cls_scores, bbox_preds, data_samples)

    def get_targets(self, priors: Tensor, data_samples: list,
                    num_level_priors: Optional[Sequence[int]] = None):
        """Assign every anchor of every image (no sampling).

        Args:
            priors: (N, 4) anchors, xyxy input-tensor pixels (the same for every image of the
                padded batch).
            data_samples: per image ``gt_instances`` (bboxes (M, 4) xyxy input-tensor pixels,
                labels (M,), optional ``ignore_flags``).
            num_level_priors: anchors per level, in the order of ``priors``; passed on to an
                assigner that declares ``needs_level_priors`` (``ATSSAssigner``).

        Returns:
            ``(labels, weights, pos_gt)``: int64 (B, N) class of each anchor, C for background
            (negatives and ignored anchors); float (B, N) 1 where the anchor is positive or
            negative, 0 where ignored; (B, N, 4) the matched gt box of each anchor (zeros where not
            positive).
        """
        C = self.num_classes
        extra = {}
        if getattr(self.assigner, 'needs_level_priors', False):
            if num_level_priors is None:
                raise ValueError(f'{type(self.assigner).__name__} needs the anchors per level: '
                                 'pass num_level_priors to RetinaHead.get_targets')
            extra = dict(num_level_priors=list(num_level_priors))
        labels, weights, pos_gt = [], [], []
        for sample in data_samples:
            gt_bboxes, gt_labels, gt_ignore = gt_of(sample)
            res = self.assigner.assign(priors, gt_bboxes, gt_labels, gt_ignore, **extra)
            pos = res.gt_inds > 0
            labels.append(torch.where(pos, res.labels, C))
            weights.append((res.gt_inds >= 0).to(priors.dtype))
            if gt_bboxes.shape[0]:
                matched = gt_bboxes.to(priors.dtype)[(res.gt_inds - 1).clamp(min=0)]
                pos_gt.append(torch.where(pos[:, None], matched, 0.0))
            else:
                pos_gt.append(priors.new_zeros(priors.shape))
        return torch.stack(labels), torch.stack(weights), torch.stack(pos_gt)

    def loss_by_feat(self, cls_scores: Sequence[Tensor], bbox_preds: Sequence[Tensor],
                     data_samples: list) -> dict:
        """``loss_cls``: ``loss_cls`` (focal) summed over every non-ignored anchor and class of the
        batch; ``loss_bbox``: ``loss_bbox`` summed over the positive anchors; both divided by
        ``max(number of positive anchors in the batch, 1)`` (sec. 4.1).

        Args:
            cls_scores, bbox_preds: the output of :meth:`forward`.
            data_samples: per image ``gt_instances`` in input-tensor pixels.
        """
        logits, deltas, priors, counts = self._flatten(cls_scores, bbox_preds)
        C = self.num_classes
        labels, weights, pos_gt = self.get_targets(priors, data_samples, counts)
        pos = labels < C                                                     # (B, N)
        num_pos = pos.sum().to(logits.dtype).clamp(min=1.0)
        loss_cls = self.loss_cls(logits.reshape(-1, C), labels.reshape(-1), weight=weights.reshape(-1),
                                 avg_factor=num_pos)
        b_idx, n_idx = pos.nonzero(as_tuple=True)
        targets = pos_gt[b_idx, n_idx]                                       # (P, 4)
        if self.decoded_bbox_loss:
            loss_bbox = self.loss_bbox(self.bbox_coder.decode(priors[n_idx], deltas[b_idx, n_idx]),
                                       targets, avg_factor=num_pos)
        else:
            loss_bbox = self.loss_bbox(deltas[b_idx, n_idx], self.bbox_coder.encode(priors[n_idx], targets),
                                       avg_factor=num_pos)
        return dict(loss_cls=loss_cls, loss_bbox=loss_bbox)

    # inference -------------------------------------------------------------------------------
    def predict(self, feats: Sequence[Tensor], data_samples: list, rescale: bool = True) -> list:
        cls_scores, bbox_preds = self(feats)
        return self.predict_by_feat(cls_scores, bbox_preds, data_samples, rescale=rescale)

    @torch.no_grad()
    def predict_by_feat(self, cls_scores: Sequence[Tensor], bbox_preds: Sequence[Tensor],
                        data_samples: list, rescale: bool = True) -> list:
        """Detections per image: ``InstanceData(bboxes (M, 4) xyxy, scores (M,), labels int64
        (M,))``, best first, in original-image pixels with ``rescale`` (input-tensor pixels
        without). Per level the ``nms_pre`` best (anchor, class) pairs by ``sigmoid``; then
        :func:`zoo.api.select_detections` (``score > score_thr``, NMS per class, clipping,
        ``max_per_img``). Keeping the top k before the threshold keeps the same pairs as
        torchvision's threshold-then-top-k, as the threshold is on the same score."""
        cfg = self.test_cfg
        logits, deltas, priors, counts = self._flatten([c.detach() for c in cls_scores],
                                                       [b.detach() for b in bbox_preds])
        B, _, C = logits.shape
        scores = logits.sigmoid()
        top_scores, top_anchors, top_labels, start = [], [], [], 0
        for lvl_scores in scores.split(counts, dim=1):
            flat = lvl_scores.reshape(B, -1)
            k = min(int(cfg.get('nms_pre', flat.shape[1])), flat.shape[1])
            top, idx = flat.topk(k, dim=1)
            top_scores.append(top)
            top_anchors.append(idx // C + start)
            top_labels.append(idx % C)
            start += lvl_scores.shape[1]
        anchors = torch.cat(top_anchors, 1)                                   # (B, K)
        boxes = self.bbox_coder.decode(priors[anchors],
                                       deltas.gather(1, anchors[..., None].expand(-1, -1, 4)))
        return select_detections(boxes, torch.cat(top_scores, 1), torch.cat(top_labels, 1),
                                 data_samples, C, cfg, rescale)


def _path(part, default: str) -> str:
    return getattr(part, '_zoo_key_path', None) or default
