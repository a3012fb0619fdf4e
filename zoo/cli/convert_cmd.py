"""``zoo convert torchvision SRC.pth DST.pth [--classes coco80|all]``."""
from __future__ import annotations


def add_parsers(sub, common) -> None:
    p = sub.add_parser('convert', parents=[common], help='convert another toolbox\'s weights',
                       description='Convert torchvision\'s fasterrcnn_resnet50_fpn state dict '
                                   'into a zoo checkpoint for the R50-FPN recipes (K + 1 classes '
                                   'with background first -> K classes with background last).')
    p.add_argument('source', choices=['torchvision'], help='where the weights come from')
    p.add_argument('src', help='torchvision state dict (.pth)')
    p.add_argument('dst', help='zoo checkpoint to write')
    p.add_argument('--classes', default='auto',
                   help="'coco80' (91-slot COCO layout to the 80 used classes; the default for a "
                        "91-slot predictor), 'all', or comma-separated slot indices")
    p.set_defaults(func=run)


def run(args) -> int:
    from registry import ConfigError
    from zoo.convert import convert_file

    classes = args.classes
    if classes not in ('auto', 'coco80', 'all'):
        try:
            classes = [int(c) for c in classes.split(',')]
        except ValueError as err:
            raise ConfigError(f'--classes {args.classes!r}: expected coco80, all or comma-separated '
                              'integers') from err
    try:
        ckpt = convert_file(args.src, args.dst, classes)
    except ValueError as err:
        raise ConfigError(f'{args.src}: {err}') from err
    print(f'{args.dst}: {len(ckpt["state_dict"])} tensors, {ckpt["meta"]["num_classes"]} classes')
    return 0
