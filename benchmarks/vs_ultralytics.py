"""The zoo's one-stage recipes against Ultralytics' YOLOv8n, trained from scratch on BCCD for the
same wall-clock budgets on the same CPU, scored by the zoo's own COCO evaluation.

For each budget (default 5, 15 and 60 minutes), one after the other, each run alone (or, with
``--concurrent``, the two systems' chains side by side, each pinned to a core of its own):

1. Ultralytics: ``YOLO('yolov8n.yaml').train(data=<BCCD in YOLO layout>, time=<budget in hours>,
   pretrained=False, device='cpu', imgsz=..., batch=..., workers=..., val=False)``; its
   ``last.pt`` then predicts every BCCD val image (``conf=0.001``, ``max_det=100``; boxes in
   original-image pixels);
2. the zoo: ``zoo train configs/yolo/<recipe>.py --time-budget <budget> --fit-schedule`` for
   each recipe, on the CPU (``CUDA_VISIBLE_DEVICES=``): the number of epochs and the cosine
   schedule are fitted to the budget after every epoch, as Ultralytics' ``time=`` does
   (:mod:`zoo.runner.time_budget`; ``--no-fit-schedule`` cuts the configured schedule
   instead); then ``zoo test`` of its last checkpoint with the score threshold lowered to the
   same 0.001 and at most 100 detections per image.

Every model is scored with :class:`zoo.evaluation.CocoMetric` (pycocotools) against the same
ground truth (the zoo's ``VOCDataset`` of BCCD val): the zoo's through ``zoo test --metrics``,
Ultralytics' through :func:`zoo.benchmark.coco_score.score_detections`. The last weights are
scored on both sides, never a "best" checkpoint chosen on the same val split.

BCCD is converted to the Ultralytics layout (``images/<split>/``, ``labels/<split>/*.txt`` with
normalized ``class cx cy w h``, ``data.yaml`` naming RBC, WBC, Platelets) by the zoo itself
(:func:`zoo.data.convert.convert_dataset`); ``data.yaml``'s ``path`` is made absolute, because
Ultralytics resolves a relative one under its own datasets folder.

Threads: Ultralytics trains on the CPU with ``os.cpu_count() - 1`` torch threads (one on a 2-core
machine) and loads data in its main process. ``--concurrent`` therefore runs the Ultralytics
chain and the zoo chain at the same time, each process pinned to one core
(``os.sched_setaffinity``) with one thread (``OMP_NUM_THREADS=1``): both get the same single
core, and a budget is then CPU-minutes of one core. It needs at least two cores.

Ultralytics is not a dependency of the zoo and this script installs nothing. It runs
Ultralytics in a subprocess, with ``--ultralytics-python`` (a separate virtual environment) or
else with this Python; when it cannot be imported there, the script says how to install it
and exits with status 2. Written for Ultralytics 8.4.x.

Usage (docs/yolo.md, "Against Ultralytics YOLOv8n")::

    python benchmarks/vs_ultralytics.py --ultralytics-python ~/venvs/ultralytics/bin/python
    python benchmarks/vs_ultralytics.py --budgets 5 --recipes yolov3_bccd --dry-run
    python benchmarks/vs_ultralytics.py --systems zoo --budgets 1 --recipes yolov3_bccd
    python benchmarks/vs_ultralytics.py --merge DIR1 DIR2 --out-dir DIR   # one table of several
    python benchmarks/vs_ultralytics.py --systems zoo --recipes work_dirs/cand/yolov3.py \
        --labels yolov3_bccd                 # a copy of a recipe, in the table under its name

Outputs in ``--out-dir`` (default ``work_dirs/vs_ultralytics``): ``results.json`` (rewritten
atomically after every run), ``results.md`` (the table), ``curves.png`` (AP and AP50 against
the budget, one curve per system), the converted data set and every run's work dir.

Exit status: 0 done (or planned, with ``--dry-run``), 1 a training or evaluation failed (the
results of the others are kept), 2 bad arguments or Ultralytics missing.
"""
from __future__ import annotations

