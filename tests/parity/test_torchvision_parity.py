"""Parity with torchvision's fasterrcnn_resnet50_fpn: same weights (seeded random, converted by
`zoo convert torchvision`), same image -> same RPN proposals and same detections.

Both models run on the same normalized input tensor (the data preprocessor's own parity with
torchvision's normalize + batch_images is tested in tests/zoo/test_data_preprocessor.py), so that
the outputs can be compared tightly (the zoo's ResNet folds frozen BN into its convolutions and
runs channels-last: the same numbers up to rounding). Preprocessing is
matched through configuration only: the image is given at 832 x 1088, a size
torchvision's transform keeps (its min_size set to 832) and that needs no padding (a zero-padded
border gives many anchors identical scores, whose order is then arbitrary in both); both pad to a
multiple of 64 (torchvision derives each level's anchor stride as padded size // feature size,
exact only then); the zoo normalises with torchvision's mean/std scaled to 0-255.
"""
import os

import pytest
import torch
from mmengine.config import Config
from torchvision.io import decode_image, read_file
from torchvision.transforms.v2 import functional as F

import registry
from zoo.benchmark.agreement import compare_detections
from zoo.benchmark.reference import IMAGENET_MEAN as MEAN, IMAGENET_STD as STD
from zoo.benchmark.reference import R50_FPN_CONFIG as CONFIG, reference_torchvision_model
from zoo.cli.main import main
from zoo.convert import coco80_indices
from zoo.detectors.builder import build_detector
from zoo.runner.checkpoint import load_checkpoint_file
from zoo.structures import DetDataSample

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
IMAGE = os.path.join(ROOT, 'data/BCCD/JPEGImages/BloodImage_00000.jpg')


@pytest.fixture(scope='module')
def models(tmp_path_factory, image):
    # seeded random weights brought to a trained network's scales (see the function)
    tv = reference_torchvision_model(image, min_size=832, size_divisible=64)
    tmp = tmp_path_factory.mktemp('parity')
    src, dst = tmp / 'tv.pth', tmp / 'zoo.pth'
    torch.save(tv.state_dict(), src)
    assert main(['convert', 'torchvision', str(src), str(dst)]) == 0
    cfg = Config.fromfile(CONFIG)
    cfg.model.data_preprocessor.update(mean=[255 * m for m in MEAN], std=[255 * s for s in STD],
                                       pad_size_divisor=64)
    registry.discover()
    zoo_model = build_detector(cfg.model)
    state = load_checkpoint_file(str(dst))['state_dict']
    zoo_model.load_state_dict(state, strict=True)
    return tv, zoo_model.eval()


@pytest.fixture(scope='module')
def image():
    img = decode_image(read_file(IMAGE))  # (3, 480, 640)
    img = F.resize(img, [832, 1088], antialias=True)  # torchvision keeps this size
    # Uniform regions of the smear give identical features, hence exactly tied scores at many
    # locations, whose order in topk/NMS is arbitrary in both implementations; a fixed noise
    # pattern removes the ties, so that the comparison below can be exact.
    noise = torch.randint(-4, 5, img.shape, generator=torch.Generator().manual_seed(2))
    return (img.int() + noise).clamp(0, 255).to(torch.uint8)


def _zoo_predict(model, tensors):
    h, w = tensors.shape[-2:]
    sample = DetDataSample(metainfo=dict(img_shape=(h, w), ori_shape=(h, w), scale_factor=(1.0, 1.0)))
    with torch.no_grad():
        return model(tensors, [sample], mode='predict')[0]


def test_rpn_proposals_match(models, image):
    tv, zoo_model = models
    with torch.no_grad():
        images, _ = tv.transform([image.float() / 255])
        proposals, _ = tv.rpn(images, tv.backbone(images.tensors))
    ours = _zoo_predict(zoo_model, images.tensors).proposals.bboxes
    assert images.tensors.shape[-2:] == (832, 1088)
    assert ours.shape == proposals[0].shape and ours.shape[0] > 100
    # the same boxes; the zoo's backbone folds frozen BN into its convolutions, which moves
    # scores by ~1e-7 and may swap proposals whose scores are equal to the last digits
    n = ours.shape[0]
    zeros = torch.zeros(n)
    same = compare_detections([dict(boxes=proposals[0], scores=zeros, labels=zeros)],
                              [dict(boxes=ours, scores=zeros, labels=zeros)])
    assert same.ok, same.problems
    assert same.reordered <= n // 100


def test_detections_match(models, image):
    tv, zoo_model = models
    with torch.no_grad():
        ref = tv([image.float() / 255])[0]
        images, _ = tv.transform([image.float() / 255])
    pred = _zoo_predict(zoo_model, images.tensors).pred_instances
    coco_ids = torch.tensor(coco80_indices())
    assert len(ref['boxes']) > 5, 'the random weights should give detections to compare'
    same = compare_detections([ref], [dict(boxes=pred.bboxes, scores=pred.scores,
                                           labels=coco_ids[pred.labels])],
                              box_atol=0.01, score_atol=1e-4)
    assert same.ok, same.problems
    assert same.reordered <= 2
