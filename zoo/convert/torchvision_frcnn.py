"""torchvision's ``fasterrcnn_resnet50_fpn`` state dict -> a zoo checkpoint for the R50-FPN recipes.

Key mapping (torchvision -> zoo):

==========================================  ==========================================
``backbone.body.*``                          ``backbone.*`` (same names; BN's
                                             ``num_batches_tracked`` dropped: FrozenBN)
``backbone.fpn.*``                           ``neck.fpn.*``
``rpn.head.conv.0.0.*``                      ``rpn_head.rpn_conv.*``
``rpn.head.cls_logits.*``                    ``rpn_head.rpn_cls.*``
``rpn.head.bbox_pred.*``                     ``rpn_head.rpn_reg.*``
``roi_heads.box_head.fc6.*`` / ``fc7.*``     ``roi_head.bbox_head.fc6.*`` / ``fc7.*``
``roi_heads.box_predictor.cls_score.*``      ``roi_head.bbox_head.fc_cls.*`` (classes reordered)
``roi_heads.box_predictor.bbox_pred.*``      ``roi_head.bbox_head.fc_reg.*`` (classes reordered)
==========================================  ==========================================

Classes: torchvision has K + 1 outputs with background first; the zoo has K with background
last and no box deltas for background. torchvision's COCO layout has 91 slots (index = COCO
category id, 10 ids unused, marked 'N/A' in torchvision's weight metadata); ``classes='coco80'``
keeps the 80 used ones in id order, matching ``configs/faster_rcnn/faster_rcnn_r50_fpn_1x_coco.py``.
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Sequence, Union

import torch

_PREFIXES = [
    ('backbone.body.', 'backbone.'),
    ('backbone.fpn.', 'neck.fpn.'),
    ('rpn.head.conv.0.0.', 'rpn_head.rpn_conv.'),
    ('rpn.head.cls_logits.', 'rpn_head.rpn_cls.'),
    ('rpn.head.bbox_pred.', 'rpn_head.rpn_reg.'),
    ('roi_heads.box_head.fc6.', 'roi_head.bbox_head.fc6.'),
    ('roi_heads.box_head.fc7.', 'roi_head.bbox_head.fc7.'),
]


def coco80_indices() -> list[int]:
    """The 80 used slots of torchvision's 91-slot COCO layout (COCO category ids), in order.

    Source: the 'N/A' entries of ``FasterRCNN_ResNet50_FPN_Weights.COCO_V1.meta['categories']``.
    """
    from torchvision.models.detection import FasterRCNN_ResNet50_FPN_Weights
    cats = FasterRCNN_ResNet50_FPN_Weights.COCO_V1.meta['categories']
    return [i for i, name in enumerate(cats) if i > 0 and name != 'N/A']


def convert_state_dict(state: dict, classes: Union[str, Sequence[int]] = 'auto') -> OrderedDict:
    """Map a torchvision ``fasterrcnn_resnet50_fpn`` state dict onto the zoo's R50-FPN model.

    Args:
        state: torchvision's state dict (``model.state_dict()``).
        classes: which torchvision class slots (1 .. K) become the zoo's classes 0 .. K'-1:
            ``'auto'`` (``'coco80'`` for a 91-slot predictor, else all), ``'coco80'``, ``'all'``,
            or an explicit list of slot indices.

    Returns:
        The zoo state dict.

    Raises:
        ValueError: a key outside the mapping above, or a class slot out of range.
    """
    out, unknown = OrderedDict(), []
    for key, value in state.items():
        if key.endswith('num_batches_tracked'):
            continue
        for src, dst in _PREFIXES:
            if key.startswith(src):
                out[dst + key[len(src):]] = value
                break
        else:
            if not key.startswith('roi_heads.box_predictor.'):
                unknown.append(key)
    if unknown:
        raise ValueError(f'not a fasterrcnn_resnet50_fpn state dict: unknown keys {unknown[:8]}'
                         f'{"..." if len(unknown) > 8 else ""}')
    cls_w = state['roi_heads.box_predictor.cls_score.weight']
    slots = cls_w.shape[0]  # K + 1, background at 0
    if classes == 'auto':
        classes = 'coco80' if slots == 91 else 'all'
    if classes == 'coco80':
        if slots != 91:
            raise ValueError(f"classes='coco80' needs torchvision's 91-slot COCO predictor, got {slots}")
        keep = coco80_indices()
    elif classes == 'all':
        keep = list(range(1, slots))
    else:
        keep = [int(i) for i in classes]
        if not all(0 < i < slots for i in keep):
            raise ValueError(f'class slots must lie in 1..{slots - 1}, got {keep}')
    order = torch.tensor(keep + [0])  # foreground in order, background last
    out['roi_head.bbox_head.fc_cls.weight'] = cls_w[order].clone()
    out['roi_head.bbox_head.fc_cls.bias'] = state['roi_heads.box_predictor.cls_score.bias'][order].clone()
    reg_w = state['roi_heads.box_predictor.bbox_pred.weight'].view(slots, 4, -1)
    reg_b = state['roi_heads.box_predictor.bbox_pred.bias'].view(slots, 4)
    fg = torch.tensor(keep)
    out['roi_head.bbox_head.fc_reg.weight'] = reg_w[fg].reshape(len(keep) * 4, -1).clone()
    out['roi_head.bbox_head.fc_reg.bias'] = reg_b[fg].reshape(-1).clone()
    return out


def convert_file(src: str, dst: str, classes: Union[str, Sequence[int]] = 'auto') -> dict:
    """Read torchvision's state dict from ``src`` (weights_only), write a zoo checkpoint to ``dst``.

    Returns:
        The written checkpoint: ``dict(state_dict=..., meta=dict(source=..., classes=...))``.

    Raises:
        FileNotFoundError / CheckpointError: ``src`` missing or not a plain state dict.
        ValueError: see :func:`convert_state_dict`.
    """
    from zoo.checkpoint import load_checkpoint_file
    state = load_checkpoint_file(src)
    if isinstance(state, dict) and 'model' in state and isinstance(state['model'], dict):
        state = state['model']
    state_dict = convert_state_dict(state, classes)
    num = state_dict['roi_head.bbox_head.fc_cls.weight'].shape[0] - 1
    ckpt = dict(state_dict=state_dict,
                meta=dict(source=f'torchvision fasterrcnn_resnet50_fpn ({src})', num_classes=num))
    torch.save(ckpt, dst)
    return ckpt
