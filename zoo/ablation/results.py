"""Reading finished runs and writing the comparison: results.csv, results.json, results.md.

A run folder is what ``zoo ablate`` writes (``config.py``, ``metrics.json``, ``profile.json``,
``status.json``) or a plain ``zoo train`` work dir (its dumped config, checkpoints and logs):
then the metrics are those of its last validation, the profile is measured now, and the
training time is read from the logs.

Per variant, numbers are the mean over its finished seeds, with the sample standard
deviation when there are several. AP values are COCO's (pycocotools), in [0, 1]; -1 (no object
of that size in the test set) is shown as n/a.
"""
from __future__ import annotations

import csv
import glob
import math
import os
import statistics
from typing import Optional

from registry import ConfigError
from zoo.analysis.scalars import log_dirs, read_scalars
from zoo.runner.atomic import atomic_write

from .run import MANIFEST, STATUS, read_json, write_json

__all__ = ['find_runs', 'read_run', 'aggregate', 'write_results', 'METRICS']

#: table column -> metric name printed by CocoMetric
METRICS = {'AP': 'coco/bbox_mAP', 'AP50': 'coco/bbox_mAP_50', 'AP75': 'coco/bbox_mAP_75',
           'APs': 'coco/bbox_mAP_s', 'APm': 'coco/bbox_mAP_m', 'APl': 'coco/bbox_mAP_l'}
_CLASS_PREFIX = 'coco/bbox_AP_'
_IGNORED_KEYS = ('work_dir', 'randomness.seed', 'val_dataloader', 'val_cfg', 'val_evaluator',
                 'train_cfg.val_interval', 'default_hooks.checkpoint', 'load_from', 'resume',
                 'launcher')


def _is_run_dir(path: str) -> bool:
    return (os.path.isfile(os.path.join(path, 'config.py'))
            or os.path.isfile(os.path.join(path, 'last_checkpoint'))
            or os.path.isfile(os.path.join(path, STATUS)))


def find_runs(paths: list[str]) -> tuple[list[dict], Optional[dict]]:
    """The runs under ``paths`` (ablation work dirs or run folders), and the manifest of the
    first ablation work dir among them (None if none is one).

    Each run: ``dict(dir, variant, seed)``; an ablation's runs are named after their variant,
    a plain run folder after the folder.

    Raises:
        ConfigError: a path does not exist or holds no run.
    """
    runs, manifest = [], None
    for path in paths:
        if not os.path.isdir(path):
            raise ConfigError(f'{path!r} is not a folder (expected a zoo ablate work dir or a '
                              'run\'s work dir)')
        found = read_json(os.path.join(path, MANIFEST))
        if found is not None:
            manifest = manifest or found
            for v in found['variants']:
                for seed in found['seeds']:
                    d = os.path.join(path, v['dir'], f'seed_{seed}')
                    if os.path.isdir(d):
                        runs.append(dict(dir=d, variant=v['name'], seed=seed,
                                         changes=v.get('changes')))
        elif _is_run_dir(path):
            runs.append(dict(dir=path, variant=os.path.basename(os.path.normpath(path)), seed=None))
        else:
            subs = sorted(d for d in glob.glob(os.path.join(path, '*')) if _is_run_dir(d))
            if not subs:
                raise ConfigError(f'{path!r} holds no run (no {MANIFEST}, config.py, '
                                  'last_checkpoint or status.json in it or its subfolders)')
            runs += [dict(dir=d, variant=os.path.basename(d), seed=None) for d in subs]
    return runs, manifest


def loss_curve(run_dir: str) -> list[tuple[int, float]]:
    """(iteration, total training loss) as logged; a resumed run's later log wins."""
    points = {}
    for e in read_scalars(run_dir):
        if 'loss' in e and 'step' in e and 'lr' in e:  # training entries (validation has no lr)
            points[int(e['step'])] = float(e['loss'])
    return sorted(points.items())


def _config_file(run_dir: str) -> Optional[str]:
    path = os.path.join(run_dir, 'config.py')
    if os.path.isfile(path):
        return path
    dumped = sorted(glob.glob(os.path.join(run_dir, '*.py')))  # mmengine dumps <name>.py
    return dumped[0] if dumped else None


def _train_time(run_dir: str, status: Optional[dict]) -> Optional[float]:
    if status and status.get('train_time_s') is not None:
        return float(status['train_time_s'])
    logs = log_dirs(run_dir)
    ckpts = glob.glob(os.path.join(run_dir, '*.pth'))
    if not logs or not ckpts:
        return None
    return max(os.path.getmtime(c) for c in ckpts) - os.path.getctime(logs[0])


