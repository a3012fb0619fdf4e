"""Counting what a dataset drops or skips, and saying so once.

Two kinds of loss are tracked while a dataset is built and used:

* **dropped boxes**: annotations whose box has zero (or negative) width or height, or lies wholly
  outside the image, are dropped; boxes partly outside are clipped to the image. One
  :class:`~zoo.datasets.errors.DatasetWarning` at the end of the dataset's ``__init__`` counts
  them by reason and names the files (:class:`BoxLedger`).
* **bad samples**: with ``skip_bad_samples=True`` an unreadable annotation file (at init) or image
  (at load time) is skipped; each is recorded as a :class:`BadSample` and reported.

Every report goes both to Python's :mod:`warnings` (so tests and ``-W error`` see it) and to
mmengine's current logger (so it lands in the run's log file).
"""
from __future__ import annotations

import logging
import os.path as osp
import sys
import warnings
from dataclasses import dataclass
from typing import Optional

import torch
from mmengine.logging import print_log

from ..structures import clip_boxes, size_keep_mask
from .errors import DatasetWarning

#: how many file names a report lists before it says "and N more"
MAX_NAMES = 10


#: code in these folders is skipped when a warning names the line that caused it
_OWN_DIRS = tuple(osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), d) + osp.sep
                  for d in ('datasets', 'transforms'))


def _caller_level() -> int:
    """The ``stacklevel`` of the first frame outside zoo/datasets and zoo/transforms."""
    level, frame = 1, sys._getframe(1)
    while frame is not None and osp.abspath(frame.f_code.co_filename).startswith(_OWN_DIRS):
        frame, level = frame.f_back, level + 1
    return level


def warn(message: str) -> None:
    """Emit ``message`` as a :class:`DatasetWarning`, attributed to the first caller outside the
    data code (the user's line that built or indexed the dataset), and on mmengine's current
    logger."""
    warnings.warn(message, DatasetWarning, stacklevel=_caller_level())
    print_log(message, logger='current', level=logging.WARNING)


def name_files(files: list[str], limit: int = MAX_NAMES) -> str:
    """``'a, b, c'`` or ``'a, b, ... and 7 more'`` for a list of file names."""
    shown = ', '.join(files[:limit])
    return shown + (f' and {len(files) - limit} more' if len(files) > limit else '')


@dataclass(frozen=True)
class BadSample:
    """A sample skipped because one of its files is unusable.

    Attributes:
        path: the file at fault (annotation or image).
        reason: the error message.
        stage: ``'annotation'`` (found while parsing, at init) or ``'image'`` (found at load time).
        index: the sample's index in ``data_list`` for image problems; None for annotation ones,
            whose sample never entered ``data_list``.
    """

    path: str
    reason: str
    stage: str
    index: Optional[int] = None


class BoxLedger:
    """Counts boxes dropped or clipped while annotations are parsed, per reason and file.

    Call :meth:`check` for every box; it returns the box to keep (clipped if need be) or None to
    drop it. :meth:`report` emits the single warning (nothing when nothing was dropped/clipped).
    """

    REASONS = ('zero width or height', 'outside the image')
    #: what else a dataset leaves out while it is parsed, counted in the same warning
    LEFT_OUT = {'image without a box': 'images without a box',
                'annotation of an unknown category': 'annotations of unknown categories',
                'annotation of an unknown image': 'annotations of unknown images',
                'duplicate image id': 'duplicate image ids'}

    def __init__(self):
        self.dropped = {r: 0 for r in self.REASONS}
        self.clipped = 0
        self.left_out = {r: 0 for r in self.LEFT_OUT}
        self.files: list[str] = []  # files with a dropped or clipped box, in order of discovery
        self._seen: set[str] = set()

    @property
    def num_dropped(self) -> int:
        return sum(self.dropped.values())

    def leave_out(self, what: str, source: str, n: int = 1) -> None:
        """Count ``n`` things of kind ``what`` (one of :attr:`LEFT_OUT`) left out of ``source``."""
        if what not in self.left_out:
            raise ValueError(f'unknown kind {what!r}; expected one of {list(self.LEFT_OUT)}')
        if n:
            self.left_out[what] += n
            self._note(source)

    def _note(self, source: str) -> None:
        if source not in self._seen:
            self._seen.add(source)
            self.files.append(source)

    def check(self, box: list[float], width: float, height: float,
              source: str) -> Optional[list[float]]:
        """Validate one xyxy box (pixels, no +1 width) against an image of ``width`` x ``height``.

        Returns:
            None when the box has zero or negative width or height (NaN counts as such) or has no
            area inside the image; the box clipped to ``[0, width] x [0, height]`` otherwise
            (unchanged when it lies inside).
        """
        x1, y1, x2, y2 = box
        t = torch.tensor([box], dtype=torch.float64)
        if not bool(size_keep_mask(t)[0]):  # NaN counts as empty
            self.dropped['zero width or height'] += 1
            self._note(source)
            return None
        if x1 >= width or y1 >= height or x2 <= 0 or y2 <= 0:
            self.dropped['outside the image'] += 1
            self._note(source)
            return None
        if x1 < 0 or y1 < 0 or x2 > width or y2 > height:
            self.clipped += 1
            self._note(source)
            return clip_boxes(t, (height, width))[0].tolist()
        return [float(x1), float(y1), float(x2), float(y2)]

    def message(self, owner: str) -> Optional[str]:
        """The report's text, or None when every box was kept as it was."""
        if not self.num_dropped and not self.clipped and not any(self.left_out.values()):
            return None
        parts = []
        if self.num_dropped:
            why = ', '.join(f'{n} of {r}' for r, n in self.dropped.items() if n)
            parts.append(f'dropped {self.num_dropped} box{"es" if self.num_dropped != 1 else ""} '
                         f'({why})')
        if self.clipped:
            parts.append(f'clipped {self.clipped} box{"es" if self.clipped != 1 else ""} '
                         f'partly outside the image to its border')
        left = [f'{n} {what if n == 1 else self.LEFT_OUT[what]}' for what, n in self.left_out.items() if n]
        if left:
            parts.append('left out ' + ', '.join(left))
        return (f'{owner}: {" and ".join(parts)}, in {len(self.files)} '
                f'file{"s" if len(self.files) != 1 else ""}: {name_files(self.files)}')

    def report(self, owner: str) -> Optional[str]:
        """Emit the one warning (if any) and return its text."""
        msg = self.message(owner)
        if msg:
            warn(msg)
        return msg

