"""``zoo config CONFIG [--cfg-options k=v ...]``: print the fully merged config after checking it."""
from __future__ import annotations

import argparse

from mmengine.config import DictAction


class CfgOptionsAction(DictAction):
    """mmengine's DictAction, with a usage error (exit status 2) for an item without ``=``."""

    def __call__(self, parser, namespace, values, option_string=None):
        bad = [v for v in values if '=' not in v]
        if bad:
            parser.error(f'argument {option_string}: expected KEY=VALUE, got {bad[0]!r}')
        super().__call__(parser, namespace, values, option_string)


def add_cfg_options(parser: argparse.ArgumentParser) -> None:
    """The ``--cfg-options key=value ...`` option shared by every command that reads a config."""
    parser.add_argument(
        '--cfg-options', nargs='+', action=CfgOptionsAction, default=None, metavar='KEY=VALUE',
        help='override config keys, e.g. model.rpn_head.loss_cls.type=FocalLoss '
             'train_cfg.max_epochs=2 (lists as [a,b], tuples as (a,b))')


def add_parsers(sub, common) -> None:
    p = sub.add_parser('config', parents=[common], help='print the fully merged config',
                       description='Load CONFIG with its _base_ files and --cfg-options, check '
                                   'that every `type` names a registered part, and print it.')
    p.add_argument('config', help='path of a config file (Python, mmengine style)')
    add_cfg_options(p)
    p.add_argument('--build', action='store_true',
                   help='also build the model, which runs the assembly checks between parts')
    p.set_defaults(func=run)


def run(args) -> int:
    import zoo.runner.build  # noqa: F401  (registers the zoo's hooks, e.g. PipelineSwitchHook)
    from registry import ConfigError, validate_types
    from zoo.config import load_config

    cfg = load_config(args.config, args.cfg_options)
    validate_types(cfg.to_dict())
    summary = None
    if args.build:  # before printing: an error is then the only output
        from zoo.detectors.builder import build_detector
        if cfg.get('model') is None:
            raise ConfigError(f'{args.config} has no `model` to build')
        model = build_detector(cfg.model)
        params = sum(p.numel() for p in model.parameters())
        summary = f'# model {cfg.model.type} built: {params:,} parameters, assembly checks passed'
    print(cfg.pretty_text)
    if summary:
        print(summary)
    return 0
