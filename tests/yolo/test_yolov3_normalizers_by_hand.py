"""YOLOv3's losses are sums over every positive of an image, divided by the number of images
(Redmon & Farhadi 2018; the head's ``avg_factor`` = B), and each image's positives regress to
that image's own boxes: checked with two boxes in one image (so that dividing by the number of
positives would show) and a batch of two different images (so that matching the positives of
the second image to the first image's boxes would show).

The grid: 2 x 2 cells of stride 16, anchors (16, 16) and (32, 16) as in test_yolo_heads.py.
g_a = [5, 2, 35, 16] (30 x 14, centre (20, 9), cell (0, 1)) fits the 32 x 16 anchor best
(shape IoU 420 / 512 = 0.82 against 224 / 452 = 0.50); g_b = [2, 20, 14, 30]
(12 x 10, centre (8, 25), cell (1, 0)) fits the 16 x 16 anchor (120 / 256 = 0.47 against
120 / 512 = 0.23).
"""
import math

import pytest
import torch

import registry
from zoo.structures import DetDataSample, InstanceData

K = 7  # 4 box + 1 objectness + 2 classes per anchor
G_A, G_B = [5.0, 2.0, 35.0, 16.0], [2.0, 20.0, 14.0, 30.0]


def _head():
    registry.discover()
    return registry.build('head', dict(
        type='YOLOV3Head', num_classes=2, in_channels=[4],
        anchor_generator=dict(type='YOLOAnchorGenerator', strides=[16],
                              base_sizes=[[(16, 16), (32, 16)]])))


def _sample(boxes, labels):
    s = DetDataSample(metainfo=dict(img_shape=(32, 32), batch_input_shape=(32, 32),
                                    scale_factor=(1.0, 1.0), ori_shape=(32, 32)))
    s.gt_instances = InstanceData(bboxes=torch.tensor(boxes), labels=torch.tensor(labels))
    return s


def _bce(logit, target):
    p = 1 / (1 + math.exp(-logit))
    return -(target * math.log(p) + (1 - target) * math.log(1 - p))


def _maps():
    return [torch.randn(2, 2 * K, 2, 2, generator=torch.Generator().manual_seed(3)) * 0.5]


def test_class_loss_sums_over_both_positives_of_an_image():
    pm = _maps()[0][:1]
    losses = _head().loss_by_feat([pm], [_sample([G_A, G_B], [1, 0])])

    def t(y, x, a, k):
        return float(pm[0, a * K + k, y, x])

    # g_a (class 1) at cell (0, 1), anchor 1; g_b (class 0) at cell (1, 0), anchor 0
    expected = (_bce(t(0, 1, 1, 5), 0) + _bce(t(0, 1, 1, 6), 1)
                + _bce(t(1, 0, 0, 5), 1) + _bce(t(1, 0, 0, 6), 0))
    assert losses['loss_cls'].item() == pytest.approx(expected, rel=1e-5)


def test_a_batch_is_the_mean_of_its_images():
    head = _head()
    pm = _maps()[0]
    first, second = _sample([G_A, G_B], [1, 0]), _sample([G_B], [1])
    alone = [head.loss_by_feat([pm[i:i + 1]], [s]) for i, s in enumerate((first, second))]
    batch = head.loss_by_feat([pm], [first, second])
    for key in ('loss_cls', 'loss_conf', 'loss_bbox'):
        expected = (alone[0][key].item() + alone[1][key].item()) / 2
        assert batch[key].item() == pytest.approx(expected, rel=1e-5), key
