"""Every Faster R-CNN and YOLO recipe builds, trains two steps and predicts under CPU bfloat16
autocast (what ``zoo train --amp`` does on a machine without CUDA) with finite float32 losses and
float32 detections inside the image; and the float32 parts (box coders, losses, NMS) give under
autocast exactly what they give in float32.

The models are the recipes' own, on one BCCD image at 64 x 48; the box head's fully connected
layers and the RoI counts are shrunk (the layers the recipes share are unchanged), because CPUs
without bfloat16 units (AVX2 only) run bfloat16 matrix products far slower than float32.
"""
import glob
import os

import pytest
import torch
from mmengine.config import Config
from torch import nn

import registry
from zoo.api import nms_per_image
from zoo.datasets import VOCDataset
from zoo.detectors.builder import build_detector
from zoo.inference.low_precision_weights import cast_autocast_weights
from zoo.runner.precision import autocast

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RECIPES = sorted(p for p in glob.glob(os.path.join(ROOT, 'configs/faster_rcnn/*.py'))
                 + glob.glob(os.path.join(ROOT, 'configs/yolo/*.py')) if not p.endswith('_coco.py'))
# in the default suite; the others (R50-FPN among them: about 15 s alone, as PyTorch's bfloat16
# convolutions on CPUs without bfloat16 units are its reference kernels) run with -m slow
DEFAULT = ('faster_rcnn_zf_bccd.py', 'yolov3_bccd.py')
BF16 = dict(device_type='cpu', dtype=torch.bfloat16)


@pytest.fixture(scope='module')
def batch():
    registry.discover()
    ds = VOCDataset(os.path.join(ROOT, 'data/BCCD'), classes=('RBC', 'WBC', 'Platelets'),
                    split='train', indices=[3],
                    pipeline=[dict(type='LoadImageFromFile'), dict(type='Resize', scale=(64, 48)),
                              dict(type='PackDetInputs')])
    item = ds[0]
    return dict(inputs=[item['inputs']], data_samples=[item['data_samples']])


def _small(cfg: Config) -> Config:
    model = cfg.model
    if 'roi_head' in model:
        model.roi_head.bbox_head.fc_out_channels = 32
        model.train_cfg.rpn_proposal.update(nms_pre=200, max_per_img=32)
        model.train_cfg.rcnn.sampler.num = 16
        model.test_cfg.rpn.update(nms_pre=200, max_per_img=16)
        model.test_cfg.rcnn.score_thr = 0.0
    else:
        model.test_cfg.score_thr = 0.0
    return cfg


def test_the_recipes_are_here():
    names = {os.path.basename(p) for p in RECIPES}
    assert set(DEFAULT) <= names
    assert {'faster_rcnn_vgg16_bccd.py', 'faster_rcnn_r50_fpn_bccd.py', 'yolov1_bccd.py'} <= names


@pytest.mark.parametrize('path', [pytest.param(p, id=os.path.basename(p), marks=(
    () if os.path.basename(p) in DEFAULT else pytest.mark.slow)) for p in RECIPES])
def test_recipe_trains_and_predicts_under_bfloat16_autocast(path, batch):
    torch.manual_seed(0)
    cfg = _small(Config.fromfile(path))
    registry.validate_types(cfg.to_dict())
    model = build_detector(cfg.model)
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    optim = torch.optim.SGD(params, lr=1e-3, momentum=0.9)
    for _ in range(2):
        with torch.autocast(**BF16):
            losses = model(**model.data_preprocessor(batch, True), mode='loss')
        terms = {k: v for k, v in losses.items() if 'loss' in k}
        assert terms and all(v.dtype == torch.float32 and torch.isfinite(v).all() for v in terms.values())
        optim.zero_grad()
        sum(terms.values()).backward()
        assert all(torch.isfinite(p.grad).all() for p in params if p.grad is not None)
        optim.step()
    assert all(p.dtype == torch.float32 for p in params)  # autocast keeps float32 weights
    model.eval()
    with torch.no_grad(), torch.autocast(**BF16):
        sample = model(**model.data_preprocessor(batch, False), mode='predict')[0]
    pred = sample.pred_instances
    h, w = sample.metainfo['ori_shape']
    assert pred.bboxes.dtype == torch.float32 and pred.scores.dtype == torch.float32
    assert len(pred.bboxes) > 0 and torch.isfinite(pred.bboxes).all()
    assert (pred.bboxes[:, :2] >= 0).all()
    assert (pred.bboxes[:, 2] <= w).all() and (pred.bboxes[:, 3] <= h).all()
    assert ((pred.scores >= 0) & (pred.scores <= 1)).all()


def _coder(kind: str):
    return registry.build('bbox_coder', dict(type=kind))


