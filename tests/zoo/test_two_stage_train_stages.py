"""``TwoStageDetector.train_stage``: the losses of the 4-step alternating training. ``'rpn'``
trains the RPN alone, ``'fast_rcnn'`` the RoI head alone on the proposals the data samples
carry; neither touches the other head."""
from __future__ import annotations

import os
import warnings

import pytest
import torch
from mmengine.config import Config
from mmengine.structures import InstanceData

import registry
from zoo.datasets import DatasetWarning, VOCDataset
from zoo.detectors.builder import build_detector

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PIPELINE = [dict(type='LoadImageFromFile'), dict(type='Resize', scale=(160, 120)),
            dict(type='PackDetInputs')]


@pytest.fixture(scope='module')
def model_and_batch():
    registry.discover()
    torch.manual_seed(0)
    cfg = Config.fromfile(os.path.join(ROOT, 'configs/faster_rcnn/faster_rcnn_zf_bccd.py'))
    cfg.model.roi_head.bbox_head.fc_out_channels = 64
    model = build_detector(cfg.model)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', DatasetWarning)
        ds = VOCDataset(os.path.join(ROOT, 'data/BCCD'), classes=('RBC', 'WBC', 'Platelets'),
                        split='train', pipeline=PIPELINE, indices=[3, 4])
    items = [ds[0], ds[1]]
    batch = dict(inputs=[i['inputs'] for i in items],
                 data_samples=[i['data_samples'] for i in items])
    return model, batch


def _grads(model, batch, stage, with_proposals=False):
    model.train()
    model.zero_grad(set_to_none=True)
    data = model.data_preprocessor(batch, True)
    if with_proposals:
        for sample in data['data_samples']:
            gt = sample.gt_instances.bboxes
            sample.proposals = InstanceData(bboxes=torch.cat([gt, gt + 3.0]),
                                            scores=torch.ones(2 * len(gt)))
    model.set_train_stage(stage)
    try:
        losses = model(**data, mode='loss')
    finally:
        model.set_train_stage('joint')
    sum(v for k, v in losses.items() if 'loss' in k).backward()
    has = {part: any(p.grad is not None for p in getattr(model, part).parameters())
           for part in ('backbone', 'rpn_head', 'roi_head')}
    return {k for k in losses if 'loss' in k}, has


def test_rpn_stage_trains_the_rpn_and_the_backbone_only(model_and_batch):
    keys, has = _grads(*model_and_batch, 'rpn')
    assert keys == {'loss_rpn_cls', 'loss_rpn_bbox'}
    assert has == dict(backbone=True, rpn_head=True, roi_head=False)


def test_fast_rcnn_stage_trains_the_roi_head_on_given_proposals(model_and_batch):
    keys, has = _grads(*model_and_batch, 'fast_rcnn', with_proposals=True)
    assert keys == {'loss_cls', 'loss_bbox'}
    assert has == dict(backbone=True, rpn_head=False, roi_head=True)


def test_joint_is_the_default(model_and_batch):
    model, batch = model_and_batch
    assert model.train_stage == 'joint'
    keys, has = _grads(model, batch, 'joint')
    assert keys == {'loss_rpn_cls', 'loss_rpn_bbox', 'loss_cls', 'loss_bbox'}
    assert all(has.values())


def test_fast_rcnn_stage_without_proposals_and_a_bad_stage(model_and_batch):
    model, batch = model_and_batch
    with pytest.raises(RuntimeError, match='LoadProposals'):
        _grads(model, batch, 'fast_rcnn')
    with pytest.raises(ValueError, match="'rpn', 'fast_rcnn'"):
        model.set_train_stage('rcnn')
