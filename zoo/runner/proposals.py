"""Computing an RPN's proposals for every image of a data set (py-faster-rcnn's
``rpn_generate`` / ``imdb_proposals``), in original-image pixels, for a proposal file.

Used by the 4-step alternating training (Ren et al. 2015, section 3.2): step 2 trains Fast
R-CNN on the proposals of the step-1 RPN, step 4 on those of the step-3 RPN.
"""
from __future__ import annotations

from typing import Any

import torch
from mmengine.dist import all_gather_object, get_world_size
from mmengine.model import is_model_wrapper

from registry import ConfigError
from zoo.structures import clip_boxes, rescale_boxes


@torch.no_grad()
def generate_proposals(model: Any, dataloader: Any, proposal_cfg: dict) -> dict:
    """Run the RPN of a two-stage ``model`` over ``dataloader``; proposals per image.

    The model is put in eval mode for the pass and back in its former mode after it. Each batch
    goes through the model's data preprocessor, ``extract_feat`` and
    ``rpn_head.predict_by_feat(..., proposal_cfg)``; the boxes, in input-tensor pixels, are
    divided by the sample's ``scale_factor`` (w, h) and clipped to its ``ori_shape``. Under
    several processes each computes its share of the data set and all of them get the union.

    Args:
        model: a two-stage detector (or a model wrapper around one) with ``data_preprocessor``,
            ``extract_feat`` and ``rpn_head``.
        dataloader: batches of the data set through a pipeline that neither flips nor crops
            (a test pipeline); every image must have a distinct ``img_id``.
        proposal_cfg: ``dict(nms_pre, max_per_img, nms=dict(iou_threshold), min_bbox_size)``,
            as ``model.train_cfg.rpn_proposal``.

    Returns:
        ``{img_id: dict(bboxes=float32 (K, 4) xyxy in original-image pixels, scores=float32
        (K,) sorted descending)}`` on the CPU, for every image of the data set.

    Raises:
        ConfigError: a sample was flipped (the pipeline must be deterministic), or the data set
            repeats an ``img_id`` (proposals are stored by image id).
    """
    net = model.module if is_model_wrapper(model) else model
    was_training = net.training
    net.eval()
    out: dict = {}
    try:
        for data in dataloader:
            data = net.data_preprocessor(data, False)
            samples = data['data_samples']
            cls_scores, bbox_preds = net.rpn_head(net.extract_feat(data['inputs']))
            props = net.rpn_head.predict_by_feat(cls_scores, bbox_preds, samples, proposal_cfg)
            for sample, prop in zip(samples, props):
                meta = sample.metainfo
                if meta.get('flip'):
                    raise ConfigError(
                        f'image {meta.get("img_id")!r} was flipped by the proposal pipeline; '
                        'proposals are computed on unflipped images (set train_cfg.'
                        'proposal_pipeline to a pipeline without RandomFlip)')
                boxes = clip_boxes(rescale_boxes(prop.bboxes.float(), meta['scale_factor']),
                                   meta['ori_shape'])
                out[meta['img_id']] = dict(bboxes=boxes.cpu(), scores=prop.scores.float().cpu())
    finally:
        net.train(was_training)
    if get_world_size() > 1:
        merged: dict = {}
        for part in all_gather_object(out):
            merged.update(part)
        out = merged
    dataset = dataloader.dataset
    n = len(dataset)
    if len(out) != n:
        raise ConfigError(f'the training set has {n} images but {len(out)} distinct img_id '
                          'values; proposals are stored by image id, which must be unique')
    return out
