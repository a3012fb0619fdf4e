"""The loss study of configs/ablations/yolov3_box_loss.py: five variants of the YOLOv3 BCCD recipe
(squared error, IoU, GIoU, DIoU, CIoU), two seeds, differing from the recipe only in the box loss;
each builds and trains two steps with finite losses; ``zoo ablate --dry-run`` lists them."""
import os

import pytest
import torch

import registry
from zoo.ablation import config_diff, load_ablation, variant_config
from zoo.cli.main import main
from zoo.datasets import VOCDataset
from zoo.detectors.builder import build_detector

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ABLATION = os.path.join(ROOT, 'configs/ablations/yolov3_box_loss.py')
LOSSES = {'MSE': 'MSELoss', 'IoU': 'IoULoss', 'GIoU': 'GIoULoss', 'DIoU': 'DIoULoss', 'CIoU': 'CIoULoss'}


def test_five_losses_two_seeds_only_the_box_loss_differs():
    registry.discover()
    spec = load_ablation(ABLATION)
    assert [v.name for v in spec.variants] == list(LOSSES) and len(spec.seeds) >= 2
    configs = {v.name: variant_config(spec, v).to_dict() for v in spec.variants}
    for name, cfg in configs.items():
        assert cfg['model']['bbox_head']['loss_bbox']['type'] == LOSSES[name]
        keys = {k for k, _, _ in config_diff(configs['MSE'], cfg)}
        assert all(k.startswith('model.bbox_head.loss_bbox') for k in keys), keys
        assert cfg['train_cfg']['max_epochs'] == 12  # the recipe's own schedule


@pytest.fixture(scope='module')
def batch():
    registry.discover()
    ds = VOCDataset(os.path.join(ROOT, 'data/BCCD'), classes=('RBC', 'WBC', 'Platelets'), split='train',
                    pipeline=[dict(type='LoadImageFromFile'), dict(type='Resize', scale=(192, 144)),
                              dict(type='PackDetInputs')], indices=[3])
    items = [ds[0]]
    return dict(inputs=[i['inputs'] for i in items], data_samples=[i['data_samples'] for i in items])


@pytest.mark.parametrize('name', list(LOSSES))
def test_every_variant_trains_two_steps(name, batch):
    spec = load_ablation(ABLATION)
    cfg = variant_config(spec, next(v for v in spec.variants if v.name == name))
    torch.manual_seed(0)
    model = build_detector(cfg.model)
    assert type(model.bbox_head.loss_bbox).__name__ == LOSSES[name]
    assert model.bbox_head.decoded_bbox_loss == (name != 'MSE')
    model.train()
    optim = torch.optim.AdamW(model.parameters(), lr=1e-3)
    data = model.data_preprocessor(batch, True)
    for _ in range(2):
        losses = model(**data, mode='loss')
        assert all(torch.isfinite(v) for v in losses.values()) and float(losses['loss_bbox']) > 0
        optim.zero_grad()
        sum(losses.values()).backward()
        optim.step()


def test_dry_run_lists_the_variants(capsys):
    assert main(['ablate', ABLATION, '--dry-run']) == 0
    out = capsys.readouterr().out
    for name in ('IoULoss', 'GIoULoss', 'DIoULoss', 'CIoULoss'):
        assert name in out