def read_run(run: dict, device: Optional[str] = None, reprofile: bool = False,
             with_profile: bool = True) -> dict:
    """Everything known of one run: state, error, metrics, profile, training time, loss
    curve and config; a finished run without ``profile.json`` (or any, with ``reprofile``)
    is profiled now, and the result saved in the run's folder. With ``with_profile=False``
    nothing is profiled, read or written (``profile`` is None; the caller profiles)."""
    from zoo.checkpoint import resolve_checkpoint
    from zoo.config import load_config

    from .profile import profile_model, same_precision
    d = run['dir']
    status = read_json(os.path.join(d, STATUS))
    out = dict(run, state=(status or {}).get('state'), error=(status or {}).get('error'),
               metrics=None, profile=None, train_time_s=_train_time(d, status),
               loss_curve=loss_curve(d), config=None)
    cfg_path = _config_file(d)
    cfg = load_config(cfg_path) if cfg_path else None
    if cfg is not None:
        out['config'] = cfg.to_dict()
        if out['seed'] is None:
            out['seed'] = (out['config'].get('randomness') or {}).get('seed')
    metrics = read_json(os.path.join(d, 'metrics.json'))
    if metrics is not None:
        out['metrics'] = metrics['metrics']
    else:  # a plain work dir: its last validation
        vals = [e for e in read_scalars(d) if METRICS['AP'] in e]
        if vals:
            out['metrics'] = {k: (None if isinstance(v, float) and math.isnan(v) else v)
                              for k, v in vals[-1].items() if k.startswith('coco/')}
    if out['state'] is None:
        out['state'] = 'finished' if out['metrics'] is not None else 'unfinished'
    if out['state'] == 'finished' and with_profile:
        prof = None if reprofile else read_json(os.path.join(d, 'profile.json'))
        if prof is not None and cfg is not None and not same_precision(prof, cfg):
            prof = None  # measured in another precision than the run's config runs in
        if prof is None and cfg is not None:
            prof = profile_model(cfg, resolve_checkpoint(d), device)
            write_json(os.path.join(d, 'profile.json'), prof)
        out['profile'] = prof
    return out


def _stats(values: list) -> tuple[Optional[float], Optional[float]]:
    values = [v for v in values if v is not None]
    if not values:
        return None, None
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else None)


def _differing_keys(runs: list[dict]) -> dict:
    """Without a manifest: per variant, the config keys whose values are not the same in all
    runs."""
    from .variant_config import flatten
    flat = {r['variant']: flatten(r['config']) for r in runs if r['config']}
    keys = set().union(*flat.values()) if flat else set()
    differing = sorted(k for k in keys if not any(k == i or k.startswith(i + '.')
                                                  for i in _IGNORED_KEYS)
                       and len({repr(f.get(k)) for f in flat.values()}) > 1)
    return {v: [f'{k}={f.get(k)!r}' for k in differing] for v, f in flat.items()}


def aggregate(runs: list[dict]) -> list[dict]:
    """One row per variant, in first-seen order: mean and std over its finished runs."""
    order, by_variant = [], {}
    for r in runs:
        if r['variant'] not in by_variant:
            order.append(r['variant'])
            by_variant[r['variant']] = []
        by_variant[r['variant']].append(r)
    differing = None
    if any(r.get('changes') is None for r in runs):
        differing = _differing_keys(runs)
    classes = []
    for r in runs:
        for k in (r['metrics'] or {}):
            name = k[len(_CLASS_PREFIX):]
            if k.startswith(_CLASS_PREFIX) and name not in classes:
                classes.append(name)
    rows = []
    for variant in order:
        group = by_variant[variant]
        done = [r for r in group if r['state'] == 'finished' and r['metrics'] is not None]
        row = dict(variant=variant, seeds=[r['seed'] for r in done], runs=len(group),
                   failed=[dict(seed=r['seed'], error=r['error'] or r['state']) for r in group
                           if r not in done],
                   changes=group[0].get('changes') if group[0].get('changes') is not None
                   else (differing or {}).get(variant, []))
        for col, key in METRICS.items():
            vals = [r['metrics'].get(key) for r in done]
            vals = [v for v in vals if v is not None and v >= 0]  # -1: no such objects
            row[col], row[f'{col}_std'] = _stats(vals)
        row['class_AP'] = {}
        for name in classes:
            row['class_AP'][name] = _stats([r['metrics'].get(_CLASS_PREFIX + name) for r in done])
        profs = [r['profile'] for r in done if r['profile']]
        row['params'] = profs[0]['params'] if profs else None
        row['gflops'] = profs[0]['gflops'] if profs else None
        row['input_size'] = profs[0]['input_size'] if profs else None
        row['device'] = profs[0]['device'] if profs else None
        row['threads'] = profs[0].get('threads') if profs else None
        row['latency_ms'], row['latency_ms_std'] = _stats([p['latency_ms'] for p in profs])
        row['train_time_s'], row['train_time_s_std'] = _stats([r['train_time_s'] for r in done])
        rows.append(row)
    return rows


def _num(value: Optional[float], std: Optional[float] = None, digits: int = 3) -> str:
    if value is None:
        return 'n/a'
    text = f'{value:.{digits}f}'
    return text + (f' ± {std:.{digits}f}' if std is not None else '')


