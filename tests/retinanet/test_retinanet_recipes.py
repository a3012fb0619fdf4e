"""The RetinaNet recipes: each builds (the paper's head on its features), overfits one fixed BCCD
batch (total loss at least halved, as the YOLO and Faster R-CNN recipes' tests do), trains two
iterations through ``zoo train`` with finite losses and validates (predicts) through it; and
``zoo describe`` shows the new head."""
import glob
import math
import os
import re

import pytest
import torch
from mmengine.config import Config

import registry
import zoo.runner.build  # noqa: F401  (registers the runner's hooks, as zoo train does)
from zoo.cli.main import main
from zoo.datasets import VOCDataset
from zoo.detectors.builder import build_detector

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RECIPES = sorted(glob.glob(os.path.join(ROOT, 'configs/retinanet/*.py')))
CPU = os.path.join(ROOT, 'configs/retinanet/retinanet_darknet_tiny_fpn_bccd.py')
R50 = os.path.join(ROOT, 'configs/retinanet/retinanet_r50_fpn_bccd.py')
MOSAIC = os.path.join(ROOT, 'configs/retinanet/retinanet_darknet_tiny_fpn_mosaic_bccd.py')


def test_the_recipes_are_here():
    assert {os.path.basename(p) for p in RECIPES} >= {'retinanet_r50_fpn_bccd.py',
                                                      'retinanet_darknet_tiny_fpn_bccd.py'}


@pytest.mark.parametrize('path', RECIPES, ids=os.path.basename)
def test_recipe_builds_the_papers_head(path):
    registry.discover()
    cfg = Config.fromfile(path)
    registry.validate_types(cfg.to_dict())
    model = build_detector(cfg.model)
    head = model.bbox_head
    assert type(model).__name__ == 'RetinaNet' and type(head).__name__ == 'RetinaHead'
    assert head.num_classes == 3 and head.num_base_priors == 9
    assert type(head.loss_cls).__name__ == 'FocalLoss' and head.loss_cls.gamma == 2.0
    assert not hasattr(head, 'sampler')
    assert list(model.neck.strides) == [8, 16, 32, 64, 128]
    assert torch.allclose(head.retina_cls.bias.sigmoid(), torch.full((27,), 0.01))


@pytest.fixture(scope='module')
def batch():
    registry.discover()
    ds = VOCDataset(os.path.join(ROOT, 'data/BCCD'), classes=('RBC', 'WBC', 'Platelets'), split='train',
                    pipeline=[dict(type='LoadImageFromFile'), dict(type='Resize', scale=(224, 168)),
                              dict(type='PackDetInputs')], indices=[3])
    item = ds[0]
    return dict(inputs=[item['inputs']], data_samples=[item['data_samples']])


def test_cpu_recipe_overfits_one_batch_and_predicts(batch):
    torch.manual_seed(0)
    model = build_detector(Config.fromfile(CPU).model)
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    optim = torch.optim.Adam(params, lr=1e-3)
    data = model.data_preprocessor(batch, True)
    totals = []
    for _ in range(40):
        losses = model(**data, mode='loss')
        assert set(losses) == {'loss_cls', 'loss_bbox'}
        assert all(torch.isfinite(v) for v in losses.values())
        loss = sum(losses.values())
        optim.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 10.0)
        optim.step()
        totals.append(loss.item())
        if totals[-1] <= totals[0] / 2:
            break
    assert min(totals) <= totals[0] / 2, f'loss went {totals[0]:.3f} -> {min(totals):.3f}'
    model.eval()
    model.bbox_head.test_cfg.update(score_thr=0.0)
    with torch.no_grad():
        sample = model(**model.data_preprocessor(batch, False), mode='predict')[0]
    pred = sample.pred_instances
    assert 0 < len(pred.bboxes) <= 100
    assert (pred.bboxes[:, :2] >= 0).all() and (pred.bboxes[:, 2] <= 640).all()
    assert (pred.bboxes[:, 3] <= 480).all() and (pred.scores[:-1] >= pred.scores[1:]).all()


TINY = ['train_dataloader.batch_size=1', 'train_dataloader.num_workers=0',
        'train_dataloader.persistent_workers=False', 'train_dataloader.dataset.indices=2',
        'train_dataloader.dataset.pipeline.1.scale=(160,120)',
        'val_dataloader.num_workers=0', 'val_dataloader.persistent_workers=False',
        'val_dataloader.dataset.indices=1', 'val_dataloader.dataset.pipeline.1.scale=(160,120)',
        'train_cfg.max_epochs=1', 'train_cfg.val_interval=1', 'default_hooks.logger.interval=1',
        'randomness.seed=0']


def _train_two_iterations(recipe, tmp_path, capsys):
    work = tmp_path / 'work'
    assert main(['train', recipe, '--work-dir', str(work), '--cfg-options', *TINY]) == 0
    assert 'training finished' in capsys.readouterr().out
    assert (work / 'epoch_1.pth').is_file()
    logs = ''.join(open(p).read() for p in work.glob('*/*.log'))
    assert 'Epoch(train) [1][2/2]' in logs and 'Epoch(train) [1][3/' not in logs
    values = [float(v) for v in re.findall(r'\bloss(?:_cls|_bbox)?: (\S+)', logs)]
    assert len(values) >= 6 and all(math.isfinite(v) for v in values), values  # 2 iterations x 3
    assert 'coco/bbox_mAP_50' in logs  # validated: the model predicted


def test_cpu_recipe_trains_two_iterations_through_zoo_train(tmp_path, capsys):
    _train_two_iterations(CPU, tmp_path, capsys)


