"""Entry point of the ``zoo`` command.

Exit status: 0 on success, 2 for a usage or config error (argparse's own usage errors included),
1 for a failure at run time. An error is printed as one readable paragraph; ``--debug`` prints the
traceback as well. Warnings (a plugin that failed to import, ...) are printed one line each.
:func:`main` returns the status (also for usage errors and ``--help``), so it can be called
in-process: ``main(['list', 'backbone'])``.
"""
from __future__ import annotations

import argparse
import signal
import sys
import traceback
import warnings
from typing import Optional, Sequence

from registry import ConfigError

from . import (ablate_cmd, analyze_cmd, anchors_cmd, browse_cmd, config_cmd, convert_cmd, data_cmd,
               export_cmd, infer_cmd, model_zoo_cmd, parts_cmd, plot_cmd, test_cmd, train_cmd)

# Each module has add_parsers(subparsers, common), which sets `func` on its parsers. Modules import
# the training stack inside their functions, so that `zoo list` stays fast.
COMMAND_MODULES = [parts_cmd, config_cmd, train_cmd, test_cmd, infer_cmd, analyze_cmd, plot_cmd,
                   browse_cmd, convert_cmd, anchors_cmd, ablate_cmd, model_zoo_cmd, data_cmd,
                   export_cmd]


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument('--debug', action='store_true', default=argparse.SUPPRESS,
                        help='print the full traceback of an error')
    parser = argparse.ArgumentParser(
        prog='zoo', parents=[common],
        description='The detection zoo: assemble detectors from config files, train, test and '
                    'compare them. Parts come from plugins (see `zoo plugins`).')
    sub = parser.add_subparsers(dest='command', metavar='COMMAND', required=True)
    for module in COMMAND_MODULES:
        module.add_parsers(sub, common)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    if hasattr(signal, 'SIGPIPE'):  # `zoo list | head` ends quietly, as Unix tools do
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # usage error (2) or --help (0): returned, as every other status
        return exit_.code if isinstance(exit_.code, int) else 2
    args.argv = list(sys.argv[1:] if argv is None else argv)  # recorded by train and test
    debug = getattr(args, 'debug', False)
    with warnings.catch_warnings():
        if not debug:  # one line per warning, e.g. a plugin that failed to import
            warnings.showwarning = _show_warning
        try:
            status = args.func(args)
        except ConfigError as err:
            if debug:
                traceback.print_exc()
            print(f'zoo {args.command}: error: {err}{_notes(err)}', file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            print(f'zoo {args.command}: interrupted', file=sys.stderr)
            return 130
        except Exception as err:  # a run-time failure: one paragraph, traceback with --debug
            if debug:
                traceback.print_exc()
            hint = '' if debug else ' (run again with --debug for the traceback)'
            print(f'zoo {args.command}: failed: {type(err).__name__}: {err}{_notes(err)}{hint}',
                  file=sys.stderr)
            return 1
    return int(status or 0)


def _notes(err: BaseException) -> str:
    """The notes of an error (``while building model.backbone (ResNet)``), as a tail."""
    notes = [str(n) for n in getattr(err, '__notes__', ())]
    return ''.join(f' ({n})' for n in notes)


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    kind = '' if category is UserWarning else f'{category.__name__}: '
    print(f'zoo: warning: {kind}{message}', file=file or sys.stderr)


if __name__ == '__main__':
    sys.exit(main())
