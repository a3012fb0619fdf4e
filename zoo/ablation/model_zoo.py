"""The model-zoo table (docs/model_zoo.md) from finished ``zoo train`` work dirs.

Per run: the recipe (:func:`recipe_name`), parameters, GFLOPs and inference latency
(:mod:`zoo.ablation.profile`, measured once per checkpoint and kept in the work dir's
``profile.json``, or in a separate folder for work dirs that must not be written), the training
time (the run record's start and end, else the logs, :func:`zoo.ablation.results.read_run`),
whether it trained under mixed precision (``amp`` in the training's config,
:func:`zoo.runner.workdir.saved_config`), COCO AP, AP50 and AP75 (those ``zoo test`` recorded on
the work dir, else the run's last validation), and the ``zoo train`` and ``zoo test`` command
lines the run record holds. A command line the record
does not hold (a run made before the zoo recorded them) is shown as not recorded, never
reconstructed. A run whose recipe has changed since in what it trains or how it is scored is
marked (:mod:`zoo.ablation.recipe_changes`), and a recorded command that would now train in
another precision than the run did gets the flag that repeats it.
"""
from __future__ import annotations

import hashlib
import os
import platform
import shlex
from typing import Optional

import torch

from registry import ConfigError

from .recipe_changes import recipe_changes

__all__ = ['model_zoo_row', 'model_zoo_markdown', 'recipe_name', 'PLACEHOLDER', 'NOT_RECORDED']

#: the row left in docs/model_zoo.md until real runs fill the table
PLACEHOLDER = '<!-- integrator: fill -->'
#: what the commands column says of a command line the run record does not hold
NOT_RECORDED = 'not recorded'
#: a work dir's own profile file (``zoo ablate`` and ``zoo compare`` write it too)
PROFILE = 'profile.json'

_METRICS = {'AP': 'coco/bbox_mAP', 'AP50': 'coco/bbox_mAP_50', 'AP75': 'coco/bbox_mAP_75'}


def recipe_name(config: Optional[str], fingerprint: Optional[str] = None) -> str:
    """The recipe a run was trained from, as the table names it.

    - a shipped recipe of this checkout: ``zoo::<path under configs/>``;
    - ``.../configs/<path>`` of another checkout of the zoo: ``zoo::<path>`` only when that
      shipped recipe builds the same model, i.e. its fingerprint
      (:func:`zoo.identity.model_identity`) equals ``fingerprint``, the one the run record
      kept when the run started; otherwise the path as recorded;
    - any other config: the path as recorded; ``'n/a'`` when the record names none.

    Raises:
        ConfigError: the shipped recipe of the same path cannot be read.
    """
    if not config:
        return 'n/a'
    from zoo.config import PREFIX, load_config, shipped_configs_dir
    try:
        root = shipped_configs_dir()
    except ConfigError:
        return config
    real = os.path.realpath(config)
    if real.startswith(root + os.sep):
        return PREFIX + os.path.relpath(real, root)
    marker = os.sep + 'configs' + os.sep
    if fingerprint and marker in config:
        rel = config.rsplit(marker, 1)[1]
        shipped = os.path.join(root, rel)
        if os.path.isfile(shipped):
            from zoo.identity import model_identity
            if model_identity(load_config(shipped))['fingerprint'] == fingerprint:
                return PREFIX + rel
    return config


def _profile_path(work_dir: str, profile_dir: Optional[str]) -> str:
    """Where the profile of ``work_dir`` is saved: its ``profile.json``, or with
    ``profile_dir`` a file there named after the work dir (its name and a hash of its path)."""
    if profile_dir is None:
        return os.path.join(work_dir, PROFILE)
    real = os.path.realpath(work_dir)
    digest = hashlib.sha256(real.encode()).hexdigest()[:12]
    return os.path.join(profile_dir, f'{os.path.basename(real)}-{digest}.json')


