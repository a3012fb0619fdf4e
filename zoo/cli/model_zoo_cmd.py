"""``zoo model-zoo WORK_DIR ... --out docs/model_zoo.md [--device cpu|cuda] [--reprofile]
[--profile-dir DIR]``: the model-zoo table of finished runs (:mod:`zoo.ablation.model_zoo`)."""
from __future__ import annotations


def add_parsers(sub, common) -> None:
    p = sub.add_parser(
        'model-zoo', parents=[common], help='the model-zoo table (docs/model_zoo.md) of trained runs',
        description='Write the model-zoo table of finished `zoo train` work dirs: per run its '
                    'recipe, parameters, GFLOPs, inference latency, training time, AP/AP50/AP75 '
                    '(from `zoo test` on the work dir, else its last validation) and the `zoo '
                    'train` and `zoo test` command lines recorded in the work dir. The file is '
                    'replaced (written atomically).')
    p.add_argument('work_dirs', nargs='+', metavar='WORK_DIR', help='one row each, in this order')
    p.add_argument('--out', required=True, help='the Markdown file, e.g. docs/model_zoo.md')
    p.add_argument('--device', choices=['cpu', 'cuda'],
                   help='device of latency measurements still to be made (default: the GPU when '
                        'there is one)')
    p.add_argument('--reprofile', action='store_true',
                   help='measure parameters, GFLOPs and latency again instead of reading each '
                        'work dir\'s profile.json')
    p.add_argument('--profile-dir', metavar='DIR',
                   help='keep the measured parameters, GFLOPs and latencies in DIR (one JSON file '
                        'per work dir) instead of each work dir\'s profile.json: nothing is written '
                        'into the work dirs')
    p.set_defaults(func=run)


def run(args) -> int:
    import os

    from registry import ConfigError
    from zoo.ablation.model_zoo import model_zoo_markdown, model_zoo_row
    from zoo.runner.atomic import atomic_write
    if not args.out.endswith('.md'):
        raise ConfigError(f'--out {args.out}: expected a Markdown file name (.md)')
    from zoo.runner.workdir import command_line
    rows = [model_zoo_row(d, args.device, args.reprofile, args.profile_dir) for d in args.work_dirs]
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with atomic_write(args.out) as f:
        f.write(model_zoo_markdown(rows, command_line(getattr(args, 'argv', None))))
    print(f'{len(rows)} run(s) written to {args.out}')
    return 0
