"""The PR curves' 101-point AP and interpolated precision equal pycocotools' (through the zoo's
CocoMetric) for the same detections, at IoU 0.5 and 0.75, with an ignored (crowd) box, ties and
more than 100 detections on one image and class."""
import numpy as np
import pytest

from cases import record
from zoo.analysis import pr_curves
from zoo.evaluation import CocoMetric

CLASSES = ('a', 'b', 'c')


def random_records(seed=0, images=4):
    rng = np.random.default_rng(seed)
    records = []
    for i in range(images):
        n = int(rng.integers(2, 7))
        xy = rng.uniform(0, 150, (n, 2))
        wh = rng.uniform(15, 45, (n, 2))
        gt_boxes = np.concatenate([xy, xy + wh], 1)
        gt_labels = rng.integers(0, 2, n)  # class c has no ground truth
        dets = []
        for box, label in zip(gt_boxes, gt_labels):  # jittered copies, some with the wrong class
            for _ in range(int(rng.integers(0, 3))):
                jitter = box + rng.normal(0, 4, 4)
                label_d = label if rng.random() < 0.8 else int(rng.integers(0, 3))
                dets.append((label_d, float(rng.choice([0.5, rng.random()])), jitter.tolist()))
        for _ in range(int(rng.integers(0, 4))):  # background
            xy0 = rng.uniform(0, 150, 2)
            dets.append((int(rng.integers(0, 3)), float(rng.random()),
                         [*xy0, *(xy0 + rng.uniform(10, 30, 2))]))
        if i == 0:  # more than pycocotools' 100 detections per image and class: the lowest 10
            # are not scored, though they score above true positives of other images
            dets += [(0, float(s), [1, 1, 20, 20]) for s in 0.4 + 0.2 * rng.random(110)]
        gt = list(zip(gt_labels.tolist(), gt_boxes.tolist()))
        ignore = np.zeros(n, dtype=bool)
        if i == 1:  # a crowd region holding a regular box; the detection on that box overlaps
            # the region more (1.0, intersection over its own area) than the box (900/930) but is
            # matched to the box: regular boxes first
            gt = [(0, [0, 0, 100, 100]), (0, [10, 10, 40, 40])] + gt
            ignore = np.concatenate([[True, False], ignore])
            dets.append((0, 0.99, [10, 10, 40, 41]))
        records.append(record(gt, dets, img_id=f'img{i}', ignore=ignore))
    return records


@pytest.mark.parametrize('seed', [0, 1])
def test_ap_equals_pycocotools(seed):
    records = random_records(seed)
    metric = CocoMetric(classes=CLASSES)
    metric.results = [dict(r) for r in records]
    stats = metric.compute_metrics(metric.results)
    precision = metric.last_eval.eval['precision']  # (T, R, K, A, M)
    curves = pr_curves(records, CLASSES, (0.5, 0.75))
    for t, thr in ((0, '0.5'), (5, '0.75')):
        entry = curves['iou_thresholds'][thr]
        for k, name in enumerate(CLASSES):
            mine = entry['classes'][name]
            theirs = precision[t, :, k, 0, -1]
            if name == 'c':  # no ground truth: no AP (pycocotools: -1)
                assert mine['AP'] is None and (theirs == -1).all()
                continue
            np.testing.assert_allclose(mine['precision_101'], theirs, rtol=0, atol=1e-12)
            assert mine['AP'] == pytest.approx(float(theirs.mean()), abs=1e-12)
    assert curves['iou_thresholds']['0.5']['mAP'] == pytest.approx(stats['bbox_mAP_50'], abs=1e-12)
    assert curves['iou_thresholds']['0.75']['mAP'] == pytest.approx(stats['bbox_mAP_75'], abs=1e-12)
    assert stats['bbox_mAP_50'] > 0.1  # a case worth comparing