import argparse
import json
import threading
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA_ROOT = os.path.join(ROOT, 'data', 'BCCD')
CLASSES = ('RBC', 'WBC', 'Platelets')
ULTRALYTICS_SERIES = '8.4'
INSTALL = (
    'Ultralytics is not a dependency of the zoo and this script installs nothing. Install it in '
    'a virtual environment of its own and point the script at that Python:\n'
    '    python -m venv ~/venvs/ultralytics\n'
    f'    ~/venvs/ultralytics/bin/pip install "ultralytics=={ULTRALYTICS_SERIES}.*"\n'
    '    python benchmarks/vs_ultralytics.py --ultralytics-python ~/venvs/ultralytics/bin/python\n'
    f'(this script was written for Ultralytics {ULTRALYTICS_SERIES}.x; `pip install ultralytics` '
    'gives the newest release).')
ZOO_MAIN = 'import sys; from zoo.cli.main import main; sys.exit(main(sys.argv[1:]))'


# --- the Ultralytics side (runs in the Ultralytics Python: no zoo import here) -----------------
def ultralytics_worker(spec_path: str) -> int:
    """Train YOLOv8n from scratch for ``spec['minutes']`` and predict the val images; write
    ``spec['out']`` (JSON). Runs under the Ultralytics Python: imports only Ultralytics."""
    with open(spec_path) as f:
        spec = json.load(f)
    try:
        import ultralytics
        from ultralytics import YOLO
    except ImportError as err:
        print(f'cannot import ultralytics ({err}).\n{INSTALL}', file=sys.stderr)
        return 2
    model = YOLO('yolov8n.yaml')  # the architecture only: random weights
    start = time.monotonic()
    model.train(data=spec['data'], time=spec['minutes'] / 60.0, pretrained=False, device='cpu',
                imgsz=spec['imgsz'], batch=spec['batch'], workers=spec['workers'],
                seed=spec['seed'], project=spec['project'], name=spec['name'], exist_ok=True,
                val=False, plots=False, amp=False)
    train_s = time.monotonic() - start
    trainer = model.trainer
    last = str(trainer.last)
    net = YOLO(last)
    detections = {}
    for path in spec['images']:
        boxes = net.predict(path, conf=spec['conf'], max_det=spec['max_det'], imgsz=spec['imgsz'],
                            device='cpu', verbose=False)[0].boxes
        detections[os.path.splitext(os.path.basename(path))[0]] = dict(
            bboxes=boxes.xyxy.tolist(), scores=boxes.conf.tolist(),
            labels=[int(c) for c in boxes.cls.tolist()])
    out = dict(version=ultralytics.__version__, train_s=train_s, checkpoint=last,
               epochs_done=int(trainer.epoch) + 1, epochs_planned=int(trainer.epochs),
               detections=detections)
    _write_json(spec['out'], out)
    return 0


