"""Running an ablation: every variant x seed trained and tested, one run folder each.

Layout of the ablation's work dir::

    ablation.json                  the manifest: ablation file, base, common, seeds, variants
                                   with their overrides and config differences
    <variant>/seed_<s>/config.py   the run's full config (train with `zoo train` as it is)
    <variant>/seed_<s>/train.log   what `zoo train` printed (mmengine's own log is beside it)
    <variant>/seed_<s>/metrics.json, profile.json, status.json
    results.csv, results.json, results.md, ap_vs_latency.png, loss_curves.png

Each run is ``zoo train`` then ``zoo test --metrics`` in a child process (a failure, even a
crash, stays in its run), then the profile (:mod:`zoo.ablation.profile`) in this process.
``status.json`` says ``finished`` or ``failed`` (with the error); ``--resume`` skips finished
runs, continues an interrupted training from its last checkpoint and retries failed runs.
"""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from typing import Callable, Optional

from registry import ConfigError

from .spec import AblationSpec
from .variant_config import config_diff, run_config, variant_config

__all__ = ['prepare_runs', 'run_ablation', 'emit_commands', 'read_json', 'write_json',
           'STATUS', 'MANIFEST']

STATUS, MANIFEST = 'status.json', 'ablation.json'


def read_json(path: str) -> Optional[dict]:
    """The JSON object in ``path``, or None when there is no such file.

    Raises:
        ValueError: the file exists but is not JSON (named in the message).
    """
    if not os.path.isfile(path):
        return None
    with open(path) as f:
        try:
            return json.load(f)
        except json.JSONDecodeError as err:
            raise ValueError(f'{path} is not valid JSON: {err}') from err


def write_json(path: str, obj) -> None:
    """Write ``obj`` to ``path`` atomically (a reader never sees half a file)."""
    tmp = path + '.tmp'
    with open(tmp, 'w') as f:
        json.dump(obj, f, indent=1, default=str)
    os.replace(tmp, path)


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _short(value, width: int = 60) -> str:
    text = repr(value) if not isinstance(value, str) else value
    return text if len(text) <= width else text[:width - 3] + '...'


def prepare_runs(spec: AblationSpec, work_dir: str, resume: bool = False) -> list[dict]:
    """Build every variant's config (so that a bad one fails before anything trains), write
    the manifest and each run's ``config.py``; return the runs, seed by seed.

    Each run: ``dict(variant, dir, seed, config)`` (``config`` the path of its config file).

    Raises:
        ConfigError: a variant's config cannot be built (the variant and key named); without
            ``resume``, a run folder already holds a run; with it, a started run's config is
            not the one the ablation file now gives (the file changed: the old run would be
            mixed with new ones). Nothing is written in either case.
    """
    from zoo.config import load_config
    base_cfg = load_config(spec.base).to_dict()
    configs = [(v, variant_config(spec, v)) for v in spec.variants]
    diffs = {v.name: config_diff(base_cfg, cfg.to_dict()) for v, cfg in configs}
    # a difference every variant shares (the common overrides) is stated once, not per row
    shared = set.intersection(*[{(k, repr(b)) for k, _, b in d} for d in diffs.values()]) \
        if len(diffs) > 1 else set()
    texts = {}
    for variant, cfg in configs:
        for seed in spec.seeds:
            run_dir = os.path.join(work_dir, variant.dirname, f'seed_{seed}')
            texts[run_dir] = run_config(cfg, seed, os.path.abspath(run_dir)).pretty_text
    started = [d for d in texts if os.path.isfile(os.path.join(d, STATUS))]
    if started and not resume:
        raise ConfigError(f'{started[0]} already holds a run ({len(started)} run folder(s) do): '
                          'pass --resume to skip finished runs and go on, or choose another '
                          '--work-dir')
    for d in started:  # (mmengine rewrites config.py in its own words: compare fingerprints)
        if read_json(os.path.join(d, STATUS)).get('config_sha256') != _sha256(texts[d]):
            raise ConfigError(f'{d}: its config is not the one {spec.path} gives now (the '
                              'ablation or its base changed since that run started); choose '
                              'another --work-dir, or delete that run folder')
    os.makedirs(work_dir, exist_ok=True)
    manifest = dict(ablation=spec.path, name=spec.name, base=spec.base, seeds=spec.seeds,
                    common={k: repr(v) for k, v in spec.common.items()},
                    common_changes=[f'{k}={_short(b)}' for k, a, b in diffs[spec.variants[0].name]
                                    if (k, repr(b)) in shared],
                    variants=[])
    runs = []
    for variant, _ in configs:
        changes = [f'{k}={_short(b)}' for k, _, b in diffs[variant.name]
                   if (k, repr(b)) not in shared]
        manifest['variants'].append(dict(
            name=variant.name, dir=variant.dirname, base=variant.base, changes=changes,
            overrides=[dict(key=k, value=repr(v), replace=r) for k, v, r in variant.overrides]))
        for seed in spec.seeds:
            run_dir = os.path.join(work_dir, variant.dirname, f'seed_{seed}')
            os.makedirs(run_dir, exist_ok=True)
            path = os.path.join(run_dir, 'config.py')
            if run_dir not in started:  # a started run keeps its file
                with open(path, 'w') as f:
                    f.write(texts[run_dir])
            runs.append(dict(variant=variant.name, dir=run_dir, seed=seed, config=path,
                             config_sha256=_sha256(texts[run_dir])))
    write_json(os.path.join(work_dir, MANIFEST), manifest)
    # seed-major order: every variant's first seed before any second seed, so that a stopped
    # ablation already compares all variants
    order = {s: i for i, s in enumerate(spec.seeds)}
    return sorted(runs, key=lambda r: order[r['seed']])  # stable: variant order kept per seed


