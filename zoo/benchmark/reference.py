"""torchvision's ``fasterrcnn_resnet50_fpn`` and the zoo's R50-FPN twin holding the same weights.

Used by the parity tests (``tests/parity``) and the speed benchmark
(``benchmarks/vs_torchvision.py``); :func:`float32_regions` gives torchvision's model the
zoo's float32 regions under mixed precision. No pretrained file can be downloaded here, so by
default the torchvision model gets seeded random weights brought to the scales of a trained network
(:func:`reference_torchvision_model`); a real ``fasterrcnn_resnet50_fpn`` state dict can be
loaded instead. The zoo twin is built from ``configs/faster_rcnn/faster_rcnn_r50_fpn_1x_coco.py``
and receives the weights through ``zoo convert torchvision``'s :func:`convert_state_dict`.

Preprocessing is matched by configuration: torchvision normalizes ``img / 255`` with ImageNet's
mean/std and pads to ``size_divisible``; the twin's data preprocessor gets the same mean/std
(in the units of its input) and ``pad_size_divisor``. torchvision derives each level's anchor
stride as ``padded size // feature size``, exact only when the padded size is a multiple of the
coarsest stride (64 for P6): with the default 32 its P6 anchors of an 800 x 600 image lie on a
60 x 61 pixel grid instead of 64 x 64. The twin always uses the true strides, so comparisons
pad both to 64.
"""
from __future__ import annotations

import os
from typing import Optional, Sequence, Union

import torch
from torch import Tensor

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
#: the zoo recipe whose model is torchvision's fasterrcnn_resnet50_fpn
R50_FPN_CONFIG = os.path.join(ROOT, 'configs', 'faster_rcnn', 'faster_rcnn_r50_fpn_1x_coco.py')
#: torchvision's normalization of images in [0, 1] (ImageNet statistics)
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def reference_torchvision_model(calibration_image: Optional[Tensor] = None, seed: int = 0,
                                min_size: int = 800, max_size: int = 1333,
                                size_divisible: int = 64, weights: Optional[str] = None):
    """torchvision's ``fasterrcnn_resnet50_fpn`` (91 COCO slots), in eval mode.

    As torchvision builds it around pretrained weights: :class:`~torchvision.ops.FrozenBatchNorm2d`
    everywhere and three trainable stages (the stem and layer1 frozen).

    Args:
        calibration_image: uint8 (3, H, W). With ``weights=None`` the random weights are brought
            to a trained network's scales on this image: the FPN outputs to a std of about 1
            (a random ResNet's features have a std of hundreds) and the RPN and box classifiers
            made confident enough (x8, x15) that detections pass the 0.05 score threshold. The
            frozen BN layers get non-trivial statistics (so that a wrong BN mapping shows),
            and the 10 unused ids of the 91-slot COCO layout never win, as in a trained model.
        seed: seed of the random weights (``torch.manual_seed(seed)``, BN statistics from
            ``seed + 1``).
        min_size, max_size, size_divisible: of torchvision's ``GeneralizedRCNNTransform``.
        weights: a local ``fasterrcnn_resnet50_fpn`` state-dict file (e.g.
            ``fasterrcnn_resnet50_fpn_coco-258fb6c6.pth``) instead of random weights.

    Raises:
        ValueError: ``weights=None`` without a ``calibration_image``.
        FileNotFoundError, CheckpointError: ``weights`` missing or not a state dict.
    """
    from torchvision.models import resnet50
    from torchvision.models.detection import FasterRCNN
    from torchvision.models.detection.backbone_utils import _resnet_fpn_extractor
    from torchvision.ops import FrozenBatchNorm2d

    torch.manual_seed(seed)
    body = resnet50(norm_layer=FrozenBatchNorm2d)
    tv = FasterRCNN(_resnet_fpn_extractor(body, 3), num_classes=91)
    tv.transform.min_size = (int(min_size),)
    tv.transform.max_size = int(max_size)
    tv.transform.size_divisible = int(size_divisible)
    tv.eval()
    if weights is not None:
        from zoo.checkpoint import load_checkpoint_file
        state = load_checkpoint_file(weights)
        tv.load_state_dict(state.get('model', state) if isinstance(state, dict) else state)
        return tv
    if calibration_image is None:
        raise ValueError('reference_torchvision_model: random weights need a calibration_image '
                         '(uint8 (3, H, W)) to be brought to a trained network\'s scales')
    from zoo.convert import coco80_indices
    g = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for m in tv.modules():
            if isinstance(m, FrozenBatchNorm2d):
                m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=g) * 0.1)
                m.running_var.copy_(torch.rand(m.running_var.shape, generator=g) + 0.5)
                m.weight.copy_(torch.rand(m.weight.shape, generator=g) + 0.5)
                m.bias.copy_(torch.randn(m.bias.shape, generator=g) * 0.1)
        images, _ = tv.transform([calibration_image.float() / 255])
        std = torch.stack([f.std() for f in tv.backbone(images.tensors).values()]).mean()
        for block in tv.backbone.fpn.layer_blocks:
            block[0].weight.div_(std)
            block[0].bias.div_(std)
        tv.rpn.head.cls_logits.weight.mul_(8)
        tv.roi_heads.box_predictor.cls_score.weight.mul_(15)
        unused = sorted(set(range(1, 91)) - set(coco80_indices()))
        tv.roi_heads.box_predictor.cls_score.weight[unused] = 0
        tv.roi_heads.box_predictor.cls_score.bias[unused] = -1e4
    return tv


