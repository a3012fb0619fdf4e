"""The YOLO recipes and the loss variants of the Faster R-CNN recipes.

* every ``configs/yolo/*.py`` recipe builds, overfits one fixed BCCD batch (total loss at least
  halved within 30 steps of Adam, as tests/recipes/test_recipes.py does for Faster R-CNN, whose
  glob over ``configs/faster_rcnn/*.py`` also overfits the GIoU/CIoU/focal variants: the ZF ones
  by default, the R50-FPN ones with ``-m slow``) and predicts boxes inside the image;
* the Faster R-CNN variants hold the loss they are named for, where their docs say;
* ``yolov3_bccd.py`` in miniature (2 images at 160 x 120, one epoch) goes through ``zoo train``,
  ``zoo test`` and ``zoo infer`` (with ``--show-proposals``, which a one-stage model ignores).
"""
import glob
import json
import os
import textwrap

import pytest
import torch
from mmengine.config import Config

import registry
from zoo.cli.main import main
from zoo.datasets import VOCDataset
from zoo.detectors.builder import build_detector

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
YOLO_RECIPES = sorted(glob.glob(os.path.join(ROOT, 'configs/yolo/*.py')))
PIPELINE = [dict(type='LoadImageFromFile'), dict(type='Resize', scale=(320, 240)),
            dict(type='PackDetInputs')]


@pytest.fixture(scope='module')
def batch():
    registry.discover()
    ds = VOCDataset(os.path.join(ROOT, 'data/BCCD'), classes=('RBC', 'WBC', 'Platelets'),
                    split='train', pipeline=PIPELINE, indices=[3])
    item = ds[0]
    return dict(inputs=[item['inputs']], data_samples=[item['data_samples']])


def test_the_yolo_recipes_are_here():
    names = {os.path.basename(p) for p in YOLO_RECIPES}
    assert names >= {'yolov1_bccd.py', 'yolov2_bccd.py', 'yolov3_bccd.py', 'yolov3_spp_bccd.py',
                     'yolov3_plus_bccd.py'}


@pytest.mark.parametrize('path', YOLO_RECIPES, ids=os.path.basename)
def test_yolo_recipe_overfits_one_batch_and_predicts(path, batch):
    torch.manual_seed(0)
    cfg = Config.fromfile(path)
    registry.validate_types(cfg.to_dict())
    model = build_detector(cfg.model)
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
        totals.append(loss.item())
        if totals[-1] <= totals[0] / 2:
            break
    assert min(totals) <= totals[0] / 2, f'loss went {totals[0]:.3f} -> {min(totals):.3f}'
    model.eval()
    model.bbox_head.test_cfg.update(score_thr=0.0, conf_thr=0.0)  # boxes even when unsure
    with torch.no_grad():
        sample = model(**model.data_preprocessor(batch, False), mode='predict')[0]
    h, w = sample.metainfo['ori_shape']
    pred = sample.pred_instances
    assert 0 < len(pred.bboxes) <= 100 and 'proposals' not in sample
    assert (pred.bboxes[:, :2] >= 0).all()
    assert (pred.bboxes[:, 2] <= w).all() and (pred.bboxes[:, 3] <= h).all()
    assert (pred.bboxes[:, 2:] > w / 4).any()  # original pixels: 640 x 480, not 320 x 240
    assert pred.labels.dtype == torch.int64 and (pred.scores[:-1] >= pred.scores[1:]).all()


