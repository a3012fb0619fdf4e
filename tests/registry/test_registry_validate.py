"""validate_types: every ``type`` of a whole config, checked against the kind its key implies."""
from __future__ import annotations

import pytest

from registry import UnknownPartError, validate_types
from registry.validate import kind_of_key


def make(name, module='acme_zoo.parts'):
    return type(name, (), {'__module__': module, '__qualname__': name})


@pytest.fixture
def parts(cats):
    for kind, name in [('detector', 'TwoStage'), ('backbone', 'ResNet'), ('neck', 'FPN'),
                       ('head', 'RPNHead'), ('head', 'StandardRoIHead'),
                       ('roi_extractor', 'SingleRoIExtractor'), ('roi_extractor', 'RoIAlign'),
                       ('loss', 'CrossEntropyLoss'), ('assigner', 'MaxIoUAssigner'),
                       ('sampler', 'RandomSampler'), ('dataset', 'VOCDataset'),
                       ('transform', 'LoadImage'), ('transform', 'RandomFlip'),
                       ('transform', 'Resize'), ('metric', 'VOCMetric')]:
        cats[kind].register_module(module=make(name))
    return cats


def config():
    pipeline = [dict(type='LoadImage'), dict(type='Resize', scale=(1000, 600)),
                dict(type='RandomFlip', prob=0.5)]
    return dict(
        model=dict(
            type='TwoStage', backbone=dict(type='ResNet'), neck=dict(type='FPN'),
            rpn_head=dict(type='RPNHead', loss_cls=dict(type='CrossEntropyLoss')),
            roi_head=dict(type='StandardRoIHead', bbox_roi_extractor=dict(
                type='SingleRoIExtractor', roi_layer=dict(type='RoIAlign'))),
            train_cfg=dict(rpn=dict(assigner=dict(type='MaxIoUAssigner'),
                                    sampler=dict(type='RandomSampler')))),
        train_dataloader=dict(
            batch_size=2, sampler=dict(type='DefaultSampler', shuffle=True),
            collate_fn=dict(type='pseudo_collate'),
            dataset=dict(type='VOCDataset', pipeline=pipeline)),
        val_evaluator=dict(type='VOCMetric'),
        optim_wrapper=dict(type='OptimWrapper', optimizer=dict(type='SGD', lr=0.02)),
        param_scheduler=[dict(type='LinearLR', start_factor=0.001),
                         dict(type='MultiStepLR', milestones=[8, 11])],
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=1)),
        train_cfg=dict(type='EpochBasedTrainLoop', max_epochs=12),
        unrelated=dict(note='no type here', numbers=[1, 2, 3]),
    )


def test_a_whole_config_with_zoo_and_mmengine_types_passes(parts):
    assert validate_types(config()) == 23  # every `type`: 10 in model, 6 in the dataloader, ...


def test_a_misspelled_transform_in_a_pipeline_list_names_its_index(parts):
    cfg = config()
    cfg['train_dataloader']['dataset']['pipeline'][2]['type'] = 'RandomFlp'
    with pytest.raises(UnknownPartError) as info:
        validate_types(cfg)
    assert str(info.value) == (
        "train_dataloader.dataset.pipeline.2.type = 'RandomFlp': no transform of that name is "
        "registered; did you mean 'RandomFlip' (plugin acme_zoo)?")


def test_a_deep_key_path_and_the_kind_its_key_implies(parts):
    cfg = config()
    cfg['model']['roi_head']['bbox_roi_extractor']['roi_layer']['type'] = 'RoIAlgn'
    with pytest.raises(UnknownPartError, match=r"model\.roi_head\.bbox_roi_extractor\.roi_layer"
                                               r"\.type = 'RoIAlgn': no RoI extractor"):
        validate_types(cfg)


def test_a_part_of_another_kind_is_named_as_such(parts):
    cfg = config()
    cfg['model']['neck']['type'] = 'ResNet'
    with pytest.raises(UnknownPartError, match="'ResNet' is a backbone, not a neck"):
        validate_types(cfg)


def test_a_type_under_any_other_key_must_be_registered_somewhere(parts):
    cfg = config()
    cfg['optim_wrapper']['optimizer']['type'] = 'SDG'
    with pytest.raises(UnknownPartError) as info:
        validate_types(cfg)
    msg = str(info.value)
    assert msg.startswith("optim_wrapper.optimizer.type = 'SDG' is registered nowhere")
    assert "did you mean 'SGD'" in msg


def test_mmengine_hooks_and_loops_are_found(parts):
    cfg = config()
    cfg['default_hooks']['checkpoint']['type'] = 'CheckpointHok'
    with pytest.raises(UnknownPartError, match="did you mean 'CheckpointHook'"):
        validate_types(cfg)


@pytest.mark.parametrize('path, kind', [
    ('model', 'detector'), ('model.backbone', 'backbone'), ('model.neck', 'neck'),
    ('model.rpn_head', 'head'), ('model.roi_head.bbox_head', 'head'),
    ('model.roi_head.bbox_roi_extractor', 'roi_extractor'),
    ('model.roi_head.bbox_roi_extractor.roi_layer', 'roi_extractor'),
    ('model.rpn_head.anchor_generator', 'anchor_generator'),
    ('model.rpn_head.prior_generator', 'anchor_generator'),
    ('model.rpn_head.bbox_coder', 'coder'), ('model.rpn_head.loss_bbox', 'loss'),
    ('model.train_cfg.rpn.assigner', 'assigner'), ('model.train_cfg.rcnn.sampler', 'sampler'),
    ('model.data_preprocessor', 'transform'),
    ('train_dataloader.dataset', 'dataset'), ('train_dataloader.dataset.pipeline.0', 'transform'),
    ('train_dataloader.sampler', None), ('train_dataloader.batch_sampler', None),
    ('val_evaluator', 'metric'), ('val_evaluator.1', 'metric'),
    ('train_cfg', 'loop'), ('test_cfg', 'loop'), ('model.train_cfg', None),
    ('optim_wrapper.optimizer', None), ('param_scheduler.0', None),
])
def test_kind_of_key(path, kind):
    assert kind_of_key(tuple(path.split('.'))) == kind
