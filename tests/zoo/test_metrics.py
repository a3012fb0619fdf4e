"""CocoMetric against pycocotools run directly; VOCMetric against AP worked out by hand."""
from __future__ import annotations

import contextlib
import io
import json
import math
import warnings
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
import torch
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from registry import METRICS, ConfigError
from zoo.datasets import DatasetWarning, VOCDataset
from zoo.evaluation import CocoMetric, VOCMetric, average_precision, results_to_coco_json
from zoo.structures import DetDataSample, InstanceData

BCCD = Path(__file__).resolve().parents[2] / 'data' / 'BCCD'
CLASSES = ('RBC', 'WBC', 'Platelets')
NUM_VAL = 6


# --- CocoMetric ---------------------------------------------------------------------------------
def gt_json_from_xml(stems: list[str]) -> dict:
    """COCO ground truth of BCCD images, built here straight from the XML files (the zoo's
    VOC convention: every coordinate minus 1; zero-size boxes left out)."""
    images, anns = [], []
    for k, stem in enumerate(stems):
        root = ET.parse(BCCD / 'Annotations' / f'{stem}.xml').getroot()
        images.append(dict(id=k + 1, file_name=f'{stem}.jpg',
                           width=int(root.find('size/width').text),
                           height=int(root.find('size/height').text)))
        for obj in root.findall('object'):
            x1, y1, x2, y2 = (float(obj.find(f'bndbox/{t}').text) - 1
                              for t in ('xmin', 'ymin', 'xmax', 'ymax'))
            if x2 <= x1 or y2 <= y1:
                continue
            anns.append(dict(id=len(anns) + 1, image_id=k + 1,
                             category_id=CLASSES.index(obj.find('name').text) + 1,
                             bbox=[x1, y1, x2 - x1, y2 - y1], area=(x2 - x1) * (y2 - y1),
                             iscrowd=int(obj.find('difficult').text)))
    return dict(images=images, annotations=anns,
                categories=[dict(id=i + 1, name=n) for i, n in enumerate(CLASSES)])


def synthetic_predictions(gt: dict, seed: int = 0) -> dict[int, tuple]:
    """Per image id: (boxes xyxy, scores, labels): jittered copies of most ground-truth boxes,
    some with the wrong class, plus random false positives; scores all distinct."""
    rng = np.random.default_rng(seed)
    out = {}
    for img in gt['images']:
        boxes, labels = [], []
        for ann in (a for a in gt['annotations'] if a['image_id'] == img['id']):
            if rng.random() < 0.15:
                continue  # a miss
            x, y, w, h = ann['bbox']
            jitter = rng.normal(0, 0.08, 4) * [w, h, w, h]
            boxes.append([x + jitter[0], y + jitter[1], x + w + jitter[2], y + h + jitter[3]])
            label = ann['category_id'] - 1
            labels.append(label if rng.random() > 0.1 else int(rng.integers(0, 3)))
        for _ in range(int(rng.integers(2, 6))):  # false positives
            x, y = rng.uniform(0, 560), rng.uniform(0, 400)
            boxes.append([x, y, x + rng.uniform(8, 80), y + rng.uniform(8, 80)])
            labels.append(int(rng.integers(0, 3)))
        out[img['id']] = (np.asarray(boxes, dtype=np.float64), rng.permutation(len(boxes)) / 1000
                          + rng.uniform(0.05, 0.9, len(boxes)), np.asarray(labels))
    return out


