"""``zoo plot WORK_DIR [WORK_DIR ...] --keys loss,coco/bbox_mAP_50 [--out PNG]``: curves of logged
scalars over iterations, one subplot per key and one line per work dir (docs/analysis.md)."""
from __future__ import annotations


def add_parsers(sub, common) -> None:
    p = sub.add_parser(
        'plot', parents=[common], help='curves of logged scalars (loss, mAP, lr) of work dirs',
        description='Plot scalars logged during training (WORK_DIR/<timestamp>/vis_data/'
                    'scalars.json): one subplot per key, one line per work dir, as mmdet\'s '
                    'analyze_logs.py plot_curve. Training scalars are plotted against the '
                    'iteration, validation metrics against the epoch.')
    p.add_argument('work_dirs', nargs='+', metavar='WORK_DIR')
    p.add_argument('--keys', default='loss',
                   help='comma-separated scalar names, e.g. loss,loss_cls,lr,coco/bbox_mAP_50 '
                        '(default: loss); an unknown one lists those logged')
    p.add_argument('--legend', help='comma-separated line labels, one per work dir (default: '
                                    'the folder names)')
    p.add_argument('--out', default='curves.png', help='the PNG file to write (curves.png)')
    p.set_defaults(func=run)


def run(args) -> int:
    from registry import ConfigError
    from zoo.analysis.scalars import plot_scalars

    keys = [k.strip() for k in args.keys.split(',') if k.strip()]
    if not keys:
        raise ConfigError('--keys: give at least one scalar name')
    labels = [s.strip() for s in args.legend.split(',')] if args.legend else None
    if labels is not None and len(labels) != len(args.work_dirs):
        raise ConfigError(f'--legend has {len(labels)} labels for {len(args.work_dirs)} work dirs')
    if not args.out.lower().endswith('.png'):
        raise ConfigError(f'--out {args.out}: expected a .png file name')
    data = plot_scalars(args.work_dirs, keys, args.out, labels)
    for wd, curves in data.items():
        print(f'{wd}: ' + ', '.join(f'{k} ({len(v)} points)' for k, v in curves.items()))
    print(f'curves written to {args.out}')
    return 0