def _profile(work_dir: str, cfg, device: Optional[str], reprofile: bool,
             profile_dir: Optional[str]) -> dict:
    """The profile of the work dir's checkpoint (its best, else its last) with the run's config
    ``cfg``: a saved one when it
    was measured on that checkpoint file (path and modification time; a profile saved without
    them, as ``zoo ablate`` saves it, is taken as it is) in the precision the run's config runs
    in (:func:`~zoo.ablation.profile.same_precision`), else measured now and saved (to
    :func:`_profile_path`; nothing is written into the work dir when ``profile_dir`` is given)."""
    from zoo.checkpoint import resolve_checkpoint

    from .profile import profile_model, same_precision
    from .run import read_json, write_json
    checkpoint = resolve_checkpoint(work_dir)
    stamp = dict(checkpoint=os.path.realpath(checkpoint),
                 checkpoint_mtime=os.path.getmtime(checkpoint))
    path = _profile_path(work_dir, profile_dir)
    if not reprofile:
        for saved in (read_json(p) for p in dict.fromkeys([os.path.join(work_dir, PROFILE), path])):
            if saved is not None and same_precision(saved, cfg) and (
                    'checkpoint' not in saved or all(saved.get(k) == v for k, v in stamp.items())):
                return saved
    profile = dict(profile_model(cfg, checkpoint, device), **stamp)
    if hasattr(os, 'getloadavg'):  # other processes on the same cores lengthen the latency
        profile['load_avg_1min'] = os.getloadavg()[0]
    if profile_dir is not None:
        os.makedirs(profile_dir, exist_ok=True)
    write_json(path, profile)
    return profile


def model_zoo_row(work_dir: str, device: Optional[str] = None, reprofile: bool = False,
                  profile_dir: Optional[str] = None) -> dict:
    """One table row of a finished ``zoo train`` work dir.

    Args:
        work_dir: the run's work dir.
        device: where latencies still to be measured are measured (default: the GPU if any).
        reprofile: measure again even when a profile of the checkpoint is saved.
        profile_dir: keep measured profiles in this folder instead of the work dir's
            ``profile.json``: then nothing is written into ``work_dir``.

    Returns:
        ``dict(work_dir, config (as recorded), recipe, params, gflops, input_size, latency_ms,
        precision (of the latency: 'float32', 'bfloat16' or 'float16'), device, threads,
        load_avg_1min (the machine's when the latency was measured, or None),
        train_time_s, resumed, amp, recipe_amp (the shipped recipe's ``amp`` now, None for
        another config), recipe_changes (the settings the shipped recipe changed since the run,
        :func:`zoo.ablation.recipe_changes.recipe_changes`), AP, AP50, AP75 (in [0, 1], None when
        absent), metrics_from ('zoo test' or 'last validation'), train_command, test_command
        (None when not recorded))``.

    Raises:
        ConfigError: ``work_dir`` is no folder, or holds no finished run (its record says it
            is running or failed, or there are no metrics: the message names the folder and
            its state).
    """
    from zoo.config import load_config
    from zoo.runner.workdir import read_record, saved_config

    from .results import read_run
    if not os.path.isdir(work_dir):
        raise ConfigError(f'{work_dir!r} is not a folder (expected a zoo train work dir)')
    record = read_record(work_dir) or {}
    if record.get('state') not in (None, 'finished'):  # refused before anything is measured
        raise ConfigError(f'{work_dir!r} holds no finished run (state: {record["state"]}): '
                          'train it to the end (and test it) first')
    run = read_run(dict(dir=work_dir, variant=os.path.basename(os.path.normpath(work_dir)),
                        seed=None), device=device, reprofile=reprofile, with_profile=False)
    test = record.get('test') or {}
    metrics, source = test.get('metrics'), 'zoo test'
    if not metrics:
        metrics, source = run['metrics'], 'last validation'
    state = record.get('state') or run['state']  # a record's state is 'finished' here
    if not metrics or (not record and state != 'finished'):
        raise ConfigError(f'{work_dir!r} holds no finished run (state: {state}; '
                          f'{"metrics recorded" if metrics else "no validation or zoo test metrics"})'
                          ': train it to the end (and test it) first')
    cfg = load_config(saved_config(work_dir))  # the training's config (amp), the model
    prof = _profile(work_dir, cfg, device, reprofile, profile_dir)
    train_time = run['train_time_s']
    if record.get('started') is not None and record.get('finished') is not None:
        train_time = float(record['finished']) - float(record['started'])
    recipe = recipe_name(record.get('config'), record.get('fingerprint'))
    shipped = _shipped_recipe(recipe)
    row = dict(work_dir=work_dir, config=record.get('config'), recipe=recipe,
               recipe_amp=None if shipped is None else bool(shipped.get('amp')),
               recipe_changes=[] if shipped is None else recipe_changes(cfg, shipped),
               params=prof.get('params'), gflops=prof.get('gflops'),
               input_size=prof.get('input_size'), latency_ms=prof.get('latency_ms'),
               precision=prof.get('precision', 'float32'),
               device=prof.get('device'), threads=prof.get('threads'),
               load_avg_1min=prof.get('load_avg_1min'), train_time_s=train_time,
               resumed=bool(record.get('resumed_by')), amp=bool(cfg.get('amp')),
               metrics_from=source, train_command=record.get('command'),
               test_command=test.get('command'))
    for col, key in _METRICS.items():
        value = metrics.get(key)
        row[col] = None if value is None or value < 0 else float(value)
    return row