def _write_json(path: str, obj) -> None:
    """Write ``obj`` as JSON to ``path`` atomically (temporary file + rename)."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix='.' + os.path.basename(path), suffix='.tmp', dir=folder)
    try:
        with os.fdopen(fd, 'w') as f:
            json.dump(obj, f, indent=1)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def ultralytics_version(python: str):
    """The Ultralytics version importable by ``python``, or None."""
    proc = subprocess.run([python, '-c', 'import ultralytics; print(ultralytics.__version__)'],
                          capture_output=True, text=True)
    return proc.stdout.strip() if proc.returncode == 0 else None


# --- arguments ---------------------------------------------------------------------------------
def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description='Train Ultralytics YOLOv8n (from scratch) and the zoo\'s one-stage recipes '
                    'on BCCD for the same CPU wall-clock budgets, one after the other, and score '
                    'all with the zoo\'s COCO evaluation on BCCD val.')
    p.add_argument('--budgets', type=float, nargs='+', default=[5.0, 15.0, 60.0],
                   metavar='MINUTES', help='training wall-clock budgets in minutes (default 5 15 60)')
    p.add_argument('--recipes', nargs='+', default=['yolov3_bccd'],
                   help='zoo recipes: names in configs/yolo/ or config paths (default yolov3_bccd)')
    p.add_argument('--labels', nargs='+', metavar='NAME', default=None,
                   help='the name of each recipe in the tables and its work dirs, one per '
                        '--recipes entry (default: the config\'s file name); e.g. a copy of a '
                        'recipe run under the shipped recipe\'s name')
    p.add_argument('--no-fit-schedule', dest='fit_schedule', action='store_false',
                   help='train the zoo recipes\' configured schedules cut at the budget, instead of '
                        'fitting the schedule to the budget (zoo train --fit-schedule)')
    p.add_argument('--concurrent', action='store_true',
                   help='run the Ultralytics chain and the zoo chain at the same time, each pinned '
                        'to a core of its own with one thread (needs 2 cores; budgets are then '
                        'CPU-minutes of one core)')
    p.add_argument('--systems', nargs='+', choices=['ultralytics', 'zoo'],
                   default=['ultralytics', 'zoo'], help='which side(s) to run (default both)')
    p.add_argument('--out-dir', default=os.path.join('work_dirs', 'vs_ultralytics'))
    p.add_argument('--data', default=DATA_ROOT, help='BCCD (Pascal VOC layout, ImageSets/Main '
                                                      'train/val/test)')
    p.add_argument('--ultralytics-python', default=None, metavar='PYTHON',
                   help='the Python of a virtual environment with ultralytics (default: this one)')
    p.add_argument('--imgsz', type=int, default=416,
                   help='Ultralytics image size (default 416, the zoo YOLO recipes\' long side)')
    p.add_argument('--batch', type=int, default=16, help='Ultralytics batch size (its default 16)')
    p.add_argument('--workers', type=int, default=1,
                   help='Ultralytics data-loader workers (default 1, as the zoo recipes)')
    p.add_argument('--conf', type=float, default=0.001,
                   help='score threshold of the detections scored, both systems (default 0.001)')
    p.add_argument('--max-det', type=int, default=100,
                   help='detections per image, both systems (default 100, COCO\'s maximum)')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--dry-run', action='store_true',
                   help='convert the data and print the plan; train nothing')
    p.add_argument('--merge', nargs='+', metavar='DIR', default=None,
                   help='train nothing: merge the runs of earlier --out-dir folders (their '
                        'results.json; runs that failed are left out) into one results.json, '
                        'results.md and curves.png in --out-dir')
    p.add_argument('--ultralytics-worker', metavar='SPEC', help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    bad = [b for b in args.budgets if not b > 0]
    if bad:
        p.error(f'--budgets: minutes must be > 0, got {bad}')
    if not 0 <= args.conf < 1 or args.max_det < 1:
        p.error('--conf must be in [0, 1) and --max-det >= 1')
    if args.concurrent and len(usable_cores()) < 2:
        p.error(f'--concurrent pins each system to a core of its own; only {len(usable_cores())} '
                'usable core(s) here')
    if args.concurrent and len(args.systems) < 2:
        p.error('--concurrent runs the two systems side by side; give both --systems')
    return args


def usable_cores() -> list:
    """The CPU cores this process may run on."""
    if hasattr(os, 'sched_getaffinity'):
        return sorted(os.sched_getaffinity(0))
    return list(range(os.cpu_count() or 1))


def recipe_path(name: str) -> str:
    """A recipe name (``yolov3_bccd``) or config path -> the config file; SystemExit(2) if none."""
    path = name if name.endswith('.py') else os.path.join(ROOT, 'configs', 'yolo', f'{name}.py')
    if not os.path.isfile(path):
        print(f'--recipes {name}: no config {path}', file=sys.stderr)
        raise SystemExit(2)
    return os.path.abspath(path)


def recipe_label(path: str, name: str = None) -> str:
    """``'zoo <name>'``: the recipe's row in the tables (``name`` default its file name)."""
    return 'zoo ' + (name or os.path.splitext(os.path.basename(path))[0])


def recipe_labels(args, paths: list[str]) -> list[str]:
    """The row label of each of ``--recipes`` (their config files ``paths``): its ``--labels``
    entry, else its file name.
    SystemExit(2) when ``--labels`` does not give one distinct name per recipe (each names the
    run's work dir)."""
    names = args.labels or [None] * len(args.recipes)
    if len(names) != len(args.recipes):
        print(f'--labels gives {len(names)} name(s) for {len(args.recipes)} recipe(s) '
              f'{args.recipes}: give one per recipe, in the same order', file=sys.stderr)
        raise SystemExit(2)
    labels = [recipe_label(path, n) for path, n in zip(paths, names)]
    bad = [n for n in names if n is not None and (not n or '/' in n or n in ('.', '..'))]
    if bad or len(set(labels)) != len(labels):
        print(f'--labels {names}: each must be a distinct name usable as a folder name '
              f'(the recipes would be {labels})', file=sys.stderr)
        raise SystemExit(2)
    return labels


