"""Every Faster R-CNN recipe builds, trains on a real BCCD batch with finite losses, overfits one
fixed batch (total loss at least halved within 30 steps) and predicts boxes inside the image.

The batch is one BCCD image at 320 x 240; the models are the recipes' own. The overfitting runs of
the ZF recipes are part of the default suite; those of the VGG16 and ResNet-50 recipes take
minutes on a CPU and are marked ``slow`` (``pytest -m slow``).
"""
import glob
import os

import pytest
import torch
from mmengine.config import Config

import registry
from registry import AssemblyError
from zoo.datasets import VOCDataset
from zoo.detectors.builder import build_detector

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RECIPES = sorted(glob.glob(os.path.join(ROOT, 'configs/faster_rcnn/*.py')))
PIPELINE = [dict(type='LoadImageFromFile'), dict(type='Resize', scale=(320, 240)),
            dict(type='PackDetInputs')]


@pytest.fixture(scope='module')
def batch():
    registry.discover()
    ds = VOCDataset(os.path.join(ROOT, 'data/BCCD'), classes=('RBC', 'WBC', 'Platelets'),
                    split='train', pipeline=PIPELINE, indices=[3])
    item = ds[0]
    return dict(inputs=[item['inputs']], data_samples=[item['data_samples']])


def test_every_recipe_is_here():
    names = {os.path.basename(p) for p in RECIPES}
    assert {'faster_rcnn_zf_bccd.py', 'faster_rcnn_vgg16_bccd.py', 'faster_rcnn_r50_fpn_bccd.py',
            'faster_rcnn_r50_fpn_1x_coco.py', 'faster_rcnn_zf_roialign_bccd.py'} <= names


def _is_light(path):
    return Config.fromfile(path).model.backbone.type == 'ZFNet'


OVERFIT = [pytest.param(p, id=os.path.basename(p),
                        marks=() if _is_light(p) else pytest.mark.slow) for p in RECIPES]


def _build(path):
    torch.manual_seed(0)
    cfg = Config.fromfile(path)
    registry.validate_types(cfg.to_dict())
    return build_detector(cfg.model)


def _predict_in_bounds(model, batch):
    """Detections exist (the score threshold set to 0: an untrained or briefly trained model
    scores below the recipes' 0.05), at most ``max_per_img``, inside the original image, with
    valid labels and scores best first."""
    model.eval()
    model.roi_head.test_cfg = dict(model.roi_head.test_cfg, score_thr=0.0)
    with torch.no_grad():
        sample = model(**model.data_preprocessor(batch, False), mode='predict')[0]
    h, w = sample.metainfo['ori_shape']
    pred = sample.pred_instances
    boxes = pred.bboxes
    assert boxes.shape[1] == 4 and 0 < len(boxes) <= model.roi_head.test_cfg.get('max_per_img', 100)
    assert ((pred.labels >= 0) & (pred.labels < model.num_classes)).all()
    assert (pred.scores[:-1] >= pred.scores[1:]).all() and (pred.scores > 0).all()
    assert (boxes[:, 2] >= boxes[:, 0]).all() and (boxes[:, 3] >= boxes[:, 1]).all()
    assert (boxes[:, 0] >= 0).all() and (boxes[:, 1] >= 0).all()
    assert (boxes[:, 2] <= w).all() and (boxes[:, 3] <= h).all()


@pytest.mark.parametrize('path', RECIPES, ids=os.path.basename)
def test_recipe_builds_takes_a_finite_step_and_predicts(path, batch):
    model = _build(path)
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    losses = model(**model.data_preprocessor(batch, True), mode='loss')
    assert {'loss_rpn_cls', 'loss_rpn_bbox', 'loss_cls', 'loss_bbox'} <= set(losses)
    assert all(torch.isfinite(v).all() for v in losses.values())
    sum(v for k, v in losses.items() if 'loss' in k).backward()
    # joint training reaches every trainable parameter (frozen ones have requires_grad off)
    names = [n for n, p in model.named_parameters() if p.requires_grad]
    missing = [n for n, p in zip(names, params, strict=True) if p.grad is None]
    assert not missing, f'no gradient: {missing}'
    assert all(torch.isfinite(p.grad).all() for p in params)
    _predict_in_bounds(model, batch)


@pytest.mark.parametrize('path', OVERFIT)
def test_recipe_overfits_one_batch(path, batch):
    model = _build(path)
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    optim = torch.optim.Adam(params, lr=1e-3)
    data = model.data_preprocessor(batch, True)
    totals = []
    for _ in range(30):
        losses = model(**data, mode='loss')
        assert all(torch.isfinite(v).all() for v in losses.values())
        loss = sum(v for k, v in losses.items() if 'loss' in k)
        optim.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 10.0)
        optim.step()
        totals.append(float(loss))
        if totals[-1] <= totals[0] / 2:
            break
    assert min(totals) <= totals[0] / 2, f'loss went {totals[0]:.3f} -> {min(totals):.3f}'
    _predict_in_bounds(model, batch)


def test_vgg16_under_an_rpn_built_for_256_channels_fails_before_running():
    cfg = Config.fromfile(os.path.join(ROOT, 'configs/faster_rcnn/faster_rcnn_vgg16_bccd.py'))
    cfg.model.rpn_head.in_channels = 256
    registry.discover()
    with pytest.raises(AssemblyError) as err:
        build_detector(cfg.model)
    msg = str(err.value)
    assert 'model.rpn_head.in_channels = 256' in msg
    assert 'model.backbone (VGG) produces channels [512]' in msg


def test_roi_extractor_channels_must_match_the_box_head():
    cfg = Config.fromfile(os.path.join(ROOT, 'configs/faster_rcnn/faster_rcnn_zf_bccd.py'))
    cfg.model.roi_head.bbox_head.in_channels = 512
    registry.discover()
    with pytest.raises(AssemblyError, match=r'model\.roi_head\.bbox_head\.in_channels = 512'):
        build_detector(cfg.model)