def _shipped_recipe(recipe: str):
    """The shipped recipe named ``zoo::<path>`` as it is now (mmengine ``Config``), None for any
    other config.

    Raises:
        ConfigError: the shipped recipe cannot be read.
    """
    from zoo.config import PREFIX, load_config, shipped_configs_dir
    if not recipe.startswith(PREFIX):
        return None
    return load_config(os.path.join(shipped_configs_dir(), recipe[len(PREFIX):]))


def _command_amp(command: str, recipe_amp: bool) -> Optional[bool]:
    """Whether the ``zoo train`` command line ``command`` trains under ``amp`` today, with its
    recipe's ``amp`` now ``recipe_amp``: ``--amp`` makes it True, ``--cfg-options ... amp=V``
    sets it, else the recipe decides. None when ``amp=V`` is no plain True or False."""
    tokens = shlex.split(command)
    if '--amp' in tokens:
        return True
    value, options = None, False
    for token in tokens:
        if token.startswith('--'):
            options = token == '--cfg-options'
        elif options and token.startswith('amp='):
            value = token[len('amp='):]
    if value is None:
        return recipe_amp
    return {'true': True, 'false': False}.get(value.lower())


def _repeat_note(row: dict) -> str:
    """What the commands cell adds when the recorded ``zoo train`` command would now train in
    another precision than the run did (its recipe's ``amp`` changed since)."""
    if not row.get('train_command') or row.get('recipe_amp') is None:
        return ''
    now = _command_amp(row['train_command'], row['recipe_amp'])
    if now is None or now == bool(row.get('amp')):
        return ''
    if now:
        return ('<br>(trained in float32; the recipe sets `amp = True` now: repeat with '
                '`--cfg-options amp=False`)')
    return '<br>(trained with amp; this command trains in float32 now: repeat with `--amp`)'


def _changed_since(changes: list) -> str:
    """The recipe cell's mark for a recipe changed since the run: up to three settings (a list
    item's changes counted as that list's)."""
    if not changes:
        return ''
    groups = list(dict.fromkeys(c.split('[', 1)[0] for c in changes))
    more = f' and {len(groups) - 3} more' if len(groups) > 3 else ''
    return ' (the recipe changed since the run: ' + ', '.join(f'`{g}`' for g in groups[:3]) + more + ')'


def _num(value, digits: int) -> str:
    return 'n/a' if value is None else f'{value:.{digits}f}'


def _code(command: Optional[str]) -> str:
    return NOT_RECORDED if not command else '`' + command.replace('|', '\\|') + '`'


HEADER = """# Model zoo

The shipped recipes trained and tested on BCCD on this project's machine, one row per run. This
file is generated by `zoo model-zoo` from the runs' work dirs: do not edit the table by hand.

## Regenerate this table

After training and testing each recipe, run `zoo model-zoo` on all the work dirs at once; it
replaces this file (written atomically) and refuses a work dir whose run is not finished:

```bash
zoo train configs/faster_rcnn/faster_rcnn_zf_bccd.py --work-dir work_dirs/zf
zoo test configs/faster_rcnn/faster_rcnn_zf_bccd.py work_dirs/zf
zoo model-zoo work_dirs/zf work_dirs/... --out docs/model_zoo.md
```

Parameters, GFLOPs and latency are measured once per checkpoint and kept in each work dir's
`profile.json`; with `--profile-dir DIR` they are kept in DIR instead and nothing is written into
the work dirs (for work dirs that must stay as they are). `--reprofile` measures again.
"""