# --- data --------------------------------------------------------------------------------------
def convert_bccd(data: str, out_dir: str) -> str:
    """BCCD converted to the Ultralytics layout under ``out_dir/bccd_yolo`` by the zoo's
    converter (kept from an earlier run when complete); returns its data.yaml, whose ``path``
    is absolute."""
    import yaml

    from zoo.data.convert import convert_dataset
    dst = os.path.abspath(os.path.join(out_dir, 'bccd_yolo'))
    spec_path = os.path.join(dst, 'data.yaml')
    if not os.path.isfile(spec_path):
        _, notes = convert_dataset(data, dst, 'yolo', classes=list(CLASSES))
        for note in notes:
            print(f'convert: {note}')
        print(f'converted {data} to the Ultralytics layout in {dst}')
    else:
        print(f'using the converted data set in {dst}')
    with open(spec_path) as f:
        spec = yaml.safe_load(f)
    if list(spec.get('names', [])) != list(CLASSES):
        raise SystemExit(f'{spec_path}: names {spec.get("names")}, expected {list(CLASSES)}')
    if spec.get('path') != dst:
        spec['path'] = dst  # Ultralytics reads a relative path under its own datasets folder
        with tempfile.NamedTemporaryFile('w', dir=dst, delete=False, suffix='.tmp') as f:
            yaml.safe_dump(spec, f, sort_keys=False)
        os.replace(f.name, spec_path)
    return spec_path


# --- the runs ----------------------------------------------------------------------------------
def cpu_env(core=None) -> dict:
    """The environment of a run: no GPU; with ``core``, one thread."""
    env = dict(os.environ, CUDA_VISIBLE_DEVICES='')
    env['PYTHONPATH'] = ROOT + os.pathsep + env.get('PYTHONPATH', '')
    if core is not None:
        env.update(OMP_NUM_THREADS='1', MKL_NUM_THREADS='1')
    return env


def run_logged(cmd: list, log: str, core=None) -> tuple:
    """Run ``cmd`` on the CPU (pinned to ``core`` with one thread when given) with its output in
    ``log``; (return code, wall seconds)."""
    os.makedirs(os.path.dirname(log), exist_ok=True)
    print(('' if core is None else f'  [core {core}]') + '  $ ' + shlex.join(cmd), flush=True)
    pin = None if core is None else (lambda: os.sched_setaffinity(0, {core}))
    start = time.monotonic()
    with open(log, 'w') as f:
        code = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, env=cpu_env(core), cwd=ROOT,
                              preexec_fn=pin).returncode
    return code, time.monotonic() - start


def zoo_commands(config: str, minutes: float, work: str, args) -> tuple:
    """(train command, test command, metrics file) of one zoo run."""
    from zoo.config import load_config
    test_cfg = load_config(config).model.get('test_cfg') or {}
    data = os.path.abspath(args.data)
    data_opts = [f'{k}.dataset.data_root={data}'
                 for k in ('train_dataloader', 'val_dataloader', 'test_dataloader')]
    train = [sys.executable, '-c', ZOO_MAIN, 'train', config, '--work-dir', work,
             '--time-budget', f'{minutes:g}', *(['--fit-schedule'] if args.fit_schedule else []),
             '--seed', str(args.seed), '--overwrite',
             '--cfg-options', 'train_cfg.val_interval=1000000', *data_opts]
    thresholds = [f'model.test_cfg.score_thr={args.conf}', f'model.test_cfg.max_per_img={args.max_det}']
    if 'conf_thr' in test_cfg:  # YOLOv3's objectness threshold
        thresholds.append(f'model.test_cfg.conf_thr={args.conf}')
    metrics = os.path.join(work, 'vs_ultralytics_metrics.json')
    test = [sys.executable, '-c', ZOO_MAIN, 'test', config, '<last checkpoint>', '--metrics',
            metrics, '--work-dir', os.path.join(work, 'test'), '--cfg-options', *thresholds,
            *data_opts[1:]]
    return train, test, metrics


