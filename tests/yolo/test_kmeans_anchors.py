"""k-means anchors (YOLOv2's dimension clusters, distance 1 - IoU): obvious clusters found,
the mean IoU / best possible recall definitions on a case done by hand, reproducibility with a
seed on BCCD, the recipe's anchors being exactly that fit, and ``zoo anchors``."""
import os

import numpy as np
import pytest
from mmengine.config import Config

import registry
from zoo.anchors import (anchor_stats, box_sizes_from_config, kmeans_anchors, split_by_area,
                         wh_iou)
from zoo.cli.main import main
from zoo.detectors.builder import build_detector

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
YOLOV3 = os.path.join(ROOT, 'configs/yolo/yolov3_bccd.py')
ZF = os.path.join(ROOT, 'configs/faster_rcnn/faster_rcnn_zf_bccd.py')


def test_wh_iou_and_stats_by_hand():
    assert wh_iou([[10, 10]], [[10, 40], [20, 5]]).tolist() == [[100 / 400, 50 / 150]]
    # boxes 10x10 and 10x40 against the single anchor 10x10: best IoUs 1 and 1/4
    mean_iou, bpr = anchor_stats([[10, 10], [10, 40]], [[10, 10]], thr=0.5)
    assert mean_iou == pytest.approx(0.625) and bpr == 0.5
    assert anchor_stats([[10, 10], [10, 40]], [[10, 10]], thr=0.25)[1] == 1.0  # >= thr counts


def test_obvious_clusters_are_found():
    rng = np.random.default_rng(123)
    centres = np.array([[10.0, 12.0], [60.0, 20.0], [25.0, 90.0]])
    wh = np.concatenate([c * rng.uniform(0.95, 1.05, size=(50, 2)) for c in centres])
    fit = kmeans_anchors(wh, k=3, seed=0)
    # sorted by area: 120, 1200, 2250
    assert np.allclose(fit.anchors, centres, rtol=0.02)
    assert fit.bpr == 1.0 and fit.mean_iou > 0.93
    assert np.array_equal(fit.assignments, np.repeat([0, 1, 2], 50))
    assert fit.rounded() == [(10, 12), (60, 20), (25, 90)]


def test_split_by_area():
    anchors = [(50, 50), (10, 10), (30, 5), (100, 90), (20, 20), (70, 80)]
    assert split_by_area(anchors, 3) == [[(10, 10), (30, 5)], [(20, 20), (50, 50)],
                                         [(70, 80), (100, 90)]]
    with pytest.raises(ValueError, match='cannot be split evenly'):
        split_by_area(anchors, 4)


@pytest.mark.parametrize('kwargs, word', [
    (dict(wh=[[1, 1], [1, 1], [2, 2]], k=3), 'only 2 distinct shapes'),
    (dict(wh=[[1, 1], [0, 2]], k=1), 'finite positive'),
    (dict(wh=[[1, 1, 1]], k=1), r'\(N, 2\)'),
    (dict(wh=[[1, 1]], k=0), 'positive int'),
    (dict(wh=[[1, 1]], k=1, centroid='mode'), 'centroid'),
])
def test_bad_input(kwargs, word):
    with pytest.raises(ValueError, match=word):
        kmeans_anchors(**kwargs)


@pytest.fixture(scope='module')
def bccd_boxes():
    registry.discover()
    return box_sizes_from_config(Config.fromfile(YOLOV3), 'train')[0]


def test_bccd_anchors_are_reproducible_and_are_the_recipes(bccd_boxes):
    assert bccd_boxes.shape == (2804, 2)  # BCCD train boxes (one zero-width box dropped)
    a, b = kmeans_anchors(bccd_boxes, 9, seed=0), kmeans_anchors(bccd_boxes, 9, seed=0)
    assert np.array_equal(a.anchors, b.anchors) and a.iterations == b.iterations
    assert a.bpr >= 0.99 and a.mean_iou > 0.85
    # better than YOLOv3's COCO anchors on these boxes
    coco = [(10, 13), (16, 30), (33, 23), (30, 61), (62, 45), (59, 119), (116, 90), (156, 198),
            (373, 326)]
    assert anchor_stats(bccd_boxes, coco)[0] < a.mean_iou - 0.1
    recipe = Config.fromfile(YOLOV3).model.bbox_head.anchor_generator.base_sizes
    assert split_by_area(a.rounded(), 3) == [[tuple(p) for p in lv] for lv in recipe]


def test_zoo_anchors_prints_and_writes_a_config(tmp_path, capsys):
    out = tmp_path / 'cfgs' / 'yolov3_bccd_k6.py'
    assert main(['anchors', YOLOV3, '--k', '6', '--seed', '3', '--write', str(out)]) == 0
    text = capsys.readouterr().out
    assert '2804 boxes of split \'train\'' in text
    line = next(ln for ln in text.splitlines() if ln.startswith('anchors (w x h'))
    printed = [tuple(int(v) for v in a.split('x')) for a in line.split(': ')[1].split()]
    assert len(printed) == 6 and printed == sorted(printed, key=lambda a: (a[0] * a[1], a[0]))
    assert 'best possible recall (IoU >= 0.5)' in text
    assert "the config's model.bbox_head.anchor_generator (YOLOAnchorGenerator" in text
    cfg = Config.fromfile(str(out))
    assert [list(map(tuple, lv)) for lv in cfg.model.bbox_head.anchor_generator.base_sizes] == \
        split_by_area(printed, 3)
    assert cfg.model.bbox_head.anchor_generator.strides == [8, 16, 32]  # inherited
    model = build_detector(cfg.model)
    assert model.bbox_head.anchor_generator.num_base_anchors == 2


def test_zoo_anchors_on_faster_rcnn_reports_but_does_not_write(tmp_path, capsys):
    assert main(['anchors', ZF, '--k', '4', '--write', str(tmp_path / 'x.py')]) == 2
    captured = capsys.readouterr()
    assert "model.rpn_head.anchor_generator (LegacyAnchorGenerator, 12 anchors)" in captured.out
    assert 'sets the anchors of a YOLOAnchorGenerator' in captured.err
    assert not (tmp_path / 'x.py').exists()
    assert main(['anchors', ZF, '--k', '0']) == 2