def _change(change: str, width: int = 40) -> str:
    """``key=value`` for the table; a long value (a pipeline, a schedule) as ``key``
    (changed): results.csv holds its first 60 characters, ``zoo ablate --dry-run`` all."""
    key, _, value = change.partition('=')
    return f'`{change}`' if len(value) <= width else f'`{key}` (changed)'


def _markdown(rows: list[dict], manifest: Optional[dict], classes: list[str]) -> str:
    lines = []
    if manifest:
        lines += [f'# Ablation `{manifest["name"]}`', '',
                  f'- ablation file: `{os.path.relpath(manifest["ablation"])}`',
                  f'- base config: `{os.path.relpath(manifest["base"])}`',
                  f'- seeds: {manifest["seeds"]}']
        if manifest.get('common_changes'):
            lines.append('- every variant, against the base: '
                         + ', '.join(_change(c) for c in manifest['common_changes']))
    else:
        lines += ['# Comparison', '']
    dev = next((r for r in rows if r['device']), None)
    if dev:
        where = dev['device'] + (f', {dev["threads"]} threads' if dev['threads'] else '')
        lines.append(f'- GFLOPs at input {dev["input_size"][0]}x{dev["input_size"][1]} (padded, '
                     f'one test image; torch.utils.flop_counter); latency: median ms per image, '
                     f'batch 1, after warm-up, on {where}')
    lines.append('- AP: COCO AP@[.5:.95] on the test split (pycocotools); mean ± std over seeds')
    lines.append('')
    head = (['variant', 'AP', 'AP50', 'AP75', 'APs', 'APm', 'APl'] + [f'AP {c}' for c in classes]
            + ['params (M)', 'GFLOPs', 'latency (ms)', 'train (min)', 'seeds', 'differs from base'])
    lines += ['| ' + ' | '.join(head) + ' |', '|' + '---|' * len(head)]
    for r in rows:
        changes = r['changes'] or []
        shown = ', '.join(_change(c) for c in changes[:6]) + \
            (f' and {len(changes) - 6} more' if len(changes) > 6 else '')
        cells = [r['variant']] + [_num(r[c], r[f'{c}_std']) for c in METRICS]
        cells += [_num(*r['class_AP'].get(c, (None, None))) for c in classes]
        minutes = [None if v is None else v / 60 for v in (r['train_time_s'], r['train_time_s_std'])]
        cells += [_num(r['params'] / 1e6 if r['params'] is not None else None, digits=2),
                  _num(r['gflops'], digits=1), _num(r['latency_ms'], r['latency_ms_std'], 1),
                  _num(*minutes, digits=1),
                  f'{len(r["seeds"])}/{r["runs"]}', shown or '—']
        lines.append('| ' + ' | '.join(cells) + ' |')
    failed = [(r['variant'], f) for r in rows for f in r['failed']]
    if failed:
        lines += ['', '## Failed runs', '']
        lines += [f'- {v} seed {f["seed"]}: {f["error"]}' for v, f in failed]
    return '\n'.join(lines) + '\n'


def write_results(out_dir: str, runs: list[dict], manifest: Optional[dict] = None) -> list[dict]:
    """Write results.csv, results.json, results.md and the two plots into ``out_dir``;
    return the rows."""
    from .plots import plot_ap_vs_latency, plot_loss_curves
    rows = aggregate(runs)
    classes = list(dict.fromkeys(c for r in rows for c in r['class_AP']))
    os.makedirs(out_dir, exist_ok=True)
    with atomic_write(os.path.join(out_dir, 'results.md')) as f:
        f.write(_markdown(rows, manifest, classes))
    fields = (['variant', 'seeds', 'runs', 'failed'] + [x for c in METRICS for x in (c, f'{c}_std')]
              + [x for c in classes for x in (f'AP_{c}', f'AP_{c}_std')]
              + ['params', 'gflops', 'input_size', 'latency_ms', 'latency_ms_std', 'device',
                 'threads', 'train_time_s', 'train_time_s_std', 'changes'])
    with atomic_write(os.path.join(out_dir, 'results.csv'), newline='') as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        for r in rows:
            flat = {k: v for k, v in r.items() if k in fields}
            for c in classes:
                flat[f'AP_{c}'], flat[f'AP_{c}_std'] = r['class_AP'].get(c, (None, None))
            flat['seeds'] = ' '.join(str(s) for s in r['seeds'])
            flat['failed'] = '; '.join(f'seed {x["seed"]}: {x["error"]}' for x in r['failed'])
            flat['input_size'] = 'x'.join(map(str, r['input_size'])) if r['input_size'] else ''
            flat['changes'] = '; '.join(r['changes'] or [])
            writer.writerow(flat)
    write_json(os.path.join(out_dir, 'results.json'), dict(
        manifest=manifest, variants=rows,
        runs=[{k: v for k, v in r.items() if k != 'config'} for r in runs]))
    plot_ap_vs_latency(rows, os.path.join(out_dir, 'ap_vs_latency.png'))
    plot_loss_curves(runs, os.path.join(out_dir, 'loss_curves.png'))
    return rows
