"""Boxes, class names and scores drawn on an image with PIL (Pillow comes with torchvision)."""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

PALETTE = [(220, 20, 60), (0, 130, 200), (60, 180, 75), (245, 130, 48), (145, 30, 180),
           (70, 240, 240), (240, 50, 230), (210, 245, 60), (250, 190, 212), (0, 128, 128)]


def _font(size: int):
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1 has only the fixed bitmap font
        return ImageFont.load_default()


def draw_detections(image, bboxes, labels: Optional[Sequence[int]] = None,
                    scores: Optional[Sequence[float]] = None,
                    class_names: Optional[Sequence[str]] = None,
                    proposals=None, line_width: int = 2) -> Image.Image:
    """Draw boxes on ``image`` and return a new RGB PIL image.

    Args:
        image: uint8 tensor (3, H, W) RGB, numpy (H, W, 3), or a PIL image.
        bboxes: (N, 4) xyxy pixels of ``image``.
        labels: (N,) class indices (colour and name); scores: (N,) shown after the name.
        class_names: names indexed by label.
        proposals: optional (K, 4) boxes drawn thin and grey under the detections.
    """
    if isinstance(image, torch.Tensor):
        image = image.detach().cpu().permute(1, 2, 0).numpy()
    if isinstance(image, np.ndarray):
        image = Image.fromarray(image.astype(np.uint8))
    image = image.convert('RGB')
    draw = ImageDraw.Draw(image)
    font = _font(max(12, image.height // 40))
    if proposals is not None:
        for box in torch.as_tensor(proposals).tolist():
            draw.rectangle(box, outline=(160, 160, 160), width=1)
    bboxes = torch.as_tensor(bboxes).reshape(-1, 4).tolist()
    for i, box in enumerate(bboxes):
        label = int(labels[i]) if labels is not None else None
        color = PALETTE[label % len(PALETTE)] if label is not None else PALETTE[0]
        draw.rectangle(box, outline=color, width=line_width)
        text = class_names[label] if (class_names is not None and label is not None
                                      and label < len(class_names)) else (
            str(label) if label is not None else '')
        if scores is not None:
            text = f'{text} {float(scores[i]):.2f}'.strip()
        if text:
            left, top, right, bottom = draw.textbbox((box[0], box[1]), text, font=font)
            y = max(0, box[1] - (bottom - top) - 2)
            draw.rectangle((box[0], y, box[0] + right - left + 4, y + bottom - top + 2), fill=color)
            draw.text((box[0] + 2, y), text, fill=(255, 255, 255), font=font)
    return image


def save_image(image: Image.Image, path: str) -> None:
    image.save(path)
