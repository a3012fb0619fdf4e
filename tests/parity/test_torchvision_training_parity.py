"""Training parity with torchvision's fasterrcnn_resnet50_fpn: the same weights, image and boxes give
the same four losses and the same gradient on every trainable parameter.

torchvision's training path is its ``RegionProposalNetwork`` (``Matcher(0.7, 0.3)`` with
low-quality matches, ``BalancedPositiveNegativeSampler``, ``compute_loss``: BCE over the sampled
anchors, Smooth L1 with beta 1/9 summed and divided by the number of sampled anchors) and its
``RoIHeads`` (gt boxes added to the proposals, ``Matcher(0.5, 0.5)``, ``fastrcnn_loss``:
softmax cross-entropy, Smooth L1 beta 1/9 on the deltas of the true class divided by the
number of sampled RoIs, weights (10, 10, 5, 5)). The zoo's R50-FPN recipe sets the same values
(beta 1/9 in both heads, stds 1 and (0.1, 0.1, 0.2, 0.2), every anchor used:
``allowed_border=-1``, background IoU [0, 0.5)), so nothing is overridden for them here.

What the test does set, in both models alike:

* both samplers keep every positive and negative (torchvision's ``batch_size_per_image`` and
  the zoo's ``num`` above the number of anchors and RoIs): the random draws of the two
  implementations differ, and keeping everything makes the losses independent of them;
* 300 proposals per image after NMS in training (torchvision's ``post_nms_top_n``, the zoo's
  ``rpn_proposal.max_per_img``) instead of 2000, to keep the test fast;
* both run in float64 (the converted float32 weights, cast): the two implementations sum in
  different orders (the zoo folds the frozen BN into the convolutions, runs channels-last,
  batches the RoIAlign levels), which in float32 moves gradients by up to ~1e-3 of their
  largest entry; in float64 they agree to ~1e-9, so that the tolerances below can be tight
  enough to show a real difference.

The image (192 x 256, multiples of 64, so that neither model resizes or pads it) carries a
fixed noise pattern, so that no two anchors have exactly the same score (see
``test_torchvision_parity.py``).
"""
import os

import pytest
import torch
from mmengine.structures import InstanceData
from torchvision.io import decode_image, read_file
from torchvision.transforms.v2 import functional as F

from zoo.benchmark.reference import reference_torchvision_model, zoo_twin
from zoo.convert import convert_state_dict
from zoo.structures import DetDataSample

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
IMAGE = os.path.join(ROOT, 'data/BCCD/JPEGImages/BloodImage_00000.jpg')
H, W = 192, 256
KEEP_ALL = 10 ** 6
POST_NMS = 300
# torchvision slots 1 and 3 = the zoo's classes 0 and 2 (classes='all': slot k -> class k - 1)
BOXES = torch.tensor([[30., 20., 90., 80.], [130., 90., 220., 175.], [75., 110., 115., 160.]])
TV_LABELS = torch.tensor([1, 3, 1])


@pytest.fixture(scope='module')
def image():
    img = F.resize(decode_image(read_file(IMAGE)), [H, W], antialias=True)
    noise = torch.randint(-4, 5, img.shape, generator=torch.Generator().manual_seed(2))
    return (img.int() + noise).clamp(0, 255).to(torch.uint8)


@pytest.fixture(scope='module')
def runs(image):
    return run_both(image, torch.float64)


def run_both(image, dtype):
    """(torchvision's losses, its gradients under the zoo's names, the zoo's losses, its
    gradients)."""
    tv = reference_torchvision_model(image, min_size=H, max_size=1333, size_divisible=64)
    tv.rpn.fg_bg_sampler.batch_size_per_image = KEEP_ALL
    tv.roi_heads.fg_bg_sampler.batch_size_per_image = KEEP_ALL
    tv.rpn._post_nms_top_n = dict(training=POST_NMS, testing=POST_NMS)
    zoo = zoo_twin(tv, classes='all', input_range=1.0, overrides={
        'train_cfg.rpn.sampler.num': KEEP_ALL, 'train_cfg.rcnn.sampler.num': KEEP_ALL,
        'train_cfg.rpn_proposal.max_per_img': POST_NMS})
    tv.to(dtype).train()
    zoo.to(dtype).train()

    img = image.to(dtype) / 255
    tv_losses = tv([img], [dict(boxes=BOXES.to(dtype), labels=TV_LABELS.clone())])
    sum(tv_losses.values()).backward()
    with torch.no_grad():
        inputs = tv.transform([img])[0].tensors
    assert inputs.shape[-2:] == (H, W)  # neither resized nor padded
    sample = DetDataSample(metainfo=dict(img_shape=(H, W), ori_shape=(H, W),
                                         batch_input_shape=(H, W), scale_factor=(1.0, 1.0)))
    sample.gt_instances = InstanceData(bboxes=BOXES.to(dtype), labels=TV_LABELS - 1)
    zoo_losses = zoo(inputs, [sample], mode='loss')
    sum(v for k, v in zoo_losses.items() if 'loss' in k).backward()

    tv_grads = {n: p.grad if p.grad is not None else torch.zeros_like(p)
                for n, p in tv.named_parameters() if p.requires_grad}
    zoo_grads = {n: p.grad for n, p in zoo.named_parameters() if p.requires_grad}
    return tv_losses, convert_state_dict(tv_grads, 'all'), zoo_losses, zoo_grads


@pytest.mark.parametrize('tv_key, zoo_key', [
    ('loss_objectness', 'loss_rpn_cls'), ('loss_rpn_box_reg', 'loss_rpn_bbox'),
    ('loss_classifier', 'loss_cls'), ('loss_box_reg', 'loss_bbox')])
def test_losses_match(runs, tv_key, zoo_key):
    tv_losses, _, zoo_losses, _ = runs
    tv_value, zoo_value = tv_losses[tv_key].item(), zoo_losses[zoo_key].item()
    assert tv_value > 1e-5  # not a vanishing loss (the box losses are over every sampled anchor)
    # torchvision's RPN makes its objectness targets float32 (``assign_targets_to_anchors``),
    # which rounds its BCE to float32: ~1e-8 relative
    assert zoo_value == pytest.approx(tv_value, rel=1e-6), (tv_value, zoo_value)


def test_same_parameters_trained(runs):
    _, tv_grads, _, zoo_grads = runs
    # torchvision freezes the stem and layer1 (trainable_backbone_layers=3), the zoo's
    # frozen_stages=1 the same ones
    assert set(tv_grads) == set(zoo_grads)
    assert all(g is not None for g in zoo_grads.values()), \
        [n for n, g in zoo_grads.items() if g is None]


def test_gradients_match_on_every_parameter(runs):
    _, tv_grads, _, zoo_grads = runs
    bad = []
    for name, expected in tv_grads.items():
        got = zoo_grads[name]
        error = float((got - expected).norm() / expected.norm())
        if not error < 1e-6:  # seen: ~4e-10
            bad.append(f'{name}: relative error {error:.3g} (norm {float(expected.norm()):.3g})')
    assert not bad, '\n'.join(bad)
    nonzero = [n for n, g in tv_grads.items() if float(g.abs().max()) > 0]
    assert len(nonzero) == len(tv_grads)  # every trainable parameter gets a gradient
