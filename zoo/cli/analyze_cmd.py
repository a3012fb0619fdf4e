"""``zoo analyze CONFIG CKPT_OR_WORK_DIR [--out-dir D]`` and ``zoo analyze CONFIG --results
RESULTS.json [--out-dir D]``: what the detector gets wrong on the test split (docs/analysis.md)."""
from __future__ import annotations

import argparse
import os

from .config_cmd import add_cfg_options
from .data_options import add_data_options, prepare_run_config


def add_parsers(sub, common) -> None:
    p = sub.add_parser(
        'analyze', parents=[common],
        help='precision-recall curves, confusion matrix, TIDE errors and worst images',
        description='Run CKPT on the config\'s test split as `zoo test` does (or read the '
                    'detections of `zoo test --out` with --results) and write into --out-dir: '
                    'pr_curves.png/.json, confusion_matrix.png/.json, tide.txt/.json/.png, '
                    'gallery_missed/ and gallery_false/ (docs/analysis.md).')
    p.add_argument('config')
    p.add_argument('checkpoint', nargs='?',
                   help='a checkpoint file, or a work dir: its best checkpoint, else its last')
    p.add_argument('--results', metavar='RESULTS.json',
                   help='analyze these detections (COCO results format, as `zoo test --out` '
                        'writes) instead of running a checkpoint')
    p.add_argument('--out-dir', help='where the outputs go (default: <work dir or the '
                                     'checkpoint\'s / results file\'s folder>/analysis)')
    p.add_argument('--overwrite', action='store_true',
                   help='replace the outputs of an earlier analysis in --out-dir')
    p.add_argument('--score-thr', type=float, default=0.3,
                   help='confusion matrix and galleries: the score a detection needs (0.3, '
                        'as mmdet\'s confusion_matrix.py)')
    p.add_argument('--iou-thr', type=float, default=0.5,
                   help='confusion matrix and galleries: the IoU of a hit (0.5)')
    p.add_argument('--top-k', type=int, default=5, help='images per gallery (5)')
    p.add_argument('--tide-fg', type=float, default=0.5, metavar='T_F',
                   help='TIDE\'s foreground IoU t_f, also the IoU of its AP (0.5)')
    p.add_argument('--tide-bg', type=float, default=0.1, metavar='T_B',
                   help='TIDE\'s background IoU t_b (0.1)')
    add_cfg_options(p)
    add_data_options(p)
    p.set_defaults(func=run)


def _default_out_dir(args) -> str:
    if args.results:
        return os.path.join(os.path.dirname(os.path.abspath(args.results)), 'analysis')
    if os.path.isdir(args.checkpoint):
        return os.path.join(args.checkpoint, 'analysis')
    return os.path.join(os.path.dirname(os.path.abspath(args.checkpoint)), 'analysis')


def _check_args(args) -> None:
    from registry import ConfigError
    if (args.checkpoint is None) == (args.results is None):
        raise ConfigError('give either a checkpoint (or work dir) to run, or --results '
                          'RESULTS.json to read, not both' if args.checkpoint else
                          'give a checkpoint (or work dir) to run, or --results RESULTS.json')
    for name in ('score_thr', 'iou_thr', 'tide_fg', 'tide_bg'):
        value = getattr(args, name)
        if not 0 <= value <= 1:
            raise ConfigError(f'--{name.replace("_", "-")} {value}: expected a value in [0, 1]')
    if args.tide_bg > args.tide_fg:
        raise ConfigError(f'--tide-bg {args.tide_bg} must not exceed --tide-fg {args.tide_fg}')
    if args.top_k < 0:
        raise ConfigError(f'--top-k {args.top_k}: expected 0 or more')


def _test_args(args, results: str, out_dir: str) -> argparse.Namespace:
    """The arguments of the ``zoo test`` run that makes the detections: ``zoo test``'s own
    defaults (parsed by its parser, so that an option it gains later has its default here), the
    options both commands share as given to ``zoo analyze``, the detections to ``results`` and
    the logs to ``out_dir``."""
    from . import test_cmd
    parser = argparse.ArgumentParser(add_help=False)
    test_cmd.add_parsers(parser.add_subparsers(dest='command'), argparse.ArgumentParser(
        add_help=False))
    test_args = parser.parse_args(['test', args.config, args.checkpoint])
    for name, value in vars(args).items():
        if name in vars(test_args) and name != 'func':
            setattr(test_args, name, value)
    test_args.out, test_args.metrics, test_args.work_dir = results, None, out_dir
    test_args.launcher = 'none'
    return test_args


def _cat_ids(cfg, classes):
    """COCO category id per label when the test CocoMetric evaluates against an ``ann_file``
    (its results then carry that file's ids), else ``None`` (positions; see
    :mod:`zoo.analysis.records`)."""
    from registry import ConfigError
    from zoo.datasets.coco import load_coco_json
    evaluators = cfg.get('test_evaluator') or []
    evaluators = evaluators if isinstance(evaluators, list) else [evaluators]
    coco = [ev for ev in evaluators if ev.get('type') == 'CocoMetric' and ev.get('ann_file')]
    if not coco:
        return None
    gt = load_coco_json(coco[0]['ann_file'])
    by_name = {}
    for c in sorted(gt.loadCats(gt.getCatIds()), key=lambda c: c['id']):
        by_name.setdefault(c['name'], c['id'])
    missing = [n for n in classes if n not in by_name]
    if missing:
        raise ConfigError(f'classes {missing} are not categories of {coco[0]["ann_file"]}')
    return [by_name[n] for n in classes]


def run(args) -> int:
    import registry
    from registry import ConfigError
    from zoo.analysis.records import dataset_records, join_results, read_results
    from zoo.analysis.report import check_out_dir, write_analysis
    from zoo.config import load_config

    _check_args(args)
    out_dir = args.out_dir or _default_out_dir(args)
    check_out_dir(out_dir, args.overwrite, extra=() if args.results else ('results.json',))
    cfg = load_config(args.config, args.cfg_options)
    if 'test_dataloader' not in cfg:
        raise ConfigError(f'{args.config} has no test_dataloader to analyze')
    if args.results:
        results = args.results
    else:  # detections as `zoo test --out` makes them; its logs go to out_dir
        from . import test_cmd
        results = os.path.join(out_dir, 'results.json')
        test_cmd.run(_test_args(args, results, out_dir))
    detections = read_results(results)
    prepare_run_config(cfg, args, out_dir)
    registry.discover()
    dataset = registry.build('dataset', cfg.test_dataloader.dataset, key='test_dataloader.dataset')
    classes = tuple(dataset.metainfo.get('classes', ()))
    if not classes:
        raise ConfigError('test_dataloader.dataset names no classes')
    records = join_results(dataset_records(dataset), detections, len(classes),
                           _cat_ids(cfg, classes), source=results)
    out = write_analysis(records, classes, out_dir, iou_thr=args.iou_thr,
                         score_thr=args.score_thr, top_k=args.top_k, t_f=args.tide_fg,
                         t_b=args.tide_bg)

    def pts(v):
        return 'n/a' if v is None else f'{100 * v:.1f}'
    print(f'{len(records)} images, {len(detections)} detections: AP50 {pts(out["mAP50"])}, '
          f'AP75 {pts(out["mAP75"])} (COCO 101-point, 100 detections per image and class)')
    print(out['tide'].table())
    print(f'galleries: {len(out["galleries"]["missed"])} image(s) with missed boxes, '
          f'{len(out["galleries"]["false"])} with false detections')
    print(f'analysis written to {out_dir}')
    return 0