@pytest.mark.slow  # ResNet-50 with four 256-channel towers: about 100 s on 2 shared cores
def test_r50_recipe_trains_two_iterations_through_zoo_train(tmp_path, capsys):
    _train_two_iterations(R50, tmp_path, capsys)


def test_zoo_describe_shows_the_head(capsys):
    assert main(['describe', 'RetinaHead']) == 0
    out = capsys.readouterr().out
    assert out.startswith('RetinaHead  [head]')
    for word in ('stacked_convs', 'prior_prob', 'every anchor', 'FocalLoss'):
        assert word in out
    assert main(['describe', 'FPN']) == 0
    assert 'extra_convs' in capsys.readouterr().out


@pytest.mark.parametrize('nms', ['nms', 'diou_nms'])
def test_a_typed_nms_in_the_test_settings_passes_the_config_check(nms):
    """``nms=dict(type=...)`` names an NMS variant, not a part: the whole-config check before
    training must let it through (the head refuses an unknown one when it runs)."""
    registry.discover()
    cfg = Config.fromfile(CPU)
    cfg.merge_from_dict({'model.test_cfg.nms.type': nms})
    registry.validate_types(cfg.to_dict())
    assert build_detector(cfg.model).bbox_head.test_cfg['nms'] == dict(type=nms, iou_threshold=0.5)


def test_mosaic_recipe_is_the_cpu_recipe_with_mosaic_switched_off_at_the_end():
    """The long-schedule recipe: the CPU recipe's model with anchors fitted to BCCD and the GIoU
    box loss, its test data,
    the mosaic pipeline of configs/yolo/yolov3_mosaic_bccd.py, the plain pipeline for the last
    10 epochs, bfloat16."""
    base, cfg = Config.fromfile(CPU), Config.fromfile(MOSAIC)
    yolo_mosaic = Config.fromfile(os.path.join(ROOT, 'configs/yolo/yolov3_mosaic_bccd.py'))
    registry.discover()
    registry.validate_types(cfg.to_dict())
    assert cfg.model.bbox_head.loss_bbox == dict(type='GIoULoss', loss_weight=2.0)
    assert build_detector(cfg.model).bbox_head.decoded_bbox_loss  # on decoded boxes
    cfg.model.bbox_head.loss_bbox = base.model.bbox_head.loss_bbox
    fitted = [2.5 * 2 ** (i / 3) for i in range(3)]
    assert cfg.model.bbox_head.anchor_generator.scales == pytest.approx(fitted)
    cfg.model.bbox_head.anchor_generator = base.model.bbox_head.anchor_generator
    assert cfg.model == base.model and cfg.test_dataloader == base.test_dataloader
    assert cfg.train_dataloader.dataset.pipeline == yolo_mosaic.train_dataloader.dataset.pipeline
    assert [t['type'] for t in cfg.train_dataloader.dataset.pipeline][1:3] == ['Mosaic',
                                                                               'RandomAffine']
    switch, = [h for h in cfg.custom_hooks if h['type'] == 'PipelineSwitchHook']
    assert switch['num_last_epochs'] == 10
    assert switch['switch_pipeline'] == base.train_dataloader.dataset.pipeline
    assert cfg.amp is True and not base.get('amp', False)


def test_mosaic_recipe_trains_two_epochs_the_last_without_mosaic(tmp_path, capsys, monkeypatch):
    from zoo.transforms import Mosaic
    calls = []
    mosaic = Mosaic.__call__

    def spy(self, results):
        calls.append(1)
        return mosaic(self, results)
    monkeypatch.setattr(Mosaic, '__call__', spy)
    work = tmp_path / 'work'
    tiny = [o for o in TINY if 'train_dataloader.dataset.pipeline' not in o
            and 'max_epochs' not in o]
    assert main(['train', MOSAIC, '--work-dir', str(work), '--cfg-options', *tiny,
                 'train_cfg.max_epochs=2', 'train_dataloader.dataset.pipeline.1.img_scale=(80,80)',
                 'train_dataloader.dataset.pipeline.2.border=(-40,-40)',
                 'custom_hooks.0.num_last_epochs=1',
                 'custom_hooks.0.switch_pipeline.1.scale=(160,120)']) == 0
    assert len(calls) == 2  # the first epoch's two images; the second epoch had no mosaic
    logs = ''.join(open(p).read() for p in work.glob('*/*.log'))
    assert 'PipelineSwitchHook: epoch 2 of 2 onwards' in logs


def test_mosaic_recipe_anchors_fit_every_bccd_box():
    """BCCD's training boxes at the recipes' 416-px scale (platelets from 16 px, red cells about
    66, white cells up to 167) against each recipe's anchors, by shape IoU (centres aligned): the
    paper's anchors (smallest 32 px at stride 8, 22 x 45 at ratio 2) leave 43 of the 2804 boxes
    without any anchor of IoU 0.5 and 19 below RetinaNet's negative threshold 0.4; the fitted
    octave scales (2.5 x 2^(i/3): from 20 px) give every box at least 0.6."""
    from zoo.anchors.boxes import box_sizes_from_config
    from zoo.anchors.config import config_anchor_shapes
    from zoo.anchors.kmeans import wh_iou
    registry.discover()
    wh, _ = box_sizes_from_config(Config.fromfile(CPU))   # Resize to 416 in the plain pipeline
    assert len(wh) == 2804
    (_, _, paper), = config_anchor_shapes(Config.fromfile(CPU))
    (_, _, fitted), = config_anchor_shapes(Config.fromfile(MOSAIC))
    best_paper, best_fitted = wh_iou(wh, paper).max(1), wh_iou(wh, fitted).max(1)
    assert ((best_paper < 0.5).sum(), (best_paper < 0.4).sum()) == (43, 19)
    assert best_fitted.min() > 0.6