def run_zoo(config: str, minutes: float, args, core=None, label: str = None) -> dict:
    label = label or recipe_label(config)
    work = os.path.abspath(os.path.join(args.out_dir, 'zoo', f'{label[4:]}_{minutes:g}min'))
    train, test, metrics_file = zoo_commands(config, minutes, work, args)
    out = dict(system=label, budget_min=minutes, seed=args.seed, work_dir=work)
    code, wall = run_logged(train, os.path.join(work + '.train.log'), core)
    out['train_wall_s'] = wall
    record_path = os.path.join(work, 'zoo_run.json')
    record = {}
    if os.path.isfile(record_path):
        with open(record_path) as f:
            record = json.load(f)
    out['state'] = record.get('state')
    if code != 0:
        out['error'] = f'zoo train exited {code}; see {work}.train.log'
        return out
    stop = record.get('budget_stop') or {}
    out['stopped_at'] = {k: stop[k] for k in ('epoch', 'iter', 'elapsed_s') if k in stop} or None
    out['schedule_fit'] = record.get('schedule_fit')
    with open(os.path.join(work, 'last_checkpoint')) as f:
        ckpt = f.read().strip()
    out['checkpoint'] = ckpt
    test[test.index('<last checkpoint>')] = ckpt
    code, _ = run_logged(test, work + '.test.log', core)
    if code != 0:
        out['error'] = f'zoo test exited {code}; see {work}.test.log'
        return out
    with open(metrics_file) as f:
        metrics = json.load(f)['metrics']
    out['AP'], out['AP50'] = metrics.get('coco/bbox_mAP'), metrics.get('coco/bbox_mAP_50')
    return out


def run_ultralytics(minutes: float, data_yaml: str, python: str, args, core=None) -> dict:
    from zoo.benchmark.coco_score import score_detections, split_records
    records = split_records(os.path.abspath(args.data), CLASSES, 'val')
    project = os.path.abspath(os.path.join(args.out_dir, 'ultralytics'))
    name = f'yolov8n_{minutes:g}min'
    result = os.path.join(project, f'{name}.json')
    spec = dict(data=data_yaml, minutes=minutes, imgsz=args.imgsz, batch=args.batch,
                workers=args.workers, seed=args.seed, project=project, name=name, conf=args.conf,
                max_det=args.max_det, images=[r['img_path'] for r in records], out=result)
    spec_path = os.path.join(project, f'{name}.spec.json')
    _write_json(spec_path, spec)
    out = dict(system='Ultralytics YOLOv8n', budget_min=minutes, seed=args.seed,
               work_dir=os.path.join(project, name))
    if os.path.exists(result):
        os.remove(result)
    code, wall = run_logged([python, os.path.abspath(__file__), '--ultralytics-worker', spec_path],
                            os.path.join(project, f'{name}.log'), core)
    out['train_wall_s'] = wall
    if code != 0 or not os.path.isfile(result):
        out['error'] = f'the Ultralytics run exited {code}; see {os.path.join(project, name)}.log'
        return out
    with open(result) as f:
        res = json.load(f)
    metrics = score_detections(records, res['detections'], CLASSES)
    out.update(version=res['version'], train_s=res['train_s'], checkpoint=res['checkpoint'],
               epochs_done=res['epochs_done'], epochs_planned=res['epochs_planned'],
               AP=metrics['bbox_mAP'], AP50=metrics['bbox_mAP_50'])
    return out


# --- reporting ---------------------------------------------------------------------------------
def _fmt(v) -> str:
    return '-' if v is None else f'{100 * v:.1f}'


def markdown_table(runs: list) -> str:
    """The results as a markdown table (AP and AP50 in percent; "trained" is the training
    time each system measured, "wall" the whole training process with start-up and its final
    validation), one row per run, by budget, system and seed."""
    lines = ['| system | budget (min) | seed | AP | AP50 | stopped at | trained (min) | wall (min) |',
             '| --- | ---: | ---: | ---: | ---: | --- | ---: | ---: |']
    for r in sorted(runs, key=lambda r: (r['budget_min'], r['system'], r.get('seed', 0))):
        trained = None
        fit = r.get('schedule_fit')
        if r.get('epochs_done') is not None:
            where, trained = f'epoch {r["epochs_done"]} of {r["epochs_planned"]}', r.get('train_s')
        elif fit and not r.get('stopped_at') and not r.get('error'):
            where = f'epoch {fit["after_epoch"]} of {fit["fitted_epochs"]} (fitted)'
            trained = fit['mean_epoch_s'] * fit['after_epoch']
        elif r.get('stopped_at'):
            stop = r['stopped_at']
            where, trained = f'epoch {stop.get("epoch", "-")}, iter {stop["iter"]}', stop.get('elapsed_s')
        else:
            where = r.get('error') or r.get('state') or '-'
        trained = '-' if trained is None else f'{trained / 60:.1f}'
        lines.append(f'| {r["system"]} | {r["budget_min"]:g} | {r.get("seed", "-")} | {_fmt(r.get("AP"))} | '
                     f'{_fmt(r.get("AP50"))} | {where} | {trained} | '
                     f'{r.get("train_wall_s", 0) / 60:.1f} |')
    return '\n'.join(lines) + '\n'