def emit_commands(runs: list[dict]) -> list[str]:
    """One ``zoo train`` and one ``zoo test`` command per run (for a cluster scheduler);
    ``zoo compare WORK_DIR`` then makes the table."""
    lines = []
    for run in runs:
        d = run['dir']
        lines.append(f'zoo train {run["config"]} --work-dir {d}')
        lines.append(f'zoo test {run["config"]} {d} --work-dir {os.path.join(d, "test")} '
                     f'--metrics {os.path.join(d, "metrics.json")}')
    return lines


def _last_error(log_path: str) -> str:
    """The ``zoo ...: failed/error: ...`` line of a child's output, else its last lines."""
    with open(log_path, errors='replace') as f:
        lines = [line.rstrip() for line in f if line.strip()]
    for line in reversed(lines):
        if line.startswith('zoo ') and (': failed:' in line or ': error:' in line):
            return line
    return ' | '.join(lines[-5:]) or 'no output'


def _child(args: list[str], log_path: str) -> int:
    with open(log_path, 'a') as log:
        log.write(f'$ zoo {" ".join(args)}\n')
        log.flush()
        return subprocess.call([sys.executable, '-m', 'zoo.cli.main', *args], stdout=log,
                               stderr=subprocess.STDOUT)


def _fmt(seconds: float) -> str:
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    return f'{h}h{rest // 60:02d}m' if h else f'{rest // 60}m{rest % 60:02d}s'


def run_one(run: dict, device: Optional[str] = None) -> dict:
    """Train, test and profile one run; return (and write) its status.

    Never raises for a failure of the run itself: the status is ``failed`` with the step
    (``train``, ``test`` or ``profile``) and the error.
    """
    from zoo.checkpoint import resolve_checkpoint
    from zoo.config import load_config

    from .profile import profile_model
    d, cfg_path = run['dir'], run['config']
    before = read_json(os.path.join(d, STATUS)) or {}
    status = dict(variant=run['variant'], seed=run['seed'], state='running', step='train',
                  started=time.time(), config_sha256=run['config_sha256'])
    write_json(os.path.join(d, STATUS), status)
    train_args = ['train', cfg_path, '--work-dir', d]
    earlier = 0.0
    if os.path.isfile(os.path.join(d, 'last_checkpoint')):
        train_args.append('--resume')  # an interrupted run continues; nothing is lost
        # the training time of earlier attempts, when they lived to record it
        earlier = float(before.get('train_time_s') or 0.0)
        status['resumed'] = True
    start = time.time()
    code = _child(train_args, os.path.join(d, 'train.log'))
    status['train_time_s'] = earlier + time.time() - start
    if code == 0:
        status['step'] = 'test'
        start = time.time()
        code = _child(['test', cfg_path, d, '--work-dir', os.path.join(d, 'test'),
                       '--metrics', os.path.join(d, 'metrics.json')], os.path.join(d, 'test.log'))
        status['test_time_s'] = time.time() - start
        log = 'test.log'
    else:
        log = 'train.log'
    if code != 0:
        error = _last_error(os.path.join(d, log))
        status.update(state='failed', error=f'exit status {code}: {error}')
    else:
        status['step'] = 'profile'
        try:
            prof = profile_model(load_config(cfg_path), resolve_checkpoint(d), device)
        except Exception as err:  # recorded in the run's status and shown in the table
            status.update(state='failed', error=f'profile: {type(err).__name__}: {err}')
        else:
            write_json(os.path.join(d, 'profile.json'), prof)
            status.update(state='finished', step=None)
    status['finished'] = time.time()
    write_json(os.path.join(d, STATUS), status)
    return status


def run_ablation(runs: list[dict], device: Optional[str] = None,
                 log: Callable[[str], None] = print) -> list[dict]:
    """Run every run of :func:`prepare_runs` not finished yet, printing progress with an
    ETA; return the statuses in run order."""
    todo, statuses = [], {}
    for run in runs:
        status = read_json(os.path.join(run['dir'], STATUS))
        if status and status.get('state') == 'finished':
            statuses[run['dir']] = status
            log(f'[ablate] skip {run["variant"]} seed {run["seed"]}: finished earlier')
        else:
            todo.append(run)
    began, done = time.time(), 0
    for i, run in enumerate(todo):
        elapsed = time.time() - began
        eta = (f'ETA {_fmt(elapsed / done * (len(todo) - done))}' if done
               else 'ETA after the first run')
        log(f'[ablate] run {i + 1}/{len(todo)} ({len(todo) - i - 1} left after it): '
            f'{run["variant"]} seed {run["seed"]}; elapsed {_fmt(elapsed)}, {eta}; '
            f'log {os.path.join(run["dir"], "train.log")}')
        status = run_one(run, device)
        done += 1
        statuses[run['dir']] = status
        took = status['finished'] - status['started']
        if status['state'] == 'finished':
            log(f'[ablate] {run["variant"]} seed {run["seed"]}: finished in {_fmt(took)}')
        else:
            log(f'[ablate] {run["variant"]} seed {run["seed"]}: FAILED at {status["step"]} '
                f'after {_fmt(took)}: {status["error"]}')
    return [statuses[r['dir']] for r in runs]