@pytest.mark.parametrize('name, where, loss', [
    ('faster_rcnn_zf_giou_bccd.py', 'roi_head.bbox_head.loss_bbox', 'GIoULoss'),
    ('faster_rcnn_zf_ciou_bccd.py', 'roi_head.bbox_head.loss_bbox', 'CIoULoss'),
    ('faster_rcnn_zf_focal_bccd.py', 'rpn_head.loss_cls', 'FocalLoss'),
    ('faster_rcnn_r50_fpn_giou_bccd.py', 'roi_head.bbox_head.loss_bbox', 'GIoULoss'),
    ('faster_rcnn_r50_fpn_ciou_bccd.py', 'roi_head.bbox_head.loss_bbox', 'CIoULoss'),
    ('faster_rcnn_r50_fpn_focal_bccd.py', 'rpn_head.loss_cls', 'FocalLoss'),
])
def test_faster_rcnn_loss_variants_hold_their_loss(name, where, loss):
    registry.discover()
    cfg = Config.fromfile(os.path.join(ROOT, 'configs/faster_rcnn', name))
    model = build_detector(cfg.model)
    part = model
    for key in where.split('.'):
        part = getattr(part, key)
    assert type(part).__name__ == loss
    if loss == 'FocalLoss':  # a sigmoid RPN: one objectness logit per anchor
        assert model.rpn_head.rpn_cls.out_channels == model.rpn_head.num_anchors


def tiny_yolov3(tmp_path) -> str:
    path = tmp_path / 'tiny_yolov3_bccd.py'
    path.write_text(textwrap.dedent(f'''
        _base_ = [{os.path.join(ROOT, 'configs/yolo/yolov3_bccd.py')!r}]
        model = dict(test_cfg=dict(conf_thr=0.0, score_thr=0.0))
        pipeline = [dict(type='LoadImageFromFile'), dict(type='Resize', scale=(160, 120)),
                    dict(type='RandomFlip', prob=0.5), dict(type='PackDetInputs')]
        test_pipeline = [dict(type='LoadImageFromFile'), dict(type='Resize', scale=(160, 120)),
                         dict(type='PackDetInputs')]
        train_dataloader = dict(batch_size=2, num_workers=0, persistent_workers=False,
                                dataset=dict(indices=2, pipeline=pipeline))
        val_dataloader = dict(num_workers=0, persistent_workers=False,
                              dataset=dict(indices=2, pipeline=test_pipeline))
        test_dataloader = val_dataloader
        train_cfg = dict(max_epochs=1, val_interval=1)
        param_scheduler = [dict(type='ConstantLR', factor=1.0, by_epoch=False, begin=0, end=1)]
        default_hooks = dict(logger=dict(interval=1))
        randomness = dict(seed=0, deterministic=True)
    '''))
    return str(path)


def test_yolov3_trains_tests_and_infers_through_the_cli(tmp_path, capsys):
    cfg = tiny_yolov3(tmp_path)
    work = tmp_path / 'work'
    assert main(['train', cfg, '--work-dir', str(work)]) == 0
    assert 'training finished' in capsys.readouterr().out
    assert (work / 'epoch_1.pth').is_file()
    logs = ''.join(open(p).read() for p in work.glob('*/*.log'))
    assert 'loss_conf' in logs and 'loss_bbox' in logs and 'coco/bbox_mAP_50' in logs

    results = tmp_path / 'results.json'
    assert main(['test', cfg, str(work), '--out', str(results)]) == 0
    assert 'pascal_voc/mAP' in capsys.readouterr().out
    dets = json.loads(results.read_text())
    assert dets and all(set(d) >= {'image_id', 'category_id', 'bbox', 'score'} for d in dets)

    image = os.path.join(ROOT, 'data/BCCD/JPEGImages/BloodImage_00001.jpg')
    out_dir = tmp_path / 'infer'
    assert main(['infer', cfg, str(work / 'epoch_1.pth'), image, '--out-dir', str(out_dir),
                 '--score-thr', '0.0', '--show-proposals', '5']) == 0
    assert (out_dir / 'BloodImage_00001.png').is_file()
    records = json.loads((out_dir / 'detections.json').read_text())
    assert 0 < len(records) <= 100
    for r in records:
        assert r['label_name'] == ('RBC', 'WBC', 'Platelets')[r['label']]
        x1, y1, x2, y2 = r['bbox']
        assert 0 <= x1 <= x2 <= 640 and 0 <= y1 <= y2 <= 480  # original-image pixels