def curve_points(runs: list, system: str, key: str) -> list:
    """``[(budget, mean, low, high, n), ...]`` by budget: ``key`` (``'AP'`` or ``'AP50'``) in
    percent over the runs of ``system`` at that budget (one per seed) that have it; ``low`` and
    ``high`` the smallest and largest of them."""
    by_budget = {}
    for r in runs:
        if r['system'] == system and r.get(key) is not None:
            by_budget.setdefault(r['budget_min'], []).append(100 * r[key])
    return [(b, sum(v) / len(v), min(v), max(v), len(v)) for b, v in sorted(by_budget.items())]


def plot_curves(runs: list, path: str) -> None:
    """AP and AP50 against the budget, one curve per system (PNG): the mean over seeds, with a
    bar from the lowest to the highest seed where a budget has several."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(11, 5))
    for ax, key in zip(axes, ('AP', 'AP50')):
        for system in sorted({r['system'] for r in runs}):
            pts = curve_points(runs, system, key)
            if pts:
                b, mean, lo, hi, n = zip(*pts)
                several = ', '.join(f'{x:g}' for x, k in zip(b, n) if k > 1)
                seeds = (f' (mean of {max(n)} seeds at {several} min, bar: lowest to highest)'
                         if max(n) > 1 else '')
                below = [m - low for m, low in zip(mean, lo)]
                above = [high - m for m, high in zip(mean, hi)]
                ax.errorbar(b, mean, yerr=[below, above],
                            marker='o', capsize=3, label=system + seeds)
        ax.set_xlabel('training budget (CPU wall-clock minutes)')
        ax.set_ylabel(f'COCO {key} (%) on BCCD val')
        ax.set_xscale('log')
        budgets = sorted({r['budget_min'] for r in runs})
        ax.set_xticks(budgets, [f'{b:g}' for b in budgets])
        ax.minorticks_off()
        ax.grid(True, alpha=0.3)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc='lower center', ncol=2, fontsize='small')
    fig.tight_layout(rect=(0, 0.06 * ((len(labels) + 1) // 2), 1, 1))
    tmp = path + '.tmp.png'
    fig.savefig(tmp, dpi=120)
    plt.close(fig)
    os.replace(tmp, path)


def write_reports(runs: list, meta: dict, out_dir: str) -> None:
    _write_json(os.path.join(out_dir, 'results.json'), dict(meta, runs=runs))
    path = os.path.join(out_dir, 'results.md')
    with tempfile.NamedTemporaryFile('w', dir=out_dir, delete=False, suffix='.tmp') as f:
        f.write(markdown_table(runs))
    os.chmod(f.name, 0o644)
    os.replace(f.name, path)
    if any(r.get('AP') is not None for r in runs):
        plot_curves(runs, os.path.join(out_dir, 'curves.png'))


def merge_results(folders: list, out_dir: str) -> list:
    """The runs of ``folders``' results.json files, without failed ones, written together to
    ``out_dir`` (results.json with each source's metadata under ``sources``, results.md,
    curves.png); returns the runs. SystemExit(2) names a folder without results.json."""
    runs, sources = [], []
    for folder in folders:
        path = os.path.join(folder, 'results.json')
        if not os.path.isfile(path):
            print(f'--merge {folder}: no results.json there', file=sys.stderr)
            raise SystemExit(2)
        with open(path) as f:
            result = json.load(f)
        # runs recorded before the seed was kept per run: the seed of their invocation
        kept = [dict(r, seed=r.get('seed', result.get('seed', 0)))
                for r in result.get('runs', []) if 'error' not in r]
        for r in result.get('runs', []):
            if 'error' in r:
                print(f'left out: {r["system"]} ({r["budget_min"]:g} min) from {path}: {r["error"]}')
        runs += kept
        sources.append(dict({k: v for k, v in result.items() if k != 'runs'}, results=os.path.abspath(path)))
    os.makedirs(out_dir, exist_ok=True)
    write_reports(runs, dict(sources=sources), out_dir)
    return runs


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.ultralytics_worker:
        return ultralytics_worker(args.ultralytics_worker)
    if args.merge:
        runs = merge_results(args.merge, args.out_dir)
        print(markdown_table(runs))
        print(f'merged into {os.path.join(args.out_dir, "results.json")}, results.md, curves.png')
        return 0
    if ROOT not in sys.path:
        sys.path.insert(0, ROOT)
    paths = [recipe_path(r) for r in args.recipes] if 'zoo' in args.systems else []
    recipes = list(zip(paths, recipe_labels(args, paths))) if paths else []
    python = args.ultralytics_python or sys.executable
    version = None
    if 'ultralytics' in args.systems:
        version = ultralytics_version(python)
        if version is None:
            print(f'ultralytics cannot be imported by {python}.\n{INSTALL}', file=sys.stderr)
            if not args.dry_run:
                return 2
        elif not version.startswith(ULTRALYTICS_SERIES + '.'):
            print(f'note: ultralytics {version} found; this script was written for '
                  f'{ULTRALYTICS_SERIES}.x', file=sys.stderr)
    os.makedirs(args.out_dir, exist_ok=True)
    data_yaml = convert_bccd(args.data, args.out_dir)
    import torch
    meta = dict(machine=platform.platform(), processor=platform.processor(), cpus=os.cpu_count(),
                torch_threads=torch.get_num_threads(), torch=torch.__version__,
                ultralytics=version, data=os.path.abspath(args.data), data_yaml=data_yaml,
                imgsz=args.imgsz, batch=args.batch, workers=args.workers, conf=args.conf,
                max_det=args.max_det, seed=args.seed, budgets_min=args.budgets)
    print(f'plan ({len(args.budgets) * (len(recipes) + ("ultralytics" in args.systems))} runs on the '
          'CPU, ' + ('the two systems side by side, each on a core of its own with one thread):'
                     if args.concurrent else 'one after the other):'))
    for minutes in args.budgets:
        if 'ultralytics' in args.systems:
            print(f'  {minutes:g} min: Ultralytics YOLOv8n from scratch (yolov8n.yaml, '
                  f'pretrained=False, time={minutes / 60:.4g} h, imgsz={args.imgsz}, '
                  f'batch={args.batch}, workers={args.workers}, device=cpu), with {python}')
        for config, label in recipes:
            train, _, _ = zoo_commands(config, minutes, '<work dir>', args)
            print(f'  {minutes:g} min: {label}: zoo ' + ' '.join(train[3:]))
    if args.dry_run:
        print('dry run: nothing trained')
        return 0
    runs, lock = [], threading.Lock()

    def record(result: dict) -> None:
        with lock:
            runs.append(result)
            write_reports(runs, meta, args.out_dir)
            print(f'  {result["system"]} ({result["budget_min"]:g} min): AP {_fmt(result.get("AP"))}, '
                  f'AP50 {_fmt(result.get("AP50"))}'
                  + (f' ({result["error"]})' if 'error' in result else ''), flush=True)

    def ultralytics_chain(core=None) -> None:
        for minutes in args.budgets:
            print(f'[{minutes:g} min] Ultralytics YOLOv8n', flush=True)
            record(run_ultralytics(minutes, data_yaml, python, args, core))

    def zoo_chain(core=None) -> None:
        for minutes in args.budgets:
            for config, label in recipes:
                print(f'[{minutes:g} min] {label}', flush=True)
                record(run_zoo(config, minutes, args, core, label))

    if args.concurrent:
        cores = usable_cores()
        meta['concurrent'] = dict(ultralytics_core=cores[0], zoo_core=cores[1], threads=1)
        threads = [threading.Thread(target=ultralytics_chain, args=(cores[0],)),
                   threading.Thread(target=zoo_chain, args=(cores[1],))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    else:
        for minutes in args.budgets:  # budget by budget, each run alone
            if 'ultralytics' in args.systems:
                print(f'[{minutes:g} min] Ultralytics YOLOv8n', flush=True)
                record(run_ultralytics(minutes, data_yaml, python, args))
            for config, label in recipes:
                print(f'[{minutes:g} min] {label}', flush=True)
                record(run_zoo(config, minutes, args, label=label))
    failed = sum('error' in r for r in runs)
    print(markdown_table(runs))
    print(f'results in {os.path.join(args.out_dir, "results.json")}, results.md, curves.png')
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