def test_box_coders_losses_and_nms_under_autocast_are_their_float32_selves():
    """bfloat16 inputs (what layers under autocast hand over): the result equals the float32
    computation on the same values, bit for bit, and is float32."""
    registry.discover()
    g = torch.Generator().manual_seed(0)
    xy = torch.rand(64, 2, generator=g) * 500
    priors = torch.cat([xy, xy + 16 + torch.rand(64, 2, generator=g) * 200], 1)
    deltas = (torch.randn(64, 4, generator=g) * 0.5).bfloat16()
    gts = priors + torch.randn(64, 4, generator=g) * 8
    delta = _coder('DeltaXYWHBBoxCoder')
    yolo = _coder('YOLOBBoxCoder')
    sig = torch.rand(64, 4, generator=g).bfloat16()
    ce = registry.build('loss', dict(type='CrossEntropyLoss'))
    l1 = registry.build('loss', dict(type='SmoothL1Loss', beta=1 / 9))
    giou = registry.build('loss', dict(type='GIoULoss'))
    logits = torch.randn(64, 4, generator=g).bfloat16()
    labels = torch.randint(0, 4, (64,), generator=g)
    scores = torch.rand(64, generator=g).bfloat16()

    def run(cast):
        d, s, lg = cast(deltas), cast(sig), cast(logits)
        boxes = delta.decode(priors, d)
        return [boxes, delta.encode(cast(priors.bfloat16()), gts), yolo.decode(priors, s, 32),
                ce(lg, labels), l1(d, delta.encode(priors, gts)), giou(boxes, gts)]

    with torch.autocast(**BF16):
        mixed = run(lambda t: t)
    plain = run(lambda t: t.float())
    for a, b in zip(mixed, plain):
        assert a.dtype == torch.float32 and torch.equal(a, b)
    # NMS and the per-image selection: the same detections
    boxes = delta.decode(priors, deltas.float()).bfloat16()
    labels = torch.randint(0, 2, (64,), generator=g)
    metas = [type('Sample', (), {'metainfo': dict(img_shape=(800, 800), scale_factor=(1.0, 1.0))})()]
    img_idx = torch.zeros(64, dtype=torch.long)
    with torch.autocast(**BF16):
        got = nms_per_image(boxes, scores, labels, img_idx, metas, 2, 0.05, 0.0, 0.5, 100)[0]
    want = nms_per_image(boxes.float(), scores.float(), labels, img_idx, metas, 2, 0.05, 0.0, 0.5, 100)[0]
    assert got.bboxes.dtype == torch.float32 and len(got.bboxes) > 0
    assert torch.equal(got.bboxes, want.bboxes) and torch.equal(got.scores, want.scores)


def _predict(model, data):
    with torch.no_grad(), autocast('cpu', cache_enabled=False):
        return model(**data, mode='predict')


def _outputs(samples) -> list:
    out = []
    for s in samples:
        out += [s.pred_instances.bboxes, s.pred_instances.scores, s.pred_instances.labels]
    return out


@pytest.mark.parametrize('path', [pytest.param(p, id=os.path.basename(p), marks=(
    () if os.path.basename(p) in DEFAULT else pytest.mark.slow)) for p in RECIPES])
def test_recipe_predicts_the_same_bits_with_weights_cast_once(path, batch):
    torch.manual_seed(0)
    cfg = _small(Config.fromfile(path))
    model = build_detector(cfg.model).eval()
    data = model.data_preprocessor(batch, False)
    per_call = _outputs(_predict(model, data))
    with cast_autocast_weights(model) as report:
        first = _outputs(_predict(model, data))
    again = _outputs(_predict(model, data))
    assert report['dtype'] == torch.bfloat16 and report['cast'] and not report['kept']
    for a, b, c in zip(per_call, first, again, strict=True):
        assert torch.equal(a, b) and torch.equal(a, c)
    assert len(per_call[0]) > 0
    layers = dict(model.named_modules())
    for name in report['cast']:
        assert layers[name].weight.dtype == torch.bfloat16
        assert not layers[name].weight.requires_grad
    # nearly all the weights of the convolution and linear layers: the ones left are those of
    # layers whose weights a head concatenates into one product (the RPN's cls and reg layers)
    plain = {n: m.weight.numel() for n, m in layers.items() if type(m) in (nn.Conv2d, nn.Linear)}
    assert set(report['cast']) <= set(plain)
    assert sum(plain[n] for n in report['cast']) > 0.9 * sum(plain.values())
    # norm layers are not touched: autocast runs them in float32
    assert all(p.dtype == torch.float32 for m in layers.values()
               if isinstance(m, (nn.GroupNorm, nn.BatchNorm2d)) for p in m.parameters())
