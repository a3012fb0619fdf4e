"""The two plots of an ablation: AP against latency, and the training-loss curves overlaid."""
from __future__ import annotations

import statistics

__all__ = ['plot_ap_vs_latency', 'plot_loss_curves']


def _pyplot():
    import matplotlib
    matplotlib.use('Agg')  # files only, no display needed
    import matplotlib.pyplot as plt
    return plt


def plot_ap_vs_latency(rows: list[dict], path: str) -> None:
    """One point per variant (mean over seeds; error bars: std over seeds), labelled."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.4), dpi=110)
    for r in rows:
        if r['AP'] is None or r['latency_ms'] is None:
            continue
        ax.errorbar(r['latency_ms'], r['AP'], xerr=r['latency_ms_std'] or 0,
                    yerr=r['AP_std'] or 0, fmt='o', capsize=3, label=r['variant'])
        ax.annotate(r['variant'], (r['latency_ms'], r['AP']), textcoords='offset points',
                    xytext=(5, 5), fontsize=8)
    device = next((r['device'] for r in rows if r['device']), '?')
    ax.set_xlabel(f'latency, ms per image (batch 1, median, {device})')
    ax.set_ylabel('COCO AP@[.5:.95]')
    ax.set_title('AP against latency')
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def plot_loss_curves(runs: list[dict], path: str) -> None:
    """Per variant, the total training loss against the iteration (mean over the seeds that
    logged that iteration)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.4), dpi=110)
    by_variant: dict = {}
    for r in runs:
        for step, loss in r['loss_curve']:
            by_variant.setdefault(r['variant'], {}).setdefault(step, []).append(loss)
    for variant, points in by_variant.items():
        steps = sorted(points)
        ax.plot(steps, [statistics.fmean(points[s]) for s in steps], label=variant, lw=1.2)
    ax.set_xlabel('iteration')
    ax.set_ylabel('training loss (total)')
    ax.set_title('Training loss')
    ax.grid(alpha=0.3)
    if by_variant:
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
