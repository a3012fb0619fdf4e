"""``zoo data inspect PATH`` and ``zoo data convert SRC DST --to voc|coco|yolo``: look at a
dataset folder before training on it, and move it between the three formats."""
from __future__ import annotations

import os

#: the recipe whose anchors `inspect` checks by default (the README's main job), in the checkout
DEFAULT_RECIPE = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), 'configs', 'faster_rcnn', 'faster_rcnn_zf_bccd.py')


def add_parsers(sub, common) -> None:
    p = sub.add_parser('data', parents=[common], help='inspect or convert a dataset folder',
                       description='Tools for your own data (docs/own_data.md).')
    data_sub = p.add_subparsers(dest='data_command', metavar='ACTION', required=True)

    i = data_sub.add_parser(
        'inspect', parents=[common], help='report a dataset folder and its problems',
        description='Print the format, splits, images and boxes per class, box sizes (and write '
                    'a plot of them), every problem found, and how well a recipe\'s anchors '
                    'cover the boxes (best possible recall at IoU --thr, as `zoo anchors`). '
                    'Exit status 0 when no problem was found, 1 when some were.')
    i.add_argument('path', help='a Pascal VOC, COCO or YOLO folder (or COCO .json / data.yaml)')
    i.add_argument('--classes', nargs='+', metavar='NAME', help='class names, in label order')
    i.add_argument('--config', default=None, metavar='RECIPE',
                   help='the recipe whose anchors to check (default the README\'s '
                        'configs/faster_rcnn/faster_rcnn_zf_bccd.py when the checkout has it; '
                        '"none" to skip)')
    i.add_argument('--thr', type=float, default=0.5, help='IoU of the best possible recall (0.5)')
    i.add_argument('--plot', default=None, metavar='PNG',
                   help='where the box-size plot goes (default <folder name>_box_sizes.png)')
    i.set_defaults(func=run_inspect)

    c = data_sub.add_parser(
        'convert', parents=[common], help='convert a dataset between VOC, COCO and YOLO',
        description='Write every split of SRC to the new folder DST in another format, exact to '
                    'the pixel rules of docs/own_data.md (VOC -> COCO -> YOLO -> VOC gives back '
                    'the same boxes). Images are hard-linked when possible, else copied.')
    c.add_argument('src')
    c.add_argument('dst')
    c.add_argument('--to', required=True, choices=['voc', 'coco', 'yolo'])
    c.add_argument('--classes', nargs='+', metavar='NAME', help='class names, in label order')
    c.set_defaults(func=run_convert)


def run_inspect(args) -> int:
    from registry import ConfigError
    from zoo.data.detect import detect_data
    from zoo.data.inspect import format_report, inspect_dataset, plot_box_sizes

    if not 0 < args.thr <= 1:
        raise ConfigError(f'--thr must be an IoU in (0, 1], got {args.thr}')
    recipe = args.config
    if recipe is None:
        recipe = DEFAULT_RECIPE if os.path.isfile(DEFAULT_RECIPE) else None
    elif recipe == 'none':
        recipe = None
    elif not os.path.isfile(recipe):
        raise ConfigError(f'--config {recipe}: no such config file')
    source = detect_data(args.path, args.classes)
    report = inspect_dataset(source, recipe, args.thr)
    print(format_report(report))
    name = os.path.basename(os.path.normpath(source.root)) or 'dataset'
    plot = plot_box_sizes(report, args.plot or f'{name}_box_sizes.png')
    print(f'box-size plot: {plot}')
    return 1 if report.problems else 0


def run_convert(args) -> int:
    from zoo.data.convert import convert_dataset

    raw, notes = convert_dataset(args.src, args.dst, args.to, args.classes)
    for line in notes:
        print(f'note: {line}')
    n_img = sum(len(v) for v in raw.splits.values())
    n_box = sum(len(e.boxes) for v in raw.splits.values() for e in v)
    print(f'{raw.source.format} {args.src} -> {args.to} {args.dst}: {len(raw.splits)} split(s) '
          f'({", ".join(raw.splits)}), {n_img} image entries, {n_box} boxes')
    if raw.problems:
        print(f'{len(raw.problems)} problem(s) in the source; run `zoo data inspect {args.src}`')
    return 0
