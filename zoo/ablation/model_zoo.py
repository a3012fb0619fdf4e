"""The model-zoo table (docs/model_zoo.md) from finished ``zoo train`` work dirs.

Per run: the recipe, parameters, GFLOPs and inference latency (:mod:`zoo.ablation.profile`,
measured once and kept in the work dir's ``profile.json``), the training time (the run
record's start and end, else the logs, :func:`zoo.ablation.results.read_run`), COCO AP,
AP50 and AP75 (those ``zoo test`` recorded on the work dir, else the run's last validation),
and the ``zoo train`` and ``zoo test`` command lines the run record holds.
"""
from __future__ import annotations

import os
import platform
from typing import Optional

import torch

from registry import ConfigError

__all__ = ['model_zoo_row', 'model_zoo_markdown', 'PLACEHOLDER']

#: the row left in docs/model_zoo.md until real runs fill the table
PLACEHOLDER = '<!-- integrator: fill -->'

_METRICS = {'AP': 'coco/bbox_mAP', 'AP50': 'coco/bbox_mAP_50', 'AP75': 'coco/bbox_mAP_75'}


def _recipe(config: Optional[str]) -> str:
    """A shipped recipe as ``zoo::<path>``; another config as recorded."""
    if not config:
        return 'n/a'
    from zoo.config import PREFIX, shipped_configs_dir
    try:
        root = shipped_configs_dir()
    except ConfigError:
        return config
    real = os.path.realpath(config)
    if real.startswith(root + os.sep):
        return PREFIX + os.path.relpath(real, root)
    return config


def model_zoo_row(work_dir: str, device: Optional[str] = None, reprofile: bool = False) -> dict:
    """One table row of a finished ``zoo train`` work dir.

    Returns:
        ``dict(work_dir, recipe, params, gflops, input_size, latency_ms, device, threads,
        train_time_s, resumed, AP, AP50, AP75 (in [0, 1], None when absent), metrics_from
        ('zoo test' or 'last validation'), train_command, test_command (None when not
        recorded))``.

    Raises:
        ConfigError: ``work_dir`` is no folder, or holds no finished run (no metrics: the
            message names the folder and its state).
    """
    from zoo.runner.workdir import read_record

    from .results import read_run
    if not os.path.isdir(work_dir):
        raise ConfigError(f'{work_dir!r} is not a folder (expected a zoo train work dir)')
    record = read_record(work_dir) or {}
    run = read_run(dict(dir=work_dir, variant=os.path.basename(os.path.normpath(work_dir)),
                        seed=None), device=device, reprofile=reprofile)
    test = record.get('test') or {}
    metrics, source = test.get('metrics'), 'zoo test'
    if not metrics:
        metrics, source = run['metrics'], 'last validation'
    state = record.get('state') or run['state']
    if state != 'finished' or not metrics:
        raise ConfigError(f'{work_dir!r} holds no finished run (state: {state}; '
                          f'{"metrics recorded" if metrics else "no validation or zoo test metrics"})'
                          ': train it to the end (and test it) first')
    if run['profile'] is None:  # finished by its record, not by a validation in its logs
        from .run import read_json, write_json
        path = os.path.join(work_dir, 'profile.json')
        run['profile'] = None if reprofile else read_json(path)
        if run['profile'] is None:
            from zoo.checkpoint import resolve_checkpoint
            from zoo.config import load_config
            from zoo.runner.workdir import saved_config

            from .profile import profile_model
            run['profile'] = profile_model(load_config(saved_config(work_dir)),
                                           resolve_checkpoint(work_dir), device)
            write_json(path, run['profile'])
    train_time = run['train_time_s']
    if record.get('started') is not None and record.get('finished') is not None:
        train_time = float(record['finished']) - float(record['started'])
    prof = run['profile'] or {}
    row = dict(work_dir=work_dir, recipe=_recipe(record.get('config')),
               params=prof.get('params'), gflops=prof.get('gflops'),
               input_size=prof.get('input_size'), latency_ms=prof.get('latency_ms'),
               device=prof.get('device'), threads=prof.get('threads'), train_time_s=train_time,
               resumed=bool(record.get('resumed_by')),
               metrics_from=source, train_command=record.get('command'),
               test_command=test.get('command'))
    for col, key in _METRICS.items():
        value = metrics.get(key)
        row[col] = None if value is None or value < 0 else float(value)
    return row


