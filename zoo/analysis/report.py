"""Everything ``zoo analyze`` writes, from the per-image records (see
:mod:`zoo.analysis.records`), into one folder.

Files (each written atomically; none is overwritten unless asked):

* ``pr_curves.png``, ``pr_curves.json``: :func:`zoo.analysis.pr_curve.pr_curves` at IoU 0.5
  and 0.75;
* ``confusion_matrix.png``, ``confusion_matrix.json``: :mod:`zoo.analysis.confusion`;
* ``tide.txt``, ``tide.json``, ``tide.png``: :mod:`zoo.analysis.tide`;
* ``gallery_missed/``, ``gallery_false/``: :mod:`zoo.analysis.gallery`.
"""
from __future__ import annotations

import glob
import json
import os
from typing import Mapping, Sequence

from registry import ConfigError

from ..runner.atomic import write_text
from .confusion import confusion_matrix, confusion_to_json
from .figures import plot_confusion_matrix, plot_pr_curves, plot_tide
from .gallery import rank_images, write_gallery
from .pr_curve import pr_curves
from .tide import tide_errors

OUTPUT_FILES = ('pr_curves.png', 'pr_curves.json', 'confusion_matrix.png', 'confusion_matrix.json',
                'tide.txt', 'tide.json', 'tide.png')
GALLERIES = ('gallery_missed', 'gallery_false')


def existing_outputs(out_dir: str, extra: Sequence[str] = ()) -> list[str]:
    """The outputs of an earlier analysis already in ``out_dir`` (files, and galleries that hold
    pictures)."""
    found = [n for n in (*OUTPUT_FILES, *extra) if os.path.exists(os.path.join(out_dir, n))]
    found += [g + '/' for g in GALLERIES if glob.glob(os.path.join(out_dir, g, '*.png'))]
    return found


def check_out_dir(out_dir: str, overwrite: bool, extra: Sequence[str] = ()) -> None:
    """Refuse an ``out_dir`` holding earlier outputs, unless ``overwrite``.

    Raises:
        ConfigError: outputs exist and ``overwrite`` is false (the message names them).
    """
    found = existing_outputs(out_dir, extra)
    if found and not overwrite:
        raise ConfigError(f'--out-dir {out_dir} already holds {", ".join(found)}; give '
                          f'--overwrite to replace them, or another --out-dir')


def _json(path: str, data) -> None:
    write_text(path, json.dumps(data, indent=1, allow_nan=False) + '\n')


def write_analysis(records: Sequence[Mapping], classes: Sequence[str], out_dir: str,
                   iou_thr: float = 0.5, score_thr: float = 0.3, top_k: int = 5,
                   t_f: float = 0.5, t_b: float = 0.1) -> dict:
    """Compute and write every output into ``out_dir`` (see the module docstring); earlier
    gallery pictures there are removed first. Returns ``dict(mAP50, mAP75, tide=TideResult,
    confusion=matrix, galleries={kind: [file names]})``.

    Args:
        iou_thr, score_thr: the confusion matrix's and the galleries' IoU and score thresholds.
        top_k: pictures per gallery.
        t_f, t_b: TIDE's foreground and background IoU.
    """
    os.makedirs(out_dir, exist_ok=True)
    num_classes = len(classes)
    curves = pr_curves(records, classes, (0.5, 0.75))
    _json(os.path.join(out_dir, 'pr_curves.json'), curves)
    plot_pr_curves(curves, os.path.join(out_dir, 'pr_curves.png'))

    matrix = confusion_matrix(records, num_classes, iou_thr, score_thr)
    _json(os.path.join(out_dir, 'confusion_matrix.json'),
          confusion_to_json(matrix, classes, iou_thr, score_thr))
    plot_confusion_matrix(matrix, classes, iou_thr, score_thr,
                          os.path.join(out_dir, 'confusion_matrix.png'))

    tide = tide_errors(records, num_classes, t_f, t_b)
    _json(os.path.join(out_dir, 'tide.json'), tide.to_json())
    write_text(os.path.join(out_dir, 'tide.txt'), tide.table() + '\n')
    plot_tide(tide, os.path.join(out_dir, 'tide.png'))

    ranked = rank_images(records, num_classes, iou_thr, score_thr, top_k)
    galleries = {}
    for kind, folder in zip(('missed', 'false'), GALLERIES):
        path = os.path.join(out_dir, folder)
        for old in glob.glob(os.path.join(path, '*.png')):
            os.unlink(old)
        galleries[kind] = write_gallery(records, ranked[kind], classes, path, kind, score_thr)
    return dict(mAP50=curves['iou_thresholds']['0.5']['mAP'],
                mAP75=curves['iou_thresholds']['0.75']['mAP'], tide=tide, confusion=matrix,
                galleries=galleries)


__all__ = ['GALLERIES', 'OUTPUT_FILES', 'check_out_dir', 'existing_outputs', 'write_analysis']
