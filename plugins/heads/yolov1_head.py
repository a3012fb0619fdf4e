"""The YOLOv1 head: an S x S grid, B boxes and one set of class probabilities per cell.

Source: Redmon, Divvala, Girshick & Farhadi, "You Only Look Once: Unified, Real-Time Object
Detection", CVPR 2016: section 2 (the S x S x (B * 5 + C) output tensor; box centres as
offsets within the cell, widths and heights relative to the image; at test time the
class-specific confidence ``Pr(Class_i | Object) * Pr(Object) * IOU``), section 2.1 (two fully
connected layers on the last convolutional features) and section 2.2 (the loss, eq. 3, and its
rules: ``lambda_coord = 5``, ``lambda_noobj = 0.5``, square roots of width and height, the
predictor with the highest current IoU with the ground truth is "responsible" for it, class
probabilities penalised only in cells that hold an object). Details from darknet's
``detection_layer.c`` (``rescore``: the confidence target of the responsible box is its IoU;
``sqrt``; a cell keeps the last of several boxes whose centres fall in it).

Layout of the output of one cell (raw, before activations)::

    [x, y, sqrt_w, sqrt_h, conf] * num_boxes, then C class scores

Activations (the paper's last layer is linear; bounded outputs keep a from-scratch training
stable, and the targets all lie in [0, 1]): ``sigmoid`` for ``x, y`` (offsets in the cell),
``sqrt_w, sqrt_h`` (square roots of the size relative to the input) and ``conf``; the class
scores are turned into probabilities by a softmax for the paper's squared-error class loss, or
passed as logits to a classification loss.

Eq. 3, as computed here (sums over the batch, divided by the number of images)::

    lambda_coord * sum_resp [(x - x^)^2 + (y - y^)^2 + (sqrt w - sqrt w^)^2 + (sqrt h - sqrt h^)^2]
    + sum_resp (conf - IoU)^2 + lambda_noobj * sum_other conf^2
    + sum_cells_with_object sum_c (p(c) - p^(c))^2

The grid covers the input tensor (``batch_input_shape``, padding included): cell (i, j) spans
input pixels ``[j W / S, (j + 1) W / S) x [i H / S, (i + 1) H / S)``.
"""
from __future__ import annotations

from typing import Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

import registry
from registry import HEADS, AssemblyError, Requires
from zoo.api import (NORMS, ConvNormAct, check_loss, force_fp32, check_mean_reduction, gt_of, paired_iou,
                     select_detections)

__all__ = ['YOLOV1Head']

DEFAULT_TEST_CFG = dict(nms_pre=1000, score_thr=0.05, nms=dict(iou_threshold=0.5),
                        max_per_img=100, min_bbox_size=0)


