"""Cross-entropy classification loss, softmax or sigmoid (mmdet's ``CrossEntropyLoss``).

* Softmax (Fast R-CNN, Girshick 2015, section 2.3, ``L_cls = -log p_u``; py-faster-rcnn's
  ``SoftmaxWithLoss``): ``pred`` (N, C) logits over all classes, background included (the zoo's
  softmax heads have C = num_classes + 1 outputs, background last), labels int (N,).
  :func:`torch.nn.functional.cross_entropy` per sample; labels equal to -100 are ignored (loss 0).
* Sigmoid (binary cross-entropy per class; YOLOv3 section 2.2, a sigmoid RPN): ``pred`` (N, C)
  logits over the foreground classes only, labels int (N,) in 0 .. C with C = background (all-zero
  target row; see :func:`zoo.api.binary_targets`), or float targets of ``pred``'s shape.
  :func:`torch.nn.functional.binary_cross_entropy_with_logits` per element.
"""
from __future__ import annotations

from typing import ClassVar, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from registry import LOSSES
from zoo.api import WeightedLoss, binary_targets

__all__ = ['CrossEntropyLoss']


@LOSSES.register_module()
class CrossEntropyLoss(WeightedLoss):
    """Softmax or sigmoid cross-entropy on logits.

    Args:
        use_sigmoid: False: softmax over C classes (background included); True: independent
            sigmoids over C foreground classes.
        loss_weight: factor on the reduced loss.
        reduction: 'mean' | 'sum' | 'none'.
        class_weight: optional list of C per-class factors (softmax: per target class, as
            ``F.cross_entropy(weight=...)`` but, as in mmdet, 'mean' averages the weighted losses
            over N, not over the sum of the weights; sigmoid: per column).

    Attributes:
        use_sigmoid; loss_kind = 'classification'.

    Shapes (forward):
        softmax: ``pred`` (N, C) float, ``target`` int (N,) in 0 .. C-1 (or -100: ignored),
        ``weight`` (N,); element-wise loss (N,).
        sigmoid: ``pred`` (N, C), ``target`` int (N,) in 0 .. C (C = background) or float (N, C),
        ``weight`` (N,) or (N, C); element-wise loss (N, C), so 'mean' averages over N * C.
        Result: scalar (or the element-wise loss with reduction 'none'), in nats.

    Raises:
        ValueError: ``class_weight`` not a list of numbers, or its length differs from C;
            ``pred`` not 2-D; softmax labels not int (N,); sigmoid targets of other shapes;
            plus those of :class:`~zoo.api.WeightedLoss`. Softmax labels out of
            range fail inside ``F.cross_entropy`` (IndexError on CPU, device assert on CUDA).
    """

    loss_kind: ClassVar[str] = 'classification'

    def __init__(self, use_sigmoid: bool = False, loss_weight: float = 1.0, reduction: str = 'mean',
                 class_weight: Optional[Sequence[float]] = None):
        super().__init__(reduction=reduction, loss_weight=loss_weight)
        self.use_sigmoid = bool(use_sigmoid)
        if class_weight is not None:
            if (isinstance(class_weight, str) or not isinstance(class_weight, Sequence) or not class_weight
                    or any(isinstance(w, bool) or not isinstance(w, (int, float)) for w in class_weight)):
                raise ValueError(f'CrossEntropyLoss: class_weight must be None or a list of numbers, '
                                 f'one per class, got {class_weight!r}')
            self.register_buffer('class_weight', torch.tensor(class_weight, dtype=torch.float32),
                                 persistent=False)
        else:
            self.class_weight = None

    def _class_weight(self, pred: Tensor) -> Optional[Tensor]:
        if self.class_weight is None:
            return None
        if self.class_weight.numel() != pred.shape[1]:
            raise ValueError(f'CrossEntropyLoss: class_weight has {self.class_weight.numel()} entries '
                             f'but pred has {pred.shape[1]} classes')
        return self.class_weight.to(device=pred.device, dtype=pred.dtype)

    def elementwise(self, pred: Tensor, target: Tensor) -> Tensor:
        if pred.dim() != 2:
            raise ValueError(f'CrossEntropyLoss: pred must be (N, C) logits, got shape {tuple(pred.shape)}')
        if self.use_sigmoid:
            targets = binary_targets('CrossEntropyLoss', pred, target)
            return F.binary_cross_entropy_with_logits(pred, targets, weight=self._class_weight(pred),
                                                      reduction='none')
        if target.is_floating_point() or target.dtype == torch.bool or target.shape != pred.shape[:1]:
            raise ValueError(f'CrossEntropyLoss: labels must be an int tensor of shape (N,) = '
                             f'({pred.shape[0]},), got {target.dtype} of shape {tuple(target.shape)}')
        return F.cross_entropy(pred, target.long(), weight=self._class_weight(pred), reduction='none')

    def extra_repr(self) -> str:
        return f'use_sigmoid={self.use_sigmoid}, ' + super().extra_repr()
