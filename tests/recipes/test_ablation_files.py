"""The shipped ablations in configs/ablations/: each expands, each variant's config builds its
model, and what the files claim in their comments holds (the k-means anchors)."""
import glob
import os

import numpy as np
import pytest

import registry
from zoo.ablation import config_diff, load_ablation, variant_config
from zoo.detectors.builder import build_detector

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ABLATIONS = sorted(p for p in glob.glob(os.path.join(ROOT, 'configs/ablations/*.py')))
NAMES = [os.path.basename(p) for p in ABLATIONS]


def test_the_issue_asks_for_these_files():
    assert set(NAMES) >= {'roi_extractor.py', 'backbone.py', 'box_loss.py', 'rpn_cls_loss.py',
                          'anchors.py', 'training_scheme.py'}


@pytest.mark.parametrize('path', ABLATIONS, ids=NAMES)
def test_every_variant_builds(path):
    registry.discover()
    spec = load_ablation(path)
    assert len(spec.variants) >= 2 and spec.seeds
    for variant in spec.variants:
        cfg = variant_config(spec, variant)
        registry.validate_types(cfg.to_dict())
        build_detector(cfg.model)  # the assembly checks run here
        assert cfg.test_dataloader.dataset.type == 'VOCDataset'  # all on BCCD


def test_roi_extractor_ablation_differs_only_in_the_roi_layer():
    spec = load_ablation(os.path.join(ROOT, 'configs/ablations/roi_extractor.py'))
    pool, align = (variant_config(spec, v).to_dict() for v in spec.variants)
    diff = config_diff(pool, align)
    assert {k for k, _, _ in diff} == {f'model.roi_head.bbox_roi_extractor.roi_layer.{k}'
                                       for k in ('type', 'sampling_ratio', 'aligned')}
    assert pool['train_cfg']['max_epochs'] == 4 and spec.seeds == [0, 1]


def test_kmeans_anchors_are_those_zoo_anchors_fits():
    from zoo.anchors import box_sizes_from_config, kmeans_anchors
    spec = load_ablation(os.path.join(ROOT, 'configs/ablations/anchors.py'))
    kmeans = next(v for v in spec.variants if v.name == 'kmeans_9')
    cfg = variant_config(spec, kmeans)
    shipped = cfg.model.rpn_head.anchor_generator.base_sizes[0]
    cfg.train_dataloader.dataset.pipeline = [  # as in the command in the file's comment
        dict(type='LoadImageFromFile'), dict(type='Resize', scale=(480, 360), keep_ratio=True),
        dict(type='PackDetInputs')]
    wh, _ = box_sizes_from_config(cfg, 'train')
    fit = kmeans_anchors(wh, k=9, seed=0)
    assert [tuple(a) for a in fit.rounded()] == [tuple(a) for a in shipped]
    assert fit.mean_iou == pytest.approx(0.876, abs=5e-4)
    assert np.all(np.diff([w * h for w, h in shipped]) >= 0)  # sorted by area