@HEADS.register_module()
class YOLOV1Head(nn.Module):
    """YOLOv1's grid head on one feature level (see the module docstring).

    The level ``in_index`` of the features goes through a 3x3 convolution (``feat_channels``,
    normalization, LeakyReLU 0.1), is average-pooled to S x S (adaptive: any input size), then
    two fully connected layers (``fc_channels``, LeakyReLU, dropout; the paper's 4096) give the
    S x S x (B * 5 + C) tensor.

    Args:
        num_classes: C.
        in_channels: channels of the level ``in_index``; must equal the producer's channels there.
        grid_size: S (paper: 7).
        num_boxes: B, boxes per cell (paper: 2).
        in_index: which feature level to read (default -1, the coarsest).
        feat_channels: channels of the 3x3 convolution.
        fc_channels: width of the first fully connected layer (paper: 4096).
        dropout: after the first fully connected layer (paper: 0.5).
        norm: ``'bn'`` or ``'gn'``.
        lambda_coord, lambda_noobj: the paper's loss weights (5 and 0.5).
        rescore: target of the responsible box's confidence is its IoU with the gt (paper:
            "the confidence ... equal to the IOU"; darknet ``rescore=1``); False: 1.
        loss_bbox: box loss (kind ``loss``), default ``MSELoss`` on ``(x, y, sqrt w, sqrt h)``
            (times ``lambda_coord``); an IoU-family loss compares decoded boxes in pixels (also
            times ``lambda_coord``).
        loss_cls: class loss (kind ``loss``), default ``MSELoss`` on the softmax probabilities
            against one-hot targets (the paper's); a classification loss (``CrossEntropyLoss``,
            ``FocalLoss``) takes the logits and labels instead.
        train_cfg: unused (accepted for the detector's uniform arguments).
        test_cfg: ``dict(nms_pre=1000, score_thr=0.05, nms=dict(iou_threshold=0.5),
            max_per_img=100, min_bbox_size=0)`` (the defaults); ``nms=dict(type='diou_nms',
            iou_threshold=...)`` selects DIoU-NMS (:func:`zoo.api.batched_nms_by_cfg`).

    Shapes:
        ``forward(feats)`` -> (B, S, S, num_boxes * 5 + C) raw outputs, cell (row, column).

    Raises:
        ValueError: a size that is not a positive int; unknown ``norm``; negative lambdas or a
            dropout outside [0, 1).
        AssemblyError: a box loss on decoded boxes as ``loss_cls``; a classification loss as
            ``loss_bbox``.
        ConfigError: a loss whose reduction is not ``'mean'``.
    """

    def __init__(self, num_classes: int, in_channels: int, grid_size: int = 7, num_boxes: int = 2,
                 in_index: int = -1, feat_channels: int = 256, fc_channels: int = 512,
                 dropout: float = 0.5, norm: str = 'bn', lambda_coord: float = 5.0,
                 lambda_noobj: float = 0.5, rescore: bool = True,
                 loss_bbox: Optional[dict] = None, loss_cls: Optional[dict] = None,
                 train_cfg: Optional[dict] = None, test_cfg: Optional[dict] = None):
        super().__init__()
        for name, value in (('num_classes', num_classes), ('in_channels', in_channels),
                            ('grid_size', grid_size), ('num_boxes', num_boxes),
                            ('feat_channels', feat_channels), ('fc_channels', fc_channels)):
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(f'YOLOV1Head.{name} must be a positive int, got {value!r}')
        if not isinstance(in_index, int) or isinstance(in_index, bool):
            raise ValueError(f'YOLOV1Head.in_index must be an int (a feature level), got {in_index!r}')
        for name, value in (('lambda_coord', lambda_coord), ('lambda_noobj', lambda_noobj)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ValueError(f'YOLOV1Head.{name} must be a number >= 0, got {value!r}')
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0 <= dropout < 1:
            raise ValueError(f'YOLOV1Head.dropout must be in [0, 1), got {dropout!r}')
        if norm not in NORMS:
            raise ValueError(f'YOLOV1Head.norm must be one of {NORMS}, got {norm!r}')
        self.num_classes, self.in_channels, self.in_index = num_classes, in_channels, in_index
        self.grid_size, self.num_boxes = grid_size, num_boxes
        self.lambda_coord, self.lambda_noobj = float(lambda_coord), float(lambda_noobj)
        self.rescore = bool(rescore)
        self.loss_bbox = registry.build('loss', loss_bbox or dict(type='MSELoss'), key='loss_bbox')
        self.loss_cls = registry.build('loss', loss_cls or dict(type='MSELoss'), key='loss_cls')
        check_loss(self.loss_bbox, 'regression', 'loss_bbox')
        check_loss(self.loss_cls, ('classification', 'regression'), 'loss_cls')
        if self.loss_cls.loss_kind == 'regression' and self.loss_cls.takes_decoded_boxes:
            path = getattr(self.loss_cls, '_zoo_key_path', None) or 'loss_cls'
            raise AssemblyError(f'{path}.type = {type(self.loss_cls).__name__!r} is a box loss on '
                                'decoded boxes, but loss_cls needs a classification loss (on '
                                'logits) or the paper\'s squared error on class probabilities '
                                '(MSELoss)')
        for key in ('loss_bbox', 'loss_cls'):
            check_mean_reduction(getattr(self, key), key)
        self.cls_on_probs = self.loss_cls.loss_kind == 'regression'
        self.cls_sigmoid = bool(getattr(self.loss_cls, 'use_sigmoid', False))
        self.decoded_bbox_loss = bool(getattr(self.loss_bbox, 'takes_decoded_boxes', False))
        self.train_cfg = train_cfg
        self.test_cfg = {**DEFAULT_TEST_CFG, **(test_cfg or {})}

        S, self.num_outputs = grid_size, num_boxes * 5 + num_classes
        self.conv = ConvNormAct(in_channels, feat_channels, 3, norm=norm)
        self.fc1 = nn.Linear(feat_channels * S * S, fc_channels)
        self.drop = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.fc2 = nn.Linear(fc_channels, S * S * self.num_outputs)
        nn.init.normal_(self.fc2.weight, std=0.01)
        nn.init.constant_(self.fc2.bias, 0.0)

    def consumes(self) -> list[Requires]:
        """``in_channels`` must equal the channels of the level ``in_index`` (the detector
        checks this against that level only)."""
        return [Requires('in_channels', self.in_channels, 'channels', 'each')]

    # forward ---------------------------------------------------------------------------------
    def forward(self, feats: Sequence[Tensor]) -> Tensor:
        x = feats[self.in_index]
        if x.shape[1] != self.in_channels:
            raise ValueError(f'YOLOV1Head got {x.shape[1]} channels at level {self.in_index}, '
                             f'expected in_channels {self.in_channels}')
        S = self.grid_size
        x = F.adaptive_avg_pool2d(self.conv(x), S).flatten(1)
        x = self.drop(F.leaky_relu(self.fc1(x), 0.1))
        return self.fc2(x).view(-1, S, S, self.num_outputs)

    def _split(self, out: Tensor, input_hw: tuple[int, int]):
        """Raw output -> (coords (B, S*S, nb, 4) = x, y, sqrt_w, sqrt_h in [0, 1], decoded boxes
        (B, S*S, nb, 4) xyxy input pixels, conf (B, S*S, nb), class scores (B, S*S, C)), in
        float32 (under CUDA autocast ``out`` is float16, whose range pixel areas overflow)."""
        B, S, nb = out.shape[0], self.grid_size, self.num_boxes
        out = out.float().reshape(B, S * S, self.num_outputs)
        box = out[..., :nb * 5].reshape(B, S * S, nb, 5)
        coords = box[..., :4].sigmoid()
        conf = box[..., 4].sigmoid()
        H, W = input_hw
        rows, cols = torch.meshgrid(torch.arange(S, device=out.device, dtype=out.dtype),
                                    torch.arange(S, device=out.device, dtype=out.dtype),
                                    indexing='ij')
        cx = (cols.reshape(1, -1, 1) + coords[..., 0]) * (W / S)
        cy = (rows.reshape(1, -1, 1) + coords[..., 1]) * (H / S)
        w, h = coords[..., 2] ** 2 * W, coords[..., 3] ** 2 * H
        boxes = torch.stack((cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2), -1)
        return coords, boxes, conf, out[..., nb * 5:]

    @staticmethod
    def _input_hw(data_samples: list) -> tuple[int, int]:
        meta = data_samples[0].metainfo
        shape = meta.get('batch_input_shape') or meta.get('pad_shape')
        if shape is None:
            raise ValueError('YOLOV1Head needs metainfo batch_input_shape (set by the data '
                             'preprocessor): its grid covers the input tensor')
        return int(shape[0]), int(shape[1])

    def _class_probs(self, cls: Tensor) -> Tensor:
        if self.cls_on_probs or not self.cls_sigmoid:
            return cls.softmax(-1)
        return cls.sigmoid()

    # training --------------------------------------------------------------------------------
    def loss(self, feats: Sequence[Tensor], data_samples: list) -> dict:
        return self.loss_by_feat(self(feats), data_samples)

    @force_fp32
    def loss_by_feat(self, out: Tensor, data_samples: list) -> dict:
        """The terms of eq. 3: ``loss_bbox`` (coordinates, times lambda_coord), ``loss_obj``
        (confidence of responsible boxes), ``loss_noobj`` (the other boxes, times lambda_noobj),
        ``loss_cls`` (cells with an object); each summed over the batch, divided by the number
        of images.

        Args:
            out: (B, S, S, nb * 5 + C), the output of :meth:`forward`.
            data_samples: per image ``gt_instances`` (bboxes xyxy in input-tensor pixels, labels)
                and metainfo ``batch_input_shape``. Boxes flagged ignore take no part.
        """
        B, S, nb = out.shape[0], self.grid_size, self.num_boxes
        H, W = self._input_hw(data_samples)
        out = out.float()
        coords, boxes, conf, cls = self._split(out, (H, W))
        gts = [gt_of(s) for s in data_samples]
        counts = torch.tensor([g[0].shape[0] for g in gts], device=out.device)
        gt = torch.cat([g[0] for g in gts]).to(out.dtype)                  # (M, 4)
        labels = torch.cat([g[1] for g in gts]).long()
        img = torch.repeat_interleave(torch.arange(B, device=out.device), counts)
        ctr, wh = (gt[:, :2] + gt[:, 2:]) / 2, gt[:, 2:] - gt[:, :2]
        size = out.new_tensor([W / S, H / S])
        col_row = torch.floor(ctr / size).long().clamp(0, S - 1)           # (M, 2)
        cell = img * S * S + col_row[:, 1] * S + col_row[:, 0]
        # one box per cell: the last box of the image (darknet's fill_truth_region order)
        order = torch.arange(gt.shape[0], device=out.device)
        winner = torch.full((B * S * S,), -1, dtype=torch.long, device=out.device)
        winner.scatter_reduce_(0, cell, order, reduce='amax')
        keep = winner[cell] == order
        gt, labels, cell, ctr, wh, col_row = (t[keep] for t in (gt, labels, cell, ctr, wh, col_row))
        # the responsible predictor: highest IoU of the cell's nb boxes with the gt
        flat_boxes = boxes.reshape(B * S * S, nb, 4)
        ious = paired_iou(flat_boxes[cell].detach(), gt[:, None, :].expand(-1, nb, 4))  # (M', nb)
        resp = ious.argmax(1)
        obj_mask = torch.zeros(B * S * S, nb, dtype=torch.bool, device=out.device)
        obj_mask[cell, resp] = True
        # coordinates
        if self.decoded_bbox_loss:
            loss_bbox = self.loss_bbox(flat_boxes[cell, resp], gt, avg_factor=B)
        else:
            target = torch.cat((ctr / size - col_row.to(out.dtype),
                                (wh / out.new_tensor([W, H])).clamp(min=0).sqrt()), 1)
            loss_bbox = self.loss_bbox(coords.reshape(B * S * S, nb, 4)[cell, resp], target,
                                       avg_factor=B)
        # confidences
        flat_conf = conf.reshape(B * S * S, nb)
        conf_target = ious[torch.arange(resp.numel(), device=out.device), resp] if self.rescore \
            else torch.ones_like(resp, dtype=out.dtype)
        loss_obj = ((flat_conf[cell, resp] - conf_target) ** 2).sum() / B
        loss_noobj = self.lambda_noobj * (flat_conf[~obj_mask] ** 2).sum() / B
        # classes of the cells with an object
        cell_cls = cls.reshape(B * S * S, self.num_classes)[cell]
        if self.cls_on_probs:
            onehot = F.one_hot(labels, self.num_classes).to(out.dtype)
            loss_cls = self.loss_cls(cell_cls.softmax(-1), onehot, avg_factor=B)
        else:
            loss_cls = self.loss_cls(cell_cls, labels, avg_factor=B)
        return dict(loss_bbox=self.lambda_coord * loss_bbox, loss_obj=loss_obj,
                    loss_noobj=loss_noobj, loss_cls=loss_cls)

    # inference -------------------------------------------------------------------------------
    def predict(self, feats: Sequence[Tensor], data_samples: list, rescale: bool = True) -> list:
        return self.predict_by_feat(self(feats), data_samples, rescale=rescale)

    @torch.no_grad()
    @force_fp32
    def predict_by_feat(self, out: Tensor, data_samples: list, rescale: bool = True) -> list:
        """Detections per image (``InstanceData`` bboxes (M, 4) xyxy, scores (M,), labels
        int64 (M,)), in original-image pixels with ``rescale``: score = conf * class
        probability (paper section 2), the ``nms_pre`` best (box, class) pairs, then
        ``score_thr``, NMS per class, ``max_per_img``; boxes clipped to ``img_shape``."""
        B, C = out.shape[0], self.num_classes
        _, boxes, conf, cls = self._split(out.detach(), self._input_hw(data_samples))
        scores = (conf[..., None] * self._class_probs(cls)[:, :, None, :]).reshape(B, -1)
        k = min(int(self.test_cfg.get('nms_pre', scores.shape[1])), scores.shape[1])
        top, idx = scores.topk(k, dim=1)
        top_boxes = boxes.reshape(B, -1, 4).gather(1, (idx // C)[..., None].expand(-1, -1, 4))
        return select_detections(top_boxes, top, idx % C, data_samples, C, self.test_cfg, rescale)