def _num(value, digits: int) -> str:
    return 'n/a' if value is None else f'{value:.{digits}f}'


def _code(command: Optional[str]) -> str:
    return 'not recorded' if not command else '`' + command.replace('|', '\\|') + '`'


HEADER = """# Model zoo

The shipped recipes trained and tested on BCCD on this project's machine. Every row is made by
`zoo model-zoo` from the run's work dir; the last column is the command line that trained the
row's model and the one that tested it, as `zoo train` and `zoo test` recorded them in the work
dir's `zoo_run.json`.

- **AP, AP50, AP75**: COCO AP@[.5:.95], AP@.5 and AP@.75 (pycocotools), in [0, 1], on BCCD's
  val split (the recipes' test split), from `zoo test` on the work dir (else from the run's last
  validation, marked "(val)").
- **params**: every parameter of the model, millions. **GFLOPs**: one test image after the test
  pipeline (the padded input size is given), `torch.utils.flop_counter` (2 FLOPs per
  multiply-add; RoI pooling and NMS count 0).
- **latency**: median milliseconds per image at batch 1, preprocessing included, after warm-up
  (`profile.json` of the work dir; `--reprofile` measures again).
- **train**: wall time of `zoo train`, from its start to its end (minutes); for a run resumed
  with `--resume`, of its last part only, marked "(last part)".

Regenerate the table (it replaces the file) after training and testing each recipe:

```bash
zoo train configs/faster_rcnn/faster_rcnn_zf_bccd.py --work-dir work_dirs/zf
zoo test configs/faster_rcnn/faster_rcnn_zf_bccd.py work_dirs/zf
zoo model-zoo work_dirs/zf work_dirs/... --out docs/model_zoo.md
```
"""


def model_zoo_markdown(rows: list[dict]) -> str:
    """docs/model_zoo.md: :data:`HEADER`, where the numbers were measured, and the table (one
    row per run; :data:`PLACEHOLDER` when there is none)."""
    lines = [HEADER]
    where = next((r for r in rows if r.get('device')), None)
    if where:
        threads = f', {where["threads"]} threads' if where.get('threads') else ''
        lines.append(f'Measured on {where["device"]}{threads} ({platform.machine()}, '
                     f'{os.cpu_count()} CPU cores), torch {torch.__version__}.\n')
    head = ['recipe', 'AP', 'AP50', 'AP75', 'params (M)', 'GFLOPs (input)', 'latency (ms)',
            'train (min)', 'commands']
    lines += ['| ' + ' | '.join(head) + ' |', '|' + '---|' * len(head)]
    if not rows:
        lines.append(PLACEHOLDER)
    for r in rows:
        val = ' (val)' if r['metrics_from'] != 'zoo test' else ''
        size = f' ({r["input_size"][0]}x{r["input_size"][1]})' if r.get('input_size') else ''
        cells = [f'`{r["recipe"]}`'] + [_num(r[c], 3) + val for c in _METRICS]
        cells += [_num(None if r['params'] is None else r['params'] / 1e6, 2),
                  _num(r['gflops'], 1) + size, _num(r['latency_ms'], 1),
                  _num(None if r['train_time_s'] is None else r['train_time_s'] / 60, 1)
                  + (' (last part)' if r.get('resumed') else ''),
                  _code(r['train_command']) + '<br>' + _code(r['test_command'])]
        lines.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines) + '\n'
