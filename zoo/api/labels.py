"""Class labels to binary (one-vs-all) targets for sigmoid classifiers, mmdet's convention.

A sigmoid classifier has C outputs, one per foreground class. Labels are int (N,) in 0 .. C,
where C (= ``pred.shape[1]``) means background: its target row is all zeros. (A softmax
classifier instead has C + 1 outputs with background last; see docs/parts.md, "Labels".) A
sigmoid RPN is the case C = 1: label 0 = object, label 1 = background.
"""
from __future__ import annotations

import torch
from torch import Tensor

__all__ = ['binary_targets']


def binary_targets(owner: str, pred: Tensor, target: Tensor) -> Tensor:
    """Float (N, C) targets for ``pred`` (N, C) logits.

    Args:
        owner: the loss's name, for messages.
        pred: (N, C) logits.
        target: int (N,) labels in 0 .. C (C = background: an all-zero row; every label outside
            0 .. C - 1 gives an all-zero row, without a device synchronization to check it), or a
            float tensor of ``pred``'s shape with targets in [0, 1] (returned as is).

    Returns:
        (N, C) tensor of ``pred``'s dtype.

    Raises:
        ValueError: ``pred`` not 2-D, or ``target`` neither int (N,) nor float of pred's shape.
    """
    if pred.dim() != 2:
        raise ValueError(f'{owner}: pred must be (N, C) logits, got shape {tuple(pred.shape)}')
    if target.is_floating_point():
        if target.shape != pred.shape:
            raise ValueError(f'{owner}: float targets must have the shape of pred {tuple(pred.shape)},'
                             f' got {tuple(target.shape)}; class labels must be an int (N,) tensor')
        return target.to(pred.dtype)
    if target.dtype == torch.bool or target.shape != pred.shape[:1]:
        raise ValueError(f'{owner}: labels must be an int tensor of shape (N,) = ({pred.shape[0]},) '
                         f'with values in 0..{pred.shape[1]} ({pred.shape[1]} = background), got '
                         f'{target.dtype} of shape {tuple(target.shape)}')
    classes = torch.arange(pred.shape[1], device=target.device)
    return (target.unsqueeze(1) == classes).to(pred.dtype)