@pytest.fixture(scope='module')
def coco_case():
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', DatasetWarning)
        dataset = VOCDataset(str(BCCD), classes=CLASSES, split='val', indices=NUM_VAL)
    stems = [r['img_id'] for r in dataset.data_list]
    gt = gt_json_from_xml(stems)
    preds = synthetic_predictions(gt)
    samples = []
    for k in range(NUM_VAL):
        results = dataset.prepare_results(k)
        sample = DetDataSample(metainfo={key: results[key] for key in
                                         ('img_id', 'img_path', 'ori_shape', 'instances')})
        boxes, scores, labels = preds[k + 1]
        sample.pred_instances = InstanceData(bboxes=torch.as_tensor(boxes, dtype=torch.float32),
                                             scores=torch.as_tensor(scores, dtype=torch.float32),
                                             labels=torch.as_tensor(labels, dtype=torch.int64))
        samples.append(sample)
    # the reference detections use exactly the float32 values the model would hand over
    dets = []
    for k, sample in enumerate(samples):
        p = sample.pred_instances
        for box, score, label in zip(p.bboxes.double().tolist(), p.scores.double().tolist(),
                                     p.labels.tolist()):
            dets.append(dict(image_id=k + 1, category_id=label + 1, score=score,
                             bbox=[box[0], box[1], box[2] - box[0], box[3] - box[1]]))
    return dataset, gt, dets, samples


def reference_stats(gt: dict, dets: list[dict]) -> np.ndarray:
    """pycocotools' COCOeval, run the documented way on the JSON structures."""
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO()
        coco_gt.dataset = json.loads(json.dumps(gt))
        coco_gt.createIndex()
        coco_dt = coco_gt.loadRes(json.loads(json.dumps(dets)))
        ev = COCOeval(coco_gt, coco_dt, 'bbox')
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return ev.stats


STAT_KEYS = ('bbox_mAP', 'bbox_mAP_50', 'bbox_mAP_75', 'bbox_mAP_s', 'bbox_mAP_m', 'bbox_mAP_l',
             'bbox_AR@1', 'bbox_AR@10', 'bbox_AR@100', 'bbox_AR_s@100', 'bbox_AR_m@100',
             'bbox_AR_l@100')


def test_coco_metric_equals_pycocotools(coco_case, tmp_path):
    dataset, gt, dets, samples = coco_case
    ref = reference_stats(gt, dets)
    assert 0.2 < ref[0] < 0.95  # a non-trivial case

    metric = CocoMetric(outfile_prefix=str(tmp_path / 'out' / 'val'))
    metric.dataset_meta = dataset.metainfo  # as the Runner does
    metric.process({}, [s.to_dict() for s in samples[:3]])  # as mmengine's Evaluator passes them
    metric.process({}, samples[3:])  # DetDataSample objects work too
    out = metric.evaluate(NUM_VAL)
    assert set(out) == {f'coco/{k}' for k in STAT_KEYS} | {f'coco/bbox_AP_{c}' for c in CLASSES}
    for key, value in zip(STAT_KEYS, ref):
        assert out[f'coco/{key}'] == pytest.approx(value, abs=1e-9), key

    # per-class AP is the mean of COCOeval's precision over IoUs and recalls, for that class
    precision = metric.last_eval.eval['precision']
    for k, name in enumerate(CLASSES):
        p = precision[:, :, k, 0, -1]
        assert out[f'coco/bbox_AP_{name}'] == pytest.approx(p[p > -1].mean(), abs=1e-12)

    written = json.loads((tmp_path / 'out' / 'val.bbox.json').read_text())
    assert len(written) == len(dets)
    assert set(written[0]) == {'image_id', 'category_id', 'bbox', 'score'}
    assert written[0]['bbox'] == pytest.approx(dets[0]['bbox'])


