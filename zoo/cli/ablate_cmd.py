"""``zoo ablate ABLATION [--work-dir D] [--seeds 0 1 2] [--dry-run] [--resume]
[--emit-commands]`` and ``zoo compare RUN_DIR ... [--out-dir D]``: see docs/ablations.md."""
from __future__ import annotations

import os


def add_parsers(sub, common) -> None:
    p = sub.add_parser(
        'ablate', parents=[common], help='train and test a grid of config variants, compare them',
        description='Expand the ablation file (a base config plus axes and/or named variants) '
                    'into variants, write each one\'s config, train and test every variant with '
                    'each seed (one `zoo train` and `zoo test` each), and write results.csv, '
                    'results.json, results.md, ap_vs_latency.png and loss_curves.png into the '
                    'work dir. A failing run is recorded and the others go on.')
    p.add_argument('ablation', help='an ablation file, e.g. configs/ablations/roi_extractor.py')
    p.add_argument('--work-dir', help='default: the file\'s work_dir, else '
                                      'work_dirs/ablations/<ablation name>')
    p.add_argument('--seeds', type=int, nargs='+', help='seeds of every variant (default: the '
                                                        'file\'s seeds, else 0)')
    p.add_argument('--dry-run', action='store_true',
                   help='print the variants and each one\'s config differences from the base; '
                        'train nothing')
    p.add_argument('--resume', action='store_true',
                   help='skip finished runs, continue interrupted ones, retry failed ones')
    p.add_argument('--emit-commands', action='store_true',
                   help='write the configs and print one `zoo train` and `zoo test` command per '
                        'run (for a cluster scheduler) instead of running them; then '
                        '`zoo compare WORK_DIR`')
    p.add_argument('--device', choices=['cpu', 'cuda'], help='device of the latency measurement '
                   '(default: the GPU when there is one); training uses the GPU when there is one')
    p.set_defaults(func=run_ablate)

    c = sub.add_parser(
        'compare', parents=[common], help='the ablation table of finished runs',
        description='Read finished runs (zoo ablate work dirs, their run folders, or plain `zoo '
                    'train` work dirs) and write results.csv, results.json, results.md and the '
                    'two plots.')
    c.add_argument('run_dirs', nargs='+', metavar='RUN_DIR')
    c.add_argument('--out-dir', help='default: the first RUN_DIR when it is an ablation work '
                                     'dir, else the current folder')
    c.add_argument('--device', choices=['cpu', 'cuda'],
                   help='device of latency measurements still to be made')
    c.add_argument('--reprofile', action='store_true',
                   help='measure parameters, GFLOPs and latency again (e.g. on a quiet machine) '
                        'instead of reading each run\'s profile.json')
    c.set_defaults(func=run_compare)


def _print_dry_run(spec, base_dict) -> None:
    from zoo.ablation import config_diff, variant_config
    from zoo.ablation.variant_config import ABSENT

    def shown(value):
        return value if value is ABSENT else repr(value)
    print(f'ablation {spec.name}: {len(spec.variants)} variant(s) x {len(spec.seeds)} seed(s) '
          f'{spec.seeds}; base {os.path.relpath(spec.base)}')
    for i, variant in enumerate(spec.variants, 1):
        cfg = variant_config(spec, variant)
        diff = config_diff(base_dict, cfg.to_dict())
        print(f'\n[{i}] {variant.name}' + (f'  (base {os.path.relpath(variant.base)})'
                                          if variant.base != spec.base else ''))
        if not diff:
            print('    (same as the base)')
        for key, old, new in diff:
            print(f'    {key}: {shown(old)} -> {shown(new)}')


def run_ablate(args) -> int:
    from zoo.ablation import (emit_commands, find_runs, load_ablation, prepare_runs, read_run,
                              run_ablation, write_results)
    from zoo.config import load_config

    spec = load_ablation(args.ablation, args.seeds)
    work_dir = args.work_dir or spec.work_dir or os.path.join('work_dirs', 'ablations', spec.name)
    if args.dry_run:
        _print_dry_run(spec, load_config(spec.base).to_dict())
        return 0
    runs = prepare_runs(spec, work_dir, resume=args.resume or args.emit_commands)
    if args.emit_commands:
        print('\n'.join(emit_commands(runs)))
        print(f'# then: zoo compare {work_dir}')
        return 0
    print(f'[ablate] {spec.name}: {len(spec.variants)} variant(s) x {len(spec.seeds)} seed(s) '
          f'= {len(runs)} run(s) in {work_dir}')
    statuses = run_ablation(runs, device=args.device)
    found, manifest = find_runs([work_dir])
    write_results(work_dir, [read_run(r, args.device) for r in found], manifest)
    failed = [s for s in statuses if s['state'] != 'finished']
    print(f'[ablate] {len(statuses) - len(failed)} run(s) finished, {len(failed)} failed; '
          f'table in {os.path.join(work_dir, "results.md")}')
    with open(os.path.join(work_dir, 'results.md')) as f:
        print(f.read())
    return 1 if failed else 0


def run_compare(args) -> int:
    from zoo.ablation import find_runs, read_run, write_results
    runs, manifest = find_runs(args.run_dirs)
    out_dir = args.out_dir or (args.run_dirs[0] if manifest else '.')
    write_results(out_dir, [read_run(r, args.device, args.reprofile) for r in runs], manifest)
    with open(os.path.join(out_dir, 'results.md')) as f:
        print(f.read())
    print(f'results.csv, results.json, results.md, ap_vs_latency.png and loss_curves.png in '
          f'{out_dir}')
    return 0
