"""The parts of ``zoo infer`` that keep a run going and its outputs apart: the score threshold's
check, unique output names, and the report of images that could not be read."""
from __future__ import annotations

import argparse
import math
import os


def score_threshold(text: str) -> float:
    """argparse type of ``--score-thr``: a number in [0, 1] (a usage error, exit 2, otherwise)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f'expected a number in [0, 1], got {text!r}') from None
    if math.isnan(value) or not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f'expected a number in [0, 1] (scores are probabilities), '
                                         f'got {text!r}')
    return value


def output_names(paths: list[str]) -> dict[str, str]:
    """For each input image, the relative path of its picture in the output folder.

    The picture keeps the image's folder below the folders the inputs have in common
    (``a/x.jpg`` and ``b/x.jpg`` give ``a/x.png`` and ``b/x.png``; the images of one folder give
    plain ``x.png``); two images that would still share a name (``x.jpg`` and ``x.png``) keep
    their extension (``x.jpg.png``, ``x.png.png``). No picture overwrites another.
    """
    absolute = [os.path.abspath(p) for p in paths]
    dirs = [os.path.dirname(p) for p in absolute]
    root = os.path.commonpath(dirs) if dirs else ''
    rel = [os.path.relpath(p, root) for p in absolute]
    stems = [os.path.splitext(r)[0] for r in rel]
    taken = {s: stems.count(s) for s in stems}
    return {path: (stem if taken[stem] == 1 else r) + '.png'
            for path, r, stem in zip(paths, rel, stems, strict=True)}


def report_failures(failures: list[tuple[str, str]], total: int) -> str:
    """The lines printed for the images that could not be processed (path and reason)."""
    lines = [f'{len(failures)} of {total} image(s) could not be processed:']
    lines += [f'  {path}: {reason}' for path, reason in failures]
    return '\n'.join(lines)