def test_coco_metric_with_ann_file_and_evaluator(coco_case, tmp_path):
    from mmengine.evaluator import Evaluator
    from mmengine.registry import DefaultScope
    dataset, gt, dets, samples = coco_case
    ann_file = tmp_path / 'gt.json'
    ann_file.write_text(json.dumps(gt))
    # with ann_file, img_id must be the file's image ids (CocoDataset gives them so)
    renamed = []
    for k, s in enumerate(samples):
        s = s.clone()
        s.set_metainfo(dict(img_id=k + 1))
        renamed.append(s)
    with DefaultScope.overwrite_default_scope('zoo'):
        evaluator = Evaluator(dict(type='CocoMetric', ann_file=str(ann_file), classwise=False))
    evaluator.dataset_meta = dataset.metainfo
    evaluator.process(renamed)
    out = evaluator.evaluate(NUM_VAL)
    assert set(out) == {f'coco/{k}' for k in STAT_KEYS}
    for key, value in zip(STAT_KEYS, reference_stats(gt, dets)):
        assert out[f'coco/{key}'] == pytest.approx(value, abs=1e-9), key


def test_coco_metric_without_detections_and_errors(coco_case):
    dataset, _, _, samples = coco_case
    metric = CocoMetric(classes=CLASSES)
    empty = []
    for s in samples[:2]:
        s = s.clone()
        s.pred_instances = InstanceData(bboxes=torch.zeros(0, 4), scores=torch.zeros(0),
                                        labels=torch.zeros(0, dtype=torch.int64))
        empty.append(s)
    metric.process({}, empty)
    out = metric.evaluate(2)
    assert out['coco/bbox_mAP'] == 0.0 and out['coco/bbox_AR@100'] == 0.0

    metric = CocoMetric()  # no classes, no dataset_meta
    metric.process({}, samples[:1])
    with pytest.raises(ConfigError, match='no class names'):
        metric.evaluate(1)
    bad = samples[0].clone()
    bad.pred_instances.labels[:] = 7
    metric = CocoMetric(classes=CLASSES)
    metric.process({}, [bad])
    with pytest.raises(ValueError, match=r'labels must be in 0\.\.2'):
        metric.evaluate(1)
    with pytest.raises(ConfigError, match='iou_type'):
        CocoMetric(iou_type='segm')
    with pytest.raises(KeyError, match='instances'):
        CocoMetric().process({}, [{'img_id': 1, 'ori_shape': (1, 1), 'pred_instances': {}}])


def test_results_to_coco_json():
    res = [dict(img_id='a', bboxes=np.array([[10., 20., 30., 60.]]), scores=np.array([0.5]),
                labels=np.array([1]))]
    assert results_to_coco_json(res, cat_ids=[5, 9], img_ids={'a': 3}) == [
        dict(image_id=3, category_id=9, bbox=[10.0, 20.0, 20.0, 40.0], score=0.5)]


# --- VOCMetric --------------------------------------------------------------------------------
def voc_sample(img_id, gt_boxes, gt_labels, det_boxes, det_scores, det_labels, difficult=None):
    difficult = difficult or [0] * len(gt_boxes)
    sample = DetDataSample(metainfo=dict(
        img_id=img_id, ori_shape=(100, 100),
        instances=[dict(bbox=b, bbox_label=lab, ignore_flag=d)
                   for b, lab, d in zip(gt_boxes, gt_labels, difficult)]))
    sample.pred_instances = InstanceData(
        bboxes=torch.tensor(det_boxes, dtype=torch.float32).reshape(-1, 4),
        scores=torch.tensor(det_scores, dtype=torch.float32),
        labels=torch.tensor(det_labels, dtype=torch.int64))
    return sample


