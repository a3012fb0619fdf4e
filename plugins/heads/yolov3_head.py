"""The YOLOv3 head: three anchors per cell at each of three scales, objectness and multi-label
classes (Redmon & Farhadi, "YOLOv3: An Incremental Improvement", 2018, sections 2.1-2.3).

Per level: a 3x3 convolution (normalization, LeakyReLU 0.1) and a 1x1 convolution to
``A * (5 + C)`` channels: for each anchor ``(t_x, t_y, t_w, t_h, t_o, c_1 .. c_C)``
(darknet's ``yolov3.cfg`` and mmdet's ``YOLOV3Head``).

Boxes (section 2.1, :class:`~plugins.coders.yolo_bbox_coder.YOLOBBoxCoder`)::

    b_xy = (sigmoid(t_xy) + c_xy) * stride      b_wh = p_wh * exp(t_wh)

Training (section 2.1 and darknet's ``yolo_layer.c``), with :class:`GridAssigner`:

* each gt box is assigned to the one anchor, over all levels, whose (w, h) shape matches it best
  (IoU of shapes at a common centre), at the cell holding its centre: that prediction is positive;
* a prediction whose decoded box overlaps some gt box by more than 0.5 is ignored (no objectness
  loss), all others are negatives;
* objectness: binary cross-entropy (target 1 at positives, 0 at negatives), ``loss_conf``;
  with ``rescore=True`` the target at a positive is the IoU of its decoded predicted box with its
  gt box, detached (YOLOv2, Redmon & Farhadi, CVPR 2017, section "Direct location prediction":
  ``Pr(object) * IoU(b, object) = sigma(t_o)``; darknet's ``rescore`` in ``region_layer.c``);
* classes: independent sigmoids with binary cross-entropy at positives (multi-label, section
  2.2), ``loss_cls``;
* boxes at positives, ``loss_bbox``: squared error on ``(sigmoid(t_x), sigmoid(t_y), t_w, t_h)``
  against the encoded gt by default, or an IoU-family loss on decoded boxes (a loss with
  ``takes_decoded_boxes``, e.g. ``dict(type='GIoULoss')``). Each positive is weighted by
  ``2 - w h / (W H)`` (gt area over input area; darknet's ``scale`` in ``delta_yolo_box``), so
  small boxes count more; ``box_weight_by_area=False`` turns it off.

Every loss is summed over the batch and divided by the number of images (``avg_factor``):
darknet and mmdet sum over the batch; per image keeps the scale independent of the batch size.

Inference: score = sigmoid(objectness) * sigmoid(class); predictions with objectness below
``conf_thr`` are dropped, the ``nms_pre`` best (prediction, class) pairs per image kept, then
``score_thr``, NMS per class, ``max_per_img``, clipping and rescaling to original pixels.
"""
from __future__ import annotations

import math
from typing import Optional, Sequence

import torch
from torch import Tensor, nn

import registry
from registry import HEADS, AssemblyError, ConfigError, Requires
from zoo.api import (NORMS, ConvNormAct, check_loss, check_mean_reduction, force_fp32, gt_of,
                     paired_iou, select_detections)

__all__ = ['YOLOV3Head']

DEFAULT_ANCHORS = dict(type='YOLOAnchorGenerator', strides=[8, 16, 32],
                       base_sizes=[[(10, 13), (16, 30), (33, 23)], [(30, 61), (62, 45), (59, 119)],
                                   [(116, 90), (156, 198), (373, 326)]])
DEFAULT_TEST_CFG = dict(nms_pre=1000, min_bbox_size=0, score_thr=0.05, conf_thr=0.005,
                        nms=dict(iou_threshold=0.45), max_per_img=100)


def bias_init_with_prob(prior_prob: float) -> float:
    """The logit whose sigmoid is ``prior_prob`` (RetinaNet, Lin et al. 2017, section 4.1)."""
    return -math.log((1 - prior_prob) / prior_prob)