COLUMNS = """## Columns

- **recipe**: `zoo::<path>` is the shipped recipe `configs/<path>`. A run trained from another
  checkout's copy of a recipe is named so only when the shipped recipe builds the same model (the
  model fingerprint in the run's `zoo_run.json`); otherwise its config path is given as recorded.
  "(the recipe changed since the run: ...)": the recipe's model, data pipelines, schedule,
  optimizer or evaluation now differ from the run's training config (saved in its work dir) in
  the settings named; precision, the memory layout and the data's location are not counted.
- **AP, AP50, AP75**: COCO AP@[.5:.95], AP@.5 and AP@.75 (pycocotools), in [0, 1], on BCCD's
  val split (the recipes' test split), from `zoo test` on the work dir, else from the run's last
  validation (the final checkpoint on the same split), marked "(val)".
- **params**: every parameter of the model, millions. **GFLOPs**: one test image after the test
  pipeline (the padded input size is given), `torch.utils.flop_counter` (2 FLOPs per
  multiply-add; RoI pooling and NMS count 0).
- **latency**: median milliseconds per image at batch 1, preprocessing included, after warm-up,
  on the device named above the table, in the precision the run's config runs in, as `zoo test`
  and `zoo infer` run it: float32, or for a run trained with `amp` (marked "(bf16)" or "(fp16)")
  under autocast, with the weights cast to that precision once.
- **train**: wall time of `zoo train`, from its start to its end (minutes); for a run resumed
  with `--resume`, of its last part only, marked "(last part)"; "(amp)": trained under mixed
  precision (`amp = True` in the training's config, as saved in the work dir's training log
  folder: bfloat16 autocast on a CPU, float16 on a GPU).
- **commands**: the `zoo train` and `zoo test` command lines recorded in the work dir's
  `zoo_run.json`. "not recorded": the run was made by a version of the zoo that did not record
  them yet, or was not tested with `zoo test` (its AP is then its last validation's); such
  command lines are not reconstructed. When the shipped recipe's `amp` has changed since the run
  (it trained in float32 and the recipe now sets `amp = True`, or the reverse), a note says which
  flag repeats it in the precision it ran in.
"""


#: how the table marks a latency measured in a low precision
_PRECISION_MARK = {'bfloat16': ' (bf16)', 'float16': ' (fp16)'}


def model_zoo_markdown(rows: list[dict], command: Optional[str] = None) -> str:
    """docs/model_zoo.md: :data:`HEADER`, the command that wrote the file (when given), what
    the columns mean, where the numbers were measured, and the table (one row per run;
    :data:`PLACEHOLDER` when there is none)."""
    lines = [HEADER]
    if command:
        lines.append(f'This file was written by:\n\n```bash\n{command}\n```\n')
    lines.append(COLUMNS)
    where = next((r for r in rows if r.get('device')), None)
    if where:
        threads = f', {where["threads"]} threads' if where.get('threads') else ''
        loads = [r['load_avg_1min'] for r in rows if r.get('load_avg_1min') is not None]
        load = ''
        if loads:
            span = f'{min(loads):.1f}' + (f' to {max(loads):.1f}' if max(loads) > min(loads) else '')
            load = (f' The 1-minute load average of the machine just after measuring: {span} '
                    '(other processes on the same cores make latencies longer).')
        lines.append(f'Measured on {where["device"]}{threads} ({platform.machine()}, '
                     f'{os.cpu_count()} CPU cores), torch {torch.__version__}.{load}\n')
    head = ['recipe', 'AP', 'AP50', 'AP75', 'params (M)', 'GFLOPs (input)', 'latency (ms)',
            'train (min)', 'commands']
    lines += ['| ' + ' | '.join(head) + ' |', '|' + '---|' * len(head)]
    if not rows:
        lines.append(PLACEHOLDER)
    for r in rows:
        val = ' (val)' if r['metrics_from'] != 'zoo test' else ''
        size = f' ({r["input_size"][0]}x{r["input_size"][1]})' if r.get('input_size') else ''
        cells = [f'`{r["recipe"]}`' + _changed_since(r.get('recipe_changes'))]
        cells += [_num(r[c], 3) + val for c in _METRICS]
        cells += [_num(None if r['params'] is None else r['params'] / 1e6, 2),
                  _num(r['gflops'], 1) + size,
                  _num(r['latency_ms'], 1) + _PRECISION_MARK.get(r.get('precision'), ''),
                  _num(None if r['train_time_s'] is None else r['train_time_s'] / 60, 1)
                  + (' (last part)' if r.get('resumed') else '') + (' (amp)' if r.get('amp') else ''),
                  _code(r['train_command']) + '<br>' + _code(r['test_command']) + _repeat_note(r)]
        lines.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines) + '\n'
