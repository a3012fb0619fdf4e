"""One run per work dir: a work dir that holds checkpoints is not trained into again unless the
run is resumed (``--resume``) or explicitly replaced (``--overwrite``).

Without this, training again into a finished work dir replaced its checkpoints one by one, and
after a failed second run the dir mixed the two runs (``zoo test WORK_DIR`` then evaluated
whatever was left). ``zoo train`` also keeps a small run record, ``zoo_run.json``, beside the
checkpoints and the config mmengine dumps there: the config file, the model's fingerprint
(:mod:`zoo.runner.identity`), and whether the run is ``running``, ``finished``, ``failed`` or
``stopped_at_budget`` (its ``--time-budget`` was spent before the schedule's end; ``budget_stop``
then says where: :mod:`zoo.runner.time_budget`).
"""
from __future__ import annotations

import glob
import json
import os
import re
import shutil
import time
from typing import Optional

from registry import ConfigError

from . import atomic

RECORD = 'zoo_run.json'
#: the record's ``state`` of a run stopped by its time budget (:mod:`zoo.runner.time_budget`)
STOPPED_AT_BUDGET = 'stopped_at_budget'
_TIMESTAMP = re.compile(r'^\d{8}_\d{6}$')  # mmengine's log folders, e.g. 20260101_120000


def read_record(work_dir: str) -> Optional[dict]:
    """The run record of ``work_dir``, or None (absent or unreadable)."""
    try:
        with open(os.path.join(work_dir, RECORD)) as f:
            record = json.load(f)
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def write_record(work_dir: str, **fields) -> None:
    """Update the run record of ``work_dir`` (written atomically)."""
    record = read_record(work_dir) or {}
    record.update(fields)
    atomic.write_text(os.path.join(work_dir, RECORD), json.dumps(record, indent=1))


def training_log_config(work_dir: str) -> Optional[str]:
    """The config of the work dir's last ``zoo train`` run as mmengine saved it in that run's
    log folder (``<timestamp>/vis_data/config.py``), or None.

    A training log folder is one with logged scalars (``vis_data/scalars.json``); the log
    folders ``zoo test`` and ``zoo infer`` leave in a work dir have none. Unlike the config
    mmengine dumps at the top of the work dir, which every later ``zoo test`` on the work dir
    rewrites with the test's config (the training keys dropped, its own ``--amp`` and
    ``--cfg-options``), this copy is the training's.
    """
    folders = sorted(d for d in glob.glob(os.path.join(glob.escape(work_dir), '2*'))
                     if _TIMESTAMP.match(os.path.basename(d)) and os.path.isdir(d))
    for folder in reversed(folders):
        found = os.path.join(folder, 'vis_data', 'config.py')
        if os.path.isfile(os.path.join(folder, 'vis_data', 'scalars.json')) and os.path.isfile(found):
            return found
    return None


def saved_config(work_dir: str) -> str:
    """The config file a run saved in ``work_dir``: ``config.py`` (``zoo train --data`` and
    ``zoo ablate`` write it), else the config of its training log folder
    (:func:`training_log_config`), else the config mmengine's runner dumped there (named after
    the config the run record names, else the only ``*.py``; a later ``zoo test`` rewrites it).
    That file holds the whole merged config, ``--cfg-options`` included.

    Raises:
        ConfigError: ``work_dir`` is no folder, or holds no saved config.
    """
    if not os.path.isdir(work_dir):
        raise ConfigError(f'work dir {work_dir!r} does not exist (or is not a folder)')
    merged = os.path.join(work_dir, 'config.py')
    if os.path.isfile(merged):
        return merged
    logged = training_log_config(work_dir)
    if logged is not None:
        return logged
    record = read_record(work_dir) or {}
    if record.get('config'):
        dumped = os.path.join(work_dir, os.path.basename(record['config']))
        if os.path.isfile(dumped):
            return dumped
    found = sorted(glob.glob(os.path.join(glob.escape(work_dir), '*.py')))
    if len(found) == 1:
        return found[0]
    raise ConfigError(f'work dir {work_dir!r} holds no saved config (config.py, a training log '
                      'folder\'s vis_data/config.py or the config mmengine dumps there)'
                      + (f'; it holds several .py files: {[os.path.basename(f) for f in found]}'
                         if found else ''))


def run_artifacts(work_dir: str) -> list[str]:
    """What a previous run left in ``work_dir``: checkpoints, ``last_checkpoint``, mmengine's
    timestamped log folders, the run record (sorted paths)."""
    if not os.path.isdir(work_dir):
        return []
    found = glob.glob(os.path.join(glob.escape(work_dir), '*.pth'))
    found += [os.path.join(work_dir, n) for n in ('last_checkpoint', RECORD)
              if os.path.isfile(os.path.join(work_dir, n))]
    found += [os.path.join(work_dir, n) for n in os.listdir(work_dir)
              if _TIMESTAMP.match(n) and os.path.isdir(os.path.join(work_dir, n))]
    return sorted(found)