@HEADS.register_module()
class YOLOV3Head(nn.Module):
    """YOLOv3's dense head (see the module docstring).

    Args:
        num_classes: C, the number of foreground classes.
        in_channels: channels of each input level, finest first; must equal the producer's
            ``out_channels`` (YOLOV3Neck: ``[128, 256, 512]``; ResNet-FPN with three levels:
            ``[256, 256, 256]``; VGG16: ``[512]``).
        anchor_generator: config (kind ``anchor_generator``), default
            ``YOLOAnchorGenerator`` with YOLOv3's COCO anchors at strides 8/16/32; its strides
            must equal the feature strides (one level of anchors per feature level).
        feat_channels: channels of each level's 3x3 convolution (default: twice ``in_channels``,
            darknet's layout).
        norm: ``'bn'`` or ``'gn'`` for the 3x3 convolutions.
        bbox_coder: config (kind ``coder``), default ``YOLOBBoxCoder``.
        loss_cls: class loss (kind ``loss``), default sigmoid ``CrossEntropyLoss``; a softmax
            ``CrossEntropyLoss`` (``use_sigmoid=False``, C outputs, no background: it sees
            positives only) and ``FocalLoss`` fit too.
        loss_conf: objectness loss (kind ``loss``), default sigmoid ``CrossEntropyLoss``;
            ``FocalLoss`` fits; it must be a sigmoid loss (one logit per prediction).
        loss_bbox: box loss (kind ``loss``), default ``MSELoss`` on encoded boxes; an IoU-family
            loss compares decoded boxes.
        box_weight_by_area: weight each positive's box loss by ``2 - w h / (W H)`` (darknet).
        rescore: the objectness target at a positive is the IoU (detached) of its decoded box
            with its gt box, not 1 (YOLOv2's target; darknet's ``rescore=1``). Default False
            (YOLOv3's target 1).
        train_cfg: ``dict(assigner=dict(type='GridAssigner', ignore_iou_thr=0.5))`` (the
            default when None or without ``assigner``).
        test_cfg: ``dict(nms_pre=1000, conf_thr=0.005, score_thr=0.05,
            nms=dict(iou_threshold=0.45), max_per_img=100, min_bbox_size=0)`` (mmdet's YOLOv3
            settings, the defaults); ``nms=dict(type='diou_nms', iou_threshold=...)`` selects
            DIoU-NMS (:func:`zoo.api.batched_nms_by_cfg`).

    Attributes:
        num_classes, in_channels, feat_channels, num_base_priors (A), anchor_generator,
        bbox_coder, loss_cls, loss_conf, loss_bbox, assigner; ``convs_bridge`` and ``convs_pred``
        (one per level).

    Shapes:
        ``forward(feats)``: per level (B, in_channels[l], H_l, W_l) -> list of
        (B, A * (5 + C), H_l, W_l) raw outputs, channels ordered (anchor, attribute) with
        attributes ``t_x, t_y, t_w, t_h, t_o, c_1..c_C``; predictions flatten as
        (level, y, x, anchor), the order of the anchor generator's priors.

    Raises:
        ValueError: ``num_classes``/``in_channels``/``feat_channels`` not positive ints, or
            ``feat_channels`` of another length; unknown ``norm``.
        AssemblyError: ``in_channels`` has a different number of levels than the anchor
            generator's strides; a loss of the wrong kind (a box loss for classes or
            objectness, a classification loss for boxes).
        ConfigError: a softmax objectness loss; a loss whose reduction is not ``'mean'``.
    """

    def __init__(self, num_classes: int, in_channels: Sequence[int] = (128, 256, 512),
                 anchor_generator: Optional[dict] = None,
                 feat_channels: Optional[Sequence[int]] = None, norm: str = 'bn',
                 bbox_coder: Optional[dict] = None, loss_cls: Optional[dict] = None,
                 loss_conf: Optional[dict] = None, loss_bbox: Optional[dict] = None,
                 box_weight_by_area: bool = True, rescore: bool = False, train_cfg: Optional[dict] = None,
                 test_cfg: Optional[dict] = None):
        super().__init__()
        if not isinstance(num_classes, int) or isinstance(num_classes, bool) or num_classes <= 0:
            raise ValueError(f'YOLOV3Head.num_classes must be a positive int, got {num_classes!r}')
        in_channels = _ints('in_channels', in_channels)
        feat_channels = tuple(2 * c for c in in_channels) if feat_channels is None \
            else _ints('feat_channels', feat_channels)
        if len(feat_channels) != len(in_channels):
            raise ValueError(f'YOLOV3Head.feat_channels {list(feat_channels)} needs one entry per '
                             f'level of in_channels {list(in_channels)}')
        if norm not in NORMS:
            raise ValueError(f'YOLOV3Head.norm must be one of {NORMS}, got {norm!r}')
        self.num_classes, self.in_channels = num_classes, in_channels
        self.feat_channels = feat_channels
        self.anchor_generator = registry.build('anchor_generator',
                                               anchor_generator or DEFAULT_ANCHORS,
                                               key='anchor_generator')
        if not hasattr(self.anchor_generator, 'anchor_wh'):
            raise AssemblyError(f'{_path(self.anchor_generator, "anchor_generator")}.type = '
                                f'{type(self.anchor_generator).__name__!r} has no anchor sizes '
                                '(anchor_wh); YOLOV3Head needs a YOLOAnchorGenerator')
        if self.anchor_generator.num_levels != len(in_channels):
            raise AssemblyError(
                f'{registry.current_key_path() or "bbox_head"}.in_channels = {list(in_channels)} has '
                f'{len(in_channels)} levels, but {_path(self.anchor_generator, "anchor_generator")}'
                f' has {self.anchor_generator.num_levels} (strides '
                f'{list(self.anchor_generator.strides)}); one level of anchors per feature level')
        self.bbox_coder = registry.build('coder', bbox_coder or dict(type='YOLOBBoxCoder'),
                                         key='bbox_coder')
        self.loss_cls = registry.build('loss', loss_cls or dict(type='CrossEntropyLoss',
                                                                use_sigmoid=True), key='loss_cls')
        self.loss_conf = registry.build('loss', loss_conf or dict(type='CrossEntropyLoss',
                                                                  use_sigmoid=True), key='loss_conf')
        self.loss_bbox = registry.build('loss', loss_bbox or dict(type='MSELoss'), key='loss_bbox')
        check_loss(self.loss_cls, 'classification', 'loss_cls')
        check_loss(self.loss_conf, 'classification', 'loss_conf')
        check_loss(self.loss_bbox, 'regression', 'loss_bbox')
        for key in ('loss_cls', 'loss_conf', 'loss_bbox'):
            check_mean_reduction(getattr(self, key), key)
        if not getattr(self.loss_conf, 'use_sigmoid', True):
            raise ConfigError(f'{_path(self.loss_conf, "loss_conf")}.use_sigmoid = False, but '
                              'objectness is one logit per prediction: use a sigmoid loss '
                              "(CrossEntropyLoss with use_sigmoid=True, or FocalLoss)")
        self.cls_sigmoid = bool(getattr(self.loss_cls, 'use_sigmoid', True))
        self.decoded_bbox_loss = bool(getattr(self.loss_bbox, 'takes_decoded_boxes', False))
        self.box_weight_by_area = bool(box_weight_by_area)
        if not isinstance(rescore, bool):
            raise ValueError(f'{type(self).__name__}.rescore must be True or False, got {rescore!r}')
        self.rescore = rescore
        train_cfg = dict(train_cfg or {})
        self.train_cfg = train_cfg
        self.assigner = registry.build('assigner', train_cfg.get('assigner',
                                                                 dict(type='GridAssigner')),
                                       key='train_cfg.assigner')
        self.test_cfg = {**DEFAULT_TEST_CFG, **(test_cfg or {})}

        A = self.num_base_priors = self.anchor_generator.num_base_anchors
        self.num_attrib = 5 + num_classes
        self.convs_bridge = nn.ModuleList(ConvNormAct(i, f, 3, norm=norm)
                                          for i, f in zip(in_channels, feat_channels))
        self.convs_pred = nn.ModuleList(nn.Conv2d(f, A * self.num_attrib, 1) for f in feat_channels)
        self.init_weights()

    def init_weights(self) -> None:
        """mmdet's ``YOLOV3Head.init_weights``: prediction weights N(0, 0.01); objectness bias
        at prior probability ``8 / (608 / stride) ** 2`` (about 8 objects per 608 px image, the
        initialisation of ultralytics' YOLOv3), class biases at probability 0.01; box biases 0."""
        for conv, stride in zip(self.convs_pred, self.anchor_generator.strides):
            nn.init.normal_(conv.weight, std=0.01)
            bias = conv.bias.data.view(self.num_base_priors, self.num_attrib)
            bias.zero_()
            bias[:, 4] = bias_init_with_prob(min(8 / (608 / stride) ** 2, 0.5))
            bias[:, 5:] = bias_init_with_prob(0.01)

    def consumes(self) -> list[Requires]:
        return [Requires('in_channels', list(self.in_channels), 'channels', 'equal')]

    # forward ---------------------------------------------------------------------------------
    def forward(self, feats: Sequence[Tensor]) -> list[Tensor]:
        if len(feats) != len(self.in_channels):
            raise ValueError(f'YOLOV3Head got {len(feats)} feature levels, expected '
                             f'{len(self.in_channels)} (in_channels {list(self.in_channels)})')
        return [pred(bridge(f)) for f, bridge, pred in zip(feats, self.convs_bridge, self.convs_pred)]

    def _flatten(self, pred_maps: Sequence[Tensor]):
        """Raw maps -> predictions (B, N, 5 + C), priors (N, 4), per-prior strides (N,),
        featmap sizes; N = sum H_l W_l A, ordered (level, y, x, anchor). Computed in float32
        (under CUDA autocast the maps are float16, whose range pixel areas overflow)."""
        A, K = self.num_base_priors, self.num_attrib
        preds, strides = [], []
        sizes = [tuple(m.shape[-2:]) for m in pred_maps]
        for m, s in zip(pred_maps, self.anchor_generator.strides):
            B, _, H, W = m.shape
            preds.append(m.float().reshape(B, A, K, H, W).permute(0, 3, 4, 1, 2).reshape(B, -1, K))
            strides.append(torch.full((H * W * A,), float(s), device=m.device))
        priors = torch.cat(self.anchor_generator.grid_priors(sizes, device=pred_maps[0].device,
                                                             dtype=torch.float32))
        return torch.cat(preds, 1), priors, torch.cat(strides), sizes

    # training --------------------------------------------------------------------------------
    def loss(self, feats: Sequence[Tensor], data_samples: list) -> dict:
        return self.loss_by_feat(self(feats), data_samples)

    @force_fp32
    def loss_by_feat(self, pred_maps: Sequence[Tensor], data_samples: list) -> dict:
        """``loss_cls``, ``loss_conf`` and ``loss_bbox``, each summed over the batch and divided
        by the number of images (see the module docstring).

        Args:
            pred_maps: the output of :meth:`forward`.
            data_samples: per image ``gt_instances`` (bboxes (M, 4) xyxy in input-tensor pixels,
                labels (M,), optional ignore_flags) and metainfo.
        """
        preds, priors, strides, sizes = self._flatten(pred_maps)
        B = preds.shape[0]
        pred_enc = torch.cat((preds[..., :2].sigmoid(), preds[..., 2:4]), -1)  # (B, N, 4)
        decoded = self.bbox_coder.decode(priors, pred_enc, strides)
        gts = [gt_of(s) for s in data_samples]
        gt_bboxes, gt_labels = [g[0] for g in gts], [g[1] for g in gts]
        assign = self.assigner.assign(
            self.anchor_generator.anchor_wh(priors.device, priors.dtype),
            self.anchor_generator.strides, sizes, priors, gt_bboxes, gt_labels,
            pred_bboxes=decoded.detach(), gt_bboxes_ignore=[g[2] for g in gts])
        pos, neg = assign.pos_mask, assign.neg_mask
        b_idx, n_idx = pos.nonzero(as_tuple=True)
        offsets = assign.num_gts.cumsum(0) - assign.num_gts
        all_gts = torch.cat(gt_bboxes).to(preds.dtype) if gt_bboxes else preds.new_zeros(0, 4)
        pos_gt = all_gts[offsets[b_idx] + assign.gt_inds[b_idx, n_idx] - 1]   # (P, 4)
        # objectness over positives and negatives
        if self.rescore:
            obj_target = torch.zeros_like(preds[..., 4])
            obj_target[b_idx, n_idx] = paired_iou(decoded[b_idx, n_idx].detach(), pos_gt)
            obj_target = obj_target.reshape(-1, 1)
        else:
            obj_target = pos.to(preds.dtype).reshape(-1, 1)
        obj_weight = (pos | neg).to(preds.dtype).reshape(-1)
        loss_conf = self.loss_conf(preds[..., 4].reshape(-1, 1), obj_target, weight=obj_weight,
                                   avg_factor=B)
        # classes and boxes at positives
        pos_labels = assign.labels[b_idx, n_idx]
        loss_cls = self.loss_cls(preds[b_idx, n_idx, 5:], pos_labels, avg_factor=B)
        weight = None
        if self.box_weight_by_area:
            H0, W0 = sizes[0]
            area = float(H0 * W0 * self.anchor_generator.strides[0] ** 2)   # input tensor area
            gt_wh = pos_gt[:, 2:] - pos_gt[:, :2]
            weight = 2.0 - gt_wh[:, 0] * gt_wh[:, 1] / area
        if self.decoded_bbox_loss:
            loss_bbox = self.loss_bbox(decoded[b_idx, n_idx], pos_gt, weight=weight, avg_factor=B)
        else:
            target = self.bbox_coder.encode(priors[n_idx], pos_gt, strides[n_idx])
            loss_bbox = self.loss_bbox(pred_enc[b_idx, n_idx], target, weight=weight, avg_factor=B)
        return dict(loss_cls=loss_cls, loss_conf=loss_conf, loss_bbox=loss_bbox)

    # inference -------------------------------------------------------------------------------
    def predict(self, feats: Sequence[Tensor], data_samples: list, rescale: bool = True) -> list:
        return self.predict_by_feat(self(feats), data_samples, rescale=rescale)

    @torch.no_grad()
    @force_fp32
    def predict_by_feat(self, pred_maps: Sequence[Tensor], data_samples: list,
                        rescale: bool = True) -> list:
        """Detections per image: ``InstanceData(bboxes (M, 4) xyxy, scores (M,), labels int64
        (M,))``, best first, in original-image pixels with ``rescale`` (input-tensor pixels
        without); see the module docstring for the steps and ``test_cfg`` for the settings."""
        cfg = self.test_cfg
        preds, priors, strides, _ = self._flatten([m.detach() for m in pred_maps])
        B, N, _ = preds.shape
        C = self.num_classes
        pred_enc = torch.cat((preds[..., :2].sigmoid(), preds[..., 2:4]), -1)
        boxes = self.bbox_coder.decode(priors, pred_enc, strides)           # (B, N, 4)
        obj = preds[..., 4].sigmoid()
        cls = preds[..., 5:].sigmoid() if self.cls_sigmoid else preds[..., 5:].softmax(-1)
        scores = obj[..., None] * cls                                       # (B, N, C)
        scores = scores.masked_fill((obj < cfg.get('conf_thr', 0.0))[..., None], 0.0)
        if isinstance(N, Tensor):  # traced under ONNX export: k stays symbolic
            k = torch.clamp(N * C, max=int(cfg['nms_pre'])) if 'nms_pre' in cfg else N * C
        else:
            k = min(int(cfg.get('nms_pre', N * C)), N * C)
        top, idx = scores.reshape(B, -1).topk(k, dim=1)                     # (B, k)
        top_boxes = boxes.gather(1, (idx // C)[..., None].expand(-1, -1, 4))
        return select_detections(top_boxes, top, idx % C, data_samples, C, cfg, rescale)


def _ints(name: str, value) -> tuple[int, ...]:
    if isinstance(value, int) and not isinstance(value, bool):
        value = (value,)
    if (not isinstance(value, Sequence) or isinstance(value, str) or not value
            or any(not isinstance(v, int) or isinstance(v, bool) or v <= 0 for v in value)):
        raise ValueError(f'YOLOV3Head.{name} must be a non-empty list of positive ints (one per '
                         f'level, finest first), got {value!r}')
    return tuple(value)


def _path(part, default: str) -> str:
    return getattr(part, '_zoo_key_path', None) or default
