"""The scalars a run logged (mmengine's ``LocalVisBackend``), and their curves over iterations.

mmengine writes each run of ``zoo train`` into a timestamped folder of the work dir,
``WORK_DIR/<YYYYMMDD_HHMMSS>/vis_data/scalars.json``: one JSON object per line, e.g.
``{"lr": 0.01, "loss": 1.2, "loss_rpn_cls": 0.6, ..., "iter": 20, "epoch": 1, "step": 20}`` for
training and ``{"coco/bbox_mAP_50": 0.61, ..., "step": 5}`` for a validation (``step``: the
iteration for training entries, the epoch of an epoch-based validation). A resumed run has one
folder per start; their entries are read in order, a later value of a key at a step replacing
an earlier one.
"""
from __future__ import annotations

import glob
import json
import os
from typing import Optional, Sequence

from registry import ConfigError

#: keys of every entry that are not logged scalars
BOOKKEEPING = ('step', 'iter', 'epoch', 'time', 'data_time', 'memory', 'eta')


def log_dirs(work_dir: str) -> list[str]:
    """mmengine's timestamped log folders of ``work_dir``, oldest first."""
    return sorted(d for d in glob.glob(os.path.join(work_dir, '2*')) if os.path.isdir(d))


def read_scalars(work_dir: str) -> list[dict]:
    """Every entry of the ``vis_data/scalars.json`` files of ``work_dir``, in logging order."""
    entries = []
    for d in log_dirs(work_dir):
        path = os.path.join(d, 'vis_data', 'scalars.json')
        if os.path.isfile(path):
            with open(path, encoding='utf-8') as f:
                entries += [json.loads(line) for line in f if line.strip()]
    return entries


def scalar_curve(entries: Sequence[dict], key: str) -> list[tuple[int, float]]:
    """(step, value) of ``key``, sorted by step; for training entries (which log ``iter``) the
    step is the iteration, for validation entries of an epoch-based run the epoch."""
    points = {}
    for e in entries:
        if key in e and 'step' in e:
            points[int(e['step'])] = float(e[key])
    return sorted(points.items())


def available_keys(entries: Sequence[dict]) -> list[str]:
    """The scalar names logged in ``entries``, sorted."""
    return sorted({k for e in entries for k in e if k not in BOOKKEEPING})


def plot_scalars(work_dirs: Sequence[str], keys: Sequence[str], path: str,
                 labels: Optional[Sequence[str]] = None) -> dict:
    """One subplot per key, one line per work dir (mmdet's ``analyze_logs.py plot_curve``),
    saved as PNG to ``path`` atomically.

    Returns:
        ``{work_dir: {key: [(step, value), ...]}}``, the plotted points.

    Raises:
        ConfigError: a work dir that is not a folder or has no ``scalars.json``; a key logged in
            none of them (the message names the key and the keys that are there).
    """
    from .figures import pyplot, save_figure
    data, every_key, training = {}, set(), {}
    for wd in work_dirs:
        if not os.path.isdir(wd):
            raise ConfigError(f'{wd}: not a folder (expected a work dir of `zoo train`)')
        entries = read_scalars(wd)
        if not entries:
            raise ConfigError(f'{wd}: no logged scalars (no <timestamp>/vis_data/scalars.json in '
                              f'it); is it a work dir of `zoo train`?')
        every_key |= set(available_keys(entries))
        data[wd] = {k: scalar_curve(entries, k) for k in keys}
        training[wd] = {k: _is_training_key(entries, k) for k in keys}
    for k in keys:
        if not any(data[wd][k] for wd in work_dirs):
            raise ConfigError(f'--keys: {k!r} was not logged in {", ".join(work_dirs)}; the '
                              f'logged keys are: {", ".join(sorted(every_key))}')
    plt = pyplot()
    fig, axes = plt.subplots(len(keys), 1, figsize=(7.0, 3.0 * len(keys)), dpi=110, squeeze=False)
    labels = list(labels) if labels else [os.path.basename(os.path.normpath(w)) or w
                                          for w in work_dirs]
    for ax, k in zip(axes[:, 0], keys):
        validation = False
        for wd, label in zip(work_dirs, labels):
            points = data[wd][k]
            if points:
                validation |= not training[wd][k]
                ax.plot([p[0] for p in points], [p[1] for p in points], lw=1.2,
                        marker='o' if len(points) < 30 else None, ms=3, label=label)
        ax.set_title(k)
        ax.set_xlabel('epoch (validation)' if validation else 'iteration')
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, path)
    return data


def _is_training_key(entries: Sequence[dict], key: str) -> bool:
    """Whether ``key`` is logged by training entries (they carry ``iter``; step = iteration)."""
    return any(key in e and 'iter' in e for e in entries)


__all__ = ['available_keys', 'log_dirs', 'plot_scalars', 'read_scalars', 'scalar_curve']
