"""What a :class:`~zoo.inference.Detector` returns for one image: :class:`Detections`."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Optional

import torch

__all__ = ['Detections']


@dataclass
class Detections:
    """The detections of one image, in the pixels of the original image (before the test
    pipeline's resize), sorted as the model returns them (by score within each class for the
    zoo's heads).

    Attributes:
        boxes: float32 (N, 4), xyxy, original-image pixels (x to the right, y down; a box
            covering the whole W x H image is (0, 0, W, H)).
        scores: float32 (N,), in [0, 1].
        labels: int64 (N,), class indices into ``class_names``.
        class_names: the config's class names, indexed by label (empty when the config names
            none).
        image_path: the file the image came from; None for an in-memory image.
        image_shape: (H, W) of the original image, pixels.
        proposals: float32 (K, 4) xyxy original-image pixels, the K best RPN proposals, when
            asked for (``Detector(num_proposals=K)``) and the model makes them (two-stage);
            else None.

    All tensors are on the CPU. ``len(detections)`` is N.
    """
    boxes: torch.Tensor
    scores: torch.Tensor
    labels: torch.Tensor
    class_names: tuple[str, ...]
    image_path: Optional[str]
    image_shape: tuple[int, int]
    proposals: Optional[torch.Tensor] = None
    image: Optional[torch.Tensor] = field(default=None, repr=False, compare=False)
    """The in-memory input as a uint8 RGB tensor (3, H, W), kept for :meth:`draw`; None for a
    file (read again when drawn)."""

    def __len__(self) -> int:
        return int(self.boxes.shape[0])

    def label_names(self) -> list[str]:
        """The class name of each detection (its label as text when the config names none)."""
        return [self.class_names[i] if i < len(self.class_names) else str(i)
                for i in self.labels.tolist()]

    def filter(self, score_thr: float) -> 'Detections':
        """The detections scoring at least ``score_thr`` (a new object; proposals are kept)."""
        keep = self.scores >= score_thr
        return Detections(self.boxes[keep], self.scores[keep], self.labels[keep],
                          self.class_names, self.image_path, self.image_shape, self.proposals,
                          self.image)

    def to_dict(self) -> dict:
        """Plain Python values: ``image_path``, ``image_shape`` [H, W], ``boxes`` [[x1, y1, x2,
        y2], ...] (pixels), ``scores``, ``labels``, ``label_names`` (and ``proposals`` when
        present)."""
        out = dict(image_path=self.image_path, image_shape=list(self.image_shape),
                   boxes=self.boxes.tolist(), scores=self.scores.tolist(),
                   labels=self.labels.tolist(), label_names=self.label_names())
        if self.proposals is not None:
            out['proposals'] = self.proposals.tolist()
        return out

    def to_json(self, **kwargs) -> str:
        """:meth:`to_dict` as JSON text; ``kwargs`` go to :func:`json.dumps` (e.g. indent=1)."""
        return json.dumps(self.to_dict(), **kwargs)

    def draw(self, image=None, score_thr: float = 0.0, line_width: int = 2):
        """The image with the detections scoring at least ``score_thr`` drawn (boxes, class
        names, scores; proposals thin and grey), as a new RGB PIL image.

        Args:
            image: what to draw on (a PIL image, numpy (H, W, 3) RGB or tensor (3, H, W));
                default the input image (its file is read again).

        Raises:
            ValueError: no image is given and the input was neither a file nor kept.
        """
        from PIL import Image

        from zoo.visualization import draw_detections
        if image is None:
            if self.image is not None:
                image = self.image
            elif self.image_path is not None:
                with Image.open(self.image_path) as f:
                    image = f.convert('RGB')
            else:
                raise ValueError('Detections.draw: no image to draw on; pass image=')
        shown = self.filter(score_thr)
        return draw_detections(image, shown.boxes, shown.labels, shown.scores, self.class_names,
                               self.proposals, line_width=line_width)