def zoo_twin(tv, classes: Union[str, Sequence[int]] = 'all', input_range: float = 1.0,
             overrides: Optional[dict] = None):
    """The zoo's R50-FPN with ``tv``'s weights (through :func:`zoo.convert.convert_state_dict`).

    Args:
        tv: a torchvision ``FasterRCNN`` (ResNet-50-FPN).
        classes: ``'all'`` (every torchvision slot 1..K becomes zoo class slot - 1: 90 classes
            for COCO, so that both softmaxes run over the same logits) or ``'coco80'``.
        input_range: the range of the images the twin's data preprocessor receives: 1.0 for
            floats in [0, 1] (torchvision's own input, so normalization is the same
            arithmetic), 255.0 for uint8 images.
        overrides: merged into the ``model`` config (mmengine's ``merge_from_dict`` with
            dotted keys), e.g. ``{'channels_last': False}``.

    Returns:
        The zoo detector in eval mode, with torchvision's normalization, padding, proposal and
        detection settings.
    """
    from mmengine.config import Config

    import registry
    from zoo.convert import convert_state_dict
    from zoo.detectors.builder import build_detector

    state = convert_state_dict(tv.state_dict(), classes)
    num_classes = state['roi_head.bbox_head.fc_cls.weight'].shape[0] - 1
    cfg = Config.fromfile(R50_FPN_CONFIG)
    t = tv.transform
    cfg.model.data_preprocessor.update(
        mean=[input_range * m for m in t.image_mean], std=[input_range * s for s in t.image_std],
        pad_size_divisor=int(t.size_divisible))
    cfg.model.roi_head.bbox_head.num_classes = num_classes
    if overrides:
        cfg.merge_from_dict({f'model.{k}': v for k, v in overrides.items()})
    registry.discover()
    model = build_detector(cfg.model)
    model.load_state_dict(state, strict=True)
    return model.eval()


def float32_regions(tv):
    """Give torchvision's Faster R-CNN ``tv`` the float32 regions the zoo's parts have under
    mixed precision, so that both run under the same ``torch.autocast`` with the same help.

    The zoo decorates its RoI layers, box coders, anchor and proposal code, losses and the
    heads' detection code with :func:`zoo.api.force_fp32`. Here the same decorator wraps the
    matching methods of this one model instance (torchvision itself is not changed):

    * ``rpn.anchor_generator``: anchors computed in float32 (torchvision makes them in the
      feature maps' dtype: in bfloat16, 8 px steps at 1000 px; its cached cell anchors would
      even be left in bfloat16). Only the feature maps' shapes are passed on, no copy;
    * ``rpn.box_coder`` and ``roi_heads.box_coder``: ``encode`` and ``decode``;
    * ``rpn.filter_proposals`` (scores, top-k, NMS), ``rpn.assign_targets_to_anchors``
      (IoU matching), ``rpn.compute_loss``;
    * ``roi_heads.box_roi_pool`` (``MultiScaleRoIAlign``: torchvision's CPU ``roi_align``
      kernel has no bfloat16 implementation; torchvision's own autocast rule for it casts the
      input to float32 and the result back to bfloat16, the wrapper keeps it float32 as the
      zoo's RoI layers do), ``roi_heads.select_training_samples`` (matching, sampling,
      encoding), ``roi_heads.postprocess_detections`` (softmax, decoding, NMS).

    The Fast R-CNN losses (``fastrcnn_loss``, a module function) need no wrapper: autocast
    already runs ``cross_entropy`` and ``smooth_l1_loss`` in float32. Outside autocast every
    wrapper is a plain call, so float32 outputs are unchanged bit for bit.

    Returns:
        ``tv`` (changed in place; calling this twice wraps once).
    """
    from zoo.api import force_fp32

    if getattr(tv, '_zoo_float32_regions', False):
        return tv
    rpn, heads = tv.rpn, tv.roi_heads
    for obj, names in ((rpn.box_coder, ('encode', 'decode')),
                       (heads.box_coder, ('encode', 'decode')),
                       (rpn, ('filter_proposals', 'assign_targets_to_anchors', 'compute_loss')),
                       (heads, ('select_training_samples', 'postprocess_detections')),
                       (heads.box_roi_pool, ('forward',))):
        for name in names:
            setattr(obj, name, force_fp32(getattr(obj, name)))
    anchors = rpn.anchor_generator
    anchors_forward = anchors.forward

    def float32_anchors(image_list, feature_maps):
        # it reads only the maps' shapes, dtype and device (no autocast op inside)
        return anchors_forward(image_list, [torch.zeros((), device=f.device).expand(f.shape)
                                            for f in feature_maps])
    anchors.forward = float32_anchors
    tv._zoo_float32_regions = True
    return tv
