"""Checks of the arguments that the canvas-making transforms (``Mosaic``, ``RandomAffine``)
share: number pairs and the fill value of a canvas."""
from __future__ import annotations

from numbers import Real
from typing import Sequence

import torch


def number_pair(owner: str, name: str, value, positive: bool = False) -> tuple[float, float]:
    """``value`` as two floats; ValueError ``"<owner>: `<name>` must be two [positive] numbers,
    got ..."`` otherwise (bools are not numbers here)."""
    if (isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or len(value) != 2
            or not all(isinstance(v, Real) and not isinstance(v, bool) for v in value)
            or (positive and not all(v > 0 for v in value))):
        raise ValueError(f'{owner}: `{name}` must be two {"positive " if positive else ""}'
                         f'numbers, got {value!r}')
    return float(value[0]), float(value[1])


def fill_value(owner: str, pad_val) -> torch.Tensor:
    """The canvas fill ``pad_val`` (one number, or three for R, G, B, each in 0..255) as a uint8
    tensor (1,) or (3,), rounded; ValueError naming ``owner`` and ``pad_val`` otherwise."""
    values = [pad_val] if isinstance(pad_val, Real) else pad_val
    if (isinstance(values, (str, bytes)) or not isinstance(values, Sequence)
            or len(values) not in (1, 3)
            or not all(isinstance(v, Real) and 0 <= v <= 255 for v in values)):
        raise ValueError(f'{owner}: `pad_val` must be a number in 0..255 or three of them '
                         f'(R, G, B), got {pad_val!r}')
    return torch.tensor([round(float(v)) for v in values], dtype=torch.uint8)
