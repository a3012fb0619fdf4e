"""Shared pieces of the detector tests in this folder: a small R50-FPN-recipe detector config
(ResNet-18, 3 classes) and a raw two-image batch with boxes."""
import pytest
import torch
from mmengine.config import Config
from mmengine.structures import InstanceData

from zoo.benchmark.reference import R50_FPN_CONFIG
from zoo.structures import DetDataSample


def small_detector_cfg():
    """The R50-FPN recipe's model (channels_last=True there) on ResNet-18, 3 classes."""
    cfg = Config.fromfile(R50_FPN_CONFIG).model
    cfg.backbone.depth = 18
    cfg.neck.in_channels = [64, 128, 256, 512]
    cfg.roi_head.bbox_head.num_classes = 3
    return cfg


def raw_detection_batch():
    """Two random 120 x 160 uint8 images with two boxes each: what a data loader yields."""
    g = torch.Generator().manual_seed(0)
    images = [torch.randint(0, 256, (3, 120, 160), generator=g, dtype=torch.uint8)
              for _ in range(2)]
    samples = []
    for i in range(2):
        s = DetDataSample(metainfo=dict(img_shape=(120, 160), ori_shape=(120, 160),
                                        scale_factor=(1.0, 1.0)))
        s.gt_instances = InstanceData(bboxes=torch.tensor([[10., 20, 60, 90],
                                                           [80, 10, 150, 70]]) + i,
                                      labels=torch.tensor([0, 2]))
        samples.append(s)
    return dict(inputs=images, data_samples=samples)


@pytest.fixture
def detector_cfg():
    return small_detector_cfg


@pytest.fixture
def raw_batch():
    return raw_detection_batch
