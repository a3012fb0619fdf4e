"""The pictures of ``zoo analyze`` (matplotlib, Agg backend: files only), each written
atomically as PNG."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from ..runner.atomic import atomic_write


def pyplot():
    """matplotlib's pyplot on the Agg backend (no display needed)."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    return plt


def save_figure(fig, path: str) -> None:
    """Save ``fig`` as PNG to ``path`` atomically, and close it."""
    plt = pyplot()
    try:
        with atomic_write(path, 'wb') as f:
            fig.savefig(f, format='png')
    finally:
        plt.close(fig)


def plot_pr_curves(curves: dict, path: str) -> None:
    """One panel per IoU threshold: the 101-point interpolated precision of each class against
    recall, AP in the legend (``curves`` from :func:`zoo.analysis.pr_curve.pr_curves`)."""
    plt = pyplot()
    thresholds = list(curves['iou_thresholds'])
    fig, axes = plt.subplots(1, len(thresholds), figsize=(5.2 * len(thresholds), 4.6), dpi=110,
                             squeeze=False)
    recall = curves['recall_points']
    for ax, thr in zip(axes[0], thresholds):
        entry = curves['iou_thresholds'][thr]
        for name, c in entry['classes'].items():
            if c['AP'] is None:
                continue
            ax.plot(recall, c['precision_101'], lw=1.5, label=f'{name} (AP {100 * c["AP"]:.1f})')
        m = entry['mAP']
        ax.set_title(f'IoU {thr}: mAP {"n/a" if m is None else f"{100 * m:.1f}"}')
        ax.set_xlabel('recall')
        ax.set_ylabel('precision (interpolated)')
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.02)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc='lower left')
    fig.suptitle('Precision-recall per class (COCO 101-point interpolation)')
    fig.tight_layout()
    save_figure(fig, path)


def plot_confusion_matrix(matrix: np.ndarray, classes: Sequence[str], iou_thr: float,
                          score_thr: float, path: str) -> None:
    """The matrix as a heat map of row percentages (each ground-truth row sums to 100), the
    counts written in the cells."""
    plt = pyplot()
    matrix = np.asarray(matrix)
    rows = matrix.sum(axis=1, keepdims=True)
    percent = np.where(rows > 0, 100.0 * matrix / np.maximum(rows, 1), 0.0)
    n = len(classes) + 1
    fig, ax = plt.subplots(figsize=(1.0 * n + 2.5, 0.9 * n + 2), dpi=110)
    im = ax.imshow(percent, cmap='Blues', vmin=0, vmax=100)
    fig.colorbar(im, ax=ax, label='% of the row')
    ax.set_xticks(range(n), [*classes, 'missed'], rotation=45, ha='right')
    ax.set_yticks(range(n), [*classes, 'background'])
    ax.set_xlabel('predicted class')
    ax.set_ylabel('ground-truth class')
    for i in range(n):
        for j in range(n):
            ax.text(j, i, f'{matrix[i, j]}\n{percent[i, j]:.0f}%', ha='center', va='center',
                    fontsize=8, color='white' if percent[i, j] > 60 else 'black')
    ax.set_title(f'Confusion matrix (IoU >= {iou_thr:g}, score >= {score_thr:g})')
    fig.tight_layout()
    save_figure(fig, path)


def plot_tide(result, path: str) -> None:
    """Bars of dAP (AP points) per TIDE error type (``result``: a
    :class:`zoo.analysis.tide.TideResult`), the counts on the bars."""
    from .tide import ERROR_TYPES, LONG_NAMES
    plt = pyplot()
    values = [100 * (result.dap[k] or 0.0) for k in ERROR_TYPES]
    fig, ax = plt.subplots(figsize=(7.2, 4.2), dpi=110)
    bars = ax.bar([LONG_NAMES[k].replace(' + ', ' +\n') for k in ERROR_TYPES], values,
                  color=['#e6194b', '#4363d8', '#911eb4', '#f58231', '#808080', '#3cb44b'])
    for bar, k in zip(bars, ERROR_TYPES):
        ax.annotate(f'{result.counts[k]}', (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                    ha='center', va='bottom', fontsize=8)
    ap = 'n/a' if result.ap is None else f'{100 * result.ap:.1f}'
    ax.set_ylabel('dAP (AP points gained by fixing)')
    ax.set_title(f'TIDE error breakdown: AP{int(round(100 * result.t_f))} = {ap} '
                 f'(t_f={result.t_f:g}, t_b={result.t_b:g}); numbers: counts')
    ax.tick_params(axis='x', labelsize=8)
    ax.grid(axis='y', alpha=0.3)
    fig.tight_layout()
    save_figure(fig, path)


__all__ = ['plot_confusion_matrix', 'plot_pr_curves', 'plot_tide', 'pyplot', 'save_figure']
