"""Stored proposals (``LoadProposals``) follow the image through ``Resize`` and every
``RandomFlip`` exactly as the ground truth does, and end up in ``data_sample.proposals``."""
from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import torch

from registry import ConfigError
from zoo.datasets import DatasetWarning, VOCDataset
from zoo.transforms import Compose, LoadProposals, load_proposal_file, save_proposal_file
from zoo.transforms.load_proposals import ProposalFileError

BCCD = Path(__file__).resolve().parents[2] / 'data' / 'BCCD'
CLASSES = ('RBC', 'WBC', 'Platelets')


@pytest.fixture(scope='module')
def dataset():
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', DatasetWarning)
        return VOCDataset(str(BCCD), classes=CLASSES, split='val', indices=3)


@pytest.fixture
def gt_file(dataset, tmp_path):
    """A proposal file whose proposals are each image's ground-truth boxes (original pixels)."""
    props = {}
    for i in range(len(dataset)):
        res = dataset.prepare_results(i)
        boxes = res['gt_bboxes'].as_subclass(torch.Tensor)
        props[res['img_id']] = dict(bboxes=boxes, scores=torch.linspace(1, 0, len(boxes)))
    path = tmp_path / 'props.pth'
    save_proposal_file(str(path), props, meta=dict(source='ground truth'))
    return path


@pytest.mark.parametrize('seed', range(4))
def test_proposals_move_with_the_ground_truth(dataset, gt_file, seed):
    pipeline = Compose([
        dict(type='LoadImageFromFile'), dict(type='LoadProposals', proposal_file=str(gt_file)),
        dict(type='Resize', scale=(200, 150)),
        dict(type='RandomFlip', prob=0.5, direction='horizontal'),
        dict(type='RandomFlip', prob=0.5, direction='vertical'),
        dict(type='PackDetInputs')])
    torch.manual_seed(seed)
    for i in range(len(dataset)):
        sample = pipeline(dataset.prepare_results(i))['data_samples']
        assert sample.metainfo['img_shape'] == (150, 200)
        props, gt = sample.proposals, sample.gt_instances
        assert props.bboxes.dtype == torch.float32 and props.bboxes.shape == gt.bboxes.shape
        assert torch.equal(props.bboxes, gt.bboxes)
        assert torch.equal(props.scores, torch.linspace(1, 0, len(gt.bboxes)))


def test_flipped_and_resized_by_hand(dataset, tmp_path):
    res = dataset.prepare_results(0)
    h, w = res['ori_shape']
    path = tmp_path / 'p.pth'
    save_proposal_file(str(path), {res['img_id']: dict(bboxes=torch.tensor([[10., 20., 50., 80.]]),
                                                      scores=torch.tensor([0.9]))})
    pipeline = Compose([dict(type='LoadImageFromFile'),
                        dict(type='LoadProposals', proposal_file=str(path)),
                        dict(type='Resize', scale_factor=0.5),
                        dict(type='RandomFlip', prob=1.0), dict(type='PackDetInputs')])
    box = pipeline(res)['data_samples'].proposals.bboxes[0]
    assert torch.allclose(box, torch.tensor([w / 2 - 25., 10., w / 2 - 5., 40.]))


def test_file_round_trip_and_num_max_proposals(dataset, gt_file):
    loaded = load_proposal_file(str(gt_file))
    res = dataset.prepare_results(0)
    assert set(loaded) == {dataset.prepare_results(i)['img_id'] for i in range(len(dataset))}
    out = LoadProposals(str(gt_file), num_max_proposals=2)(res)
    assert out['proposals'].shape == (2, 4) and out['proposals_scores'].shape == (2,)
    assert tuple(out['proposals'].canvas_size) == tuple(res['ori_shape'])


def test_missing_image_and_missing_file_are_named(dataset, tmp_path):
    path = tmp_path / 'other.pth'
    save_proposal_file(str(path), {'not_an_image': dict(bboxes=torch.zeros(0, 4),
                                                        scores=torch.zeros(0))})
    res = dataset.prepare_results(0)
    with pytest.raises(ProposalFileError, match=res['img_id']):
        LoadProposals(str(path))(res)
    with pytest.raises(ProposalFileError, match='nope.pth'):
        LoadProposals(str(tmp_path / 'nope.pth'))(dataset.prepare_results(0))
    with pytest.raises(ConfigError, match='num_max_proposals'):
        LoadProposals(str(path), num_max_proposals=0)
    with pytest.raises(ValueError, match='bboxes'):
        save_proposal_file(str(path), {'x': dict(bboxes=torch.zeros(3), scores=torch.zeros(3))})