def test_voc_metric_by_hand():
    # one class, two ground-truth boxes in one image; detections by descending score:
    #   0.9 on box A (TP), 0.8 on empty space (FP), 0.7 on box B (TP)
    # -> (recall, precision) = (1/2, 1), (1/2, 1/2), (1, 2/3)
    a, b = [10, 10, 30, 30], [50, 50, 90, 80]
    sample = voc_sample('img', [a, b], [0, 0], [[11, 10, 30, 31], [60, 0, 70, 5], b],
                        [0.9, 0.8, 0.7], [0, 0, 0])
    # 11-point: t = 0, .1, .., .5 (6 points) see precision 1; t = .6, .., 1 (5 points) see 2/3
    ap11 = (6 * 1.0 + 5 * (2 / 3)) / 11
    # area: recall 0 -> 1/2 at precision 1, then 1/2 -> 1 at precision 2/3
    ap_area = 0.5 * 1.0 + 0.5 * (2 / 3)

    metric = VOCMetric(classes=('cell',))
    metric.process({}, [sample])
    out = metric.evaluate(1)
    assert set(out) == {'pascal_voc/mAP', 'pascal_voc/AP50_cell'}
    assert out['pascal_voc/AP50_cell'] == pytest.approx(ap11, abs=1e-12)
    assert out['pascal_voc/mAP'] == pytest.approx(ap11, abs=1e-12)

    metric = VOCMetric(classes=('cell',), eval_mode='area')
    metric.process({}, [sample.to_dict()])
    assert metric.evaluate(1)['pascal_voc/mAP'] == pytest.approx(ap_area, abs=1e-12)


def test_voc_metric_duplicates_difficult_and_threshold():
    # image 1: class-a boxes A (normal) and D (difficult); image 2: class-b box C.
    # class a, by descending score: .95 on A (TP); .9 on A again (FP, duplicate, IoU 0.91);
    #   .85 on D (neither: removed); .8 in image 2, which has no class-a box (FP); .7 (FP)
    #   -> npos 1, (recall, precision) = (1, 1), (1, 1/2), (1, 1/3), (1, 1/4): AP 1
    # class b: its one detection (.99) misses C -> AP 0; class c: no ground truth -> NaN
    s1 = voc_sample(1, [[0, 0, 10, 10], [50, 50, 60, 60]], [0, 0],
                    [[0, 0, 10, 10], [0, 0, 10, 11], [50, 50, 60, 60], [80, 80, 90, 90]],
                    [0.95, 0.9, 0.85, 0.7], [0, 0, 0, 0], difficult=[0, 1])
    s2 = voc_sample(2, [[20, 20, 30, 30]], [1], [[20, 20, 30, 40], [0, 0, 5, 5]],
                    [0.8, 0.99], [0, 1])
    metric = VOCMetric(classes=('a', 'b', 'c'), iou_thr=[0.5, 0.75])
    metric.process({}, [s1, s2])
    out = metric.evaluate(2)
    assert out['pascal_voc/AP50_a'] == pytest.approx(1.0)
    assert out['pascal_voc/AP50_b'] == 0.0
    assert math.isnan(out['pascal_voc/AP50_c'])
    assert out['pascal_voc/AP50'] == pytest.approx(0.5)
    assert out['pascal_voc/AP75'] == pytest.approx(0.5)
    assert out['pascal_voc/mAP'] == pytest.approx(0.5)

    # IoU of exactly 0.5 counts as a hit (>=), and no "+1" enters the IoU
    s3 = voc_sample(3, [[20, 20, 30, 30]], [0], [[20, 20, 30, 40]], [0.5], [0])
    metric = VOCMetric(classes=('a',), iou_thr=0.5)
    metric.process({}, [s3])
    assert metric.evaluate(1)['pascal_voc/mAP'] == 1.0
    metric = VOCMetric(classes=('a',), iou_thr=0.51)
    metric.process({}, [s3])
    assert metric.evaluate(1)['pascal_voc/mAP'] == 0.0  # with "+1" the IoU would be 0.524


def test_average_precision_exact_tenths_and_registry():
    # recall reaches exactly 3/10 at precision 1, then nothing more
    recall, precision = np.array([0.1, 0.2, 0.3]), np.array([1.0, 1.0, 1.0])
    assert average_precision(recall, precision) == pytest.approx(4 / 11)  # t = 0, .1, .2, .3
    assert METRICS.get('CocoMetric') is CocoMetric and METRICS.get('VOCMetric') is VOCMetric
    with pytest.raises(ConfigError, match='eval_mode'):
        VOCMetric(eval_mode='12points')