def check_work_dir(work_dir: str, config: str, resume: bool, overwrite: bool) -> list[str]:
    """Refuse a work dir that holds another run, unless resuming or overwriting.

    Returns:
        The previous run's files to remove once the new run is built (with ``overwrite``), else
        an empty list.

    Raises:
        ConfigError: ``work_dir`` holds checkpoints (of a finished, failed, unfinished or other
            run: said which, with its config) and neither ``resume`` nor ``overwrite`` is set;
            or both are set.
    """
    if resume and overwrite:
        raise ConfigError('--resume and --overwrite contradict each other: resume continues the '
                          'run in the work dir, overwrite deletes it')
    artifacts = run_artifacts(work_dir)
    checkpoints = [p for p in artifacts if p.endswith('.pth') or p.endswith('last_checkpoint')]
    if resume or not checkpoints:
        return []
    if overwrite:
        return artifacts
    record = read_record(work_dir) or {}
    state = record.get('state')
    what = {'finished': 'a finished run', 'failed': 'a failed run',
            'stopped_at_budget': 'a run stopped at its time budget',
            'running': 'an unfinished run (stopped or still running)'}.get(state, 'a run')
    if record.get('config') and os.path.abspath(record['config']) != os.path.abspath(config):
        what += f' of another config ({record["config"]})'
    elif record.get('config'):
        what += f' of {record["config"]}'
    names = ', '.join(os.path.basename(p) for p in checkpoints[:4])
    raise ConfigError(
        f'work dir {work_dir!r} already holds {what} ({names}{", ..." if len(checkpoints) > 4 else ""}). '
        'Its checkpoints would be replaced and mixed with the new run\'s: continue it with '
        '--resume, train into another --work-dir, or pass --overwrite to delete its '
        'checkpoints and logs first')


def remove_artifacts(paths: list[str], keep: str = '') -> None:
    """Delete a previous run's files (``check_work_dir(..., overwrite=True)``), except ``keep``
    (the new run's log folder)."""
    for path in paths:
        if keep and os.path.abspath(path) == os.path.abspath(keep):
            continue
        if os.path.isdir(path):
            shutil.rmtree(path)
        elif os.path.exists(path):
            os.remove(path)
    if paths:
        print(f'--overwrite: removed {len(paths)} file(s) and folder(s) of the previous run')


def command_line(argv: Optional[list]) -> Optional[str]:
    """The ``zoo`` command line of ``argv`` (its arguments), quoted for a POSIX shell."""
    import shlex
    return None if argv is None else shlex.join(['zoo', *map(str, argv)])


def train(runner, config: str, stale: list[str], command: Optional[str] = None) -> None:
    """``runner.train()`` with the run record kept, the previous run's files (``stale``) removed
    first, and a divergence error completed with the checkpoint to go on from. ``command`` (the
    ``zoo train`` command line) and the current folder are recorded, for ``zoo model-zoo``; a
    resumed run keeps its first command and lists the resuming ones in ``resumed_by``, and
    forgets the ``zoo test`` of its earlier checkpoints. A run whose time budget stopped it is
    recorded as ``stopped_at_budget``, not ``finished``.

    Raises:
        NonFiniteError: with a note naming the newest checkpoint verified finite (or none).
        Whatever training raises, after recording the run as failed.
    """
    from zoo.identity import model_identity
    from .nonfinite import NonFiniteError, recovery_note
    work_dir = runner.work_dir
    remove_artifacts(stale, keep=runner.log_dir)
    fields = dict(config=os.path.abspath(config), state='running', started=time.time(),
                  fingerprint=model_identity(runner.cfg)['fingerprint'],
                  detector=runner.cfg.model.type, command=command, cwd=os.getcwd(), test=None,
                  time_budget_min=runner.cfg.get('time_budget_min'), budget_stop=None,
                  schedule_fit=None)
    previous = read_record(work_dir) or {}
    if runner.cfg.get('resume'):  # the run goes on: its first command stays, the resumes are added
        if previous.get('command'):
            fields.update(command=previous['command'], cwd=previous.get('cwd'))
        fields['resumed_by'] = list(previous.get('resumed_by') or []) + [command]
        write_record(work_dir, **fields)
    else:  # a new run: nothing of an earlier record (a stale test) is kept
        atomic.write_text(os.path.join(work_dir, RECORD), json.dumps(fields, indent=1))
    try:
        runner.train()
    except BaseException as err:
        write_record(work_dir, state='failed', error=f'{type(err).__name__}: {err}'[:500])
        if isinstance(err, NonFiniteError):
            err.add_note(recovery_note(work_dir))
        raise
    stopped = (read_record(work_dir) or {}).get('budget_stop')  # set by TimeBudgetHook
    write_record(work_dir, state=STOPPED_AT_BUDGET if stopped else 'finished', finished=time.time())
