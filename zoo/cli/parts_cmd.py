"""``zoo list [KIND]``, ``zoo describe NAME`` and ``zoo plugins``: what parts are installed."""
from __future__ import annotations

import inspect
import re
import shutil


def add_parsers(sub, common) -> None:
    p = sub.add_parser('list', parents=[common], help='list registered parts, grouped by kind')
    p.add_argument('kind', nargs='?', help='only this kind, e.g. backbone, loss, anchors')
    p.set_defaults(func=run_list)
    p = sub.add_parser('describe', parents=[common],
                       help='signature, docstring, plugin and source of a part')
    p.add_argument('name', help='a part name, short (ResNet) or qualified (builtin.ResNet)')
    p.set_defaults(func=run_describe)
    p = sub.add_parser('plugins', parents=[common],
                       help='installed plugin distributions, what each registered, failures',
                       description='List the plugins (entry points of the group zoo.plugins): '
                                   'distribution, version, the parts each registered, the names '
                                   'refused as duplicates, and the import error of each plugin '
                                   'that failed (with --debug, its traceback).')
    p.set_defaults(func=run_plugins)


def _summary(obj) -> str:
    """The first sentence of the docstring."""
    doc = inspect.getdoc(obj) or ''
    first = doc.strip().split('\n\n')[0].replace('\n', ' ')
    return re.split(r'(?<!\.)\.\s+(?=[A-Z`(\[])', first)[0].rstrip('.')


def _first_paragraph(obj) -> str:
    doc = inspect.getdoc(obj) or '(no docstring)'
    return doc.strip().split('\n\n')[0]


def _signature(obj, name: str) -> str:
    """``Name(a, b=1, ...)`` with annotations as written; one parameter a line when long."""
    try:
        params = list(inspect.signature(obj).parameters.values())
    except (TypeError, ValueError):
        return f'{name}(...)'
    shown = []
    for i, p in enumerate(params):
        if p.kind is p.KEYWORD_ONLY and (i == 0 or params[i - 1].kind is p.POSITIONAL_OR_KEYWORD
                                         or params[i - 1].kind is p.POSITIONAL_ONLY):
            shown.append('*')  # what follows is keyword-only
        text = {p.VAR_POSITIONAL: '*', p.VAR_KEYWORD: '**'}.get(p.kind, '') + p.name
        if p.annotation is not p.empty:
            ann = p.annotation if isinstance(p.annotation, str) else \
                inspect.formatannotation(p.annotation)
            text += f': {ann}'
        if p.default is not p.empty:
            text += f' = {p.default!r}' if p.annotation is not p.empty else f'={p.default!r}'
        shown.append(text)
    one_line = f'{name}({", ".join(shown)})'
    if len(one_line) <= 100:
        return one_line
    return f'{name}(\n' + ''.join(f'    {t},\n' for t in shown) + ')'


def run_list(args) -> int:
    from registry import CATALOGUES, catalogue

    cats = [catalogue(args.kind)] if args.kind else list(CATALOGUES.values())
    width = shutil.get_terminal_size((100, 20)).columns
    for cat in cats:
        parts = cat.parts(include_shadowed=True)
        print(f'{cat.kind} ({cat.plural}: {len(parts)})')
        if not parts:
            print('  (none registered)')
        name_w = max([len(p.qualified if p.shadowed else p.name) for p in parts] + [4])
        owner_w = max([len(p.owner) for p in parts] + [6])
        for p in parts:
            name = p.qualified if p.shadowed else p.name
            line = f'  {name:<{name_w}}  {p.owner:<{owner_w}}  {_summary(p.obj)}'
            print(line if len(line) <= width else line[:width - 3] + '...')
        print()
    return 0


def run_describe(args) -> int:
    from registry import CATALOGUES, UnknownPartError, suggest
    from registry.discovery import records

    found = []
    for cat in CATALOGUES.values():
        obj = cat.get(args.name)
        if obj is not None and any(p.obj is obj for p in cat.parts(include_shadowed=True)):
            found.append((cat, obj))
    if not found:
        hits = suggest(args.name)
        raise UnknownPartError(f'no part named {args.name!r} is registered' +
                               (f'; did you mean {", ".join(map(repr, hits))}?' if hits else
                                '; `zoo list` shows them all'))
    versions = {r.name: (r.distribution, r.version) for r in records()}
    for cat, obj in found:
        same = [p for p in cat.parts(include_shadowed=True) if p.obj is obj]
        info = next((p for p in same if args.name in (p.name, p.qualified)), same[0])
        dist, version = versions.get(info.owner, (None, None))
        try:
            source = f'{inspect.getsourcefile(obj)}:{inspect.getsourcelines(obj)[1]}'
        except (TypeError, OSError):
            source = '(source not available)'
        print(f'{info.qualified if info.shadowed else info.name}  [{cat.title}]'
              + ('  (short name refused: reachable by its qualified name only)'
                 if info.shadowed else ''))
        print(f'  plugin:    {info.owner}' + (f' (distribution {dist} {version})' if dist else ''))
        print(f'  qualified: {info.qualified}')
        print(f'  source:    {source}')
        for other in cat.parts(include_shadowed=True):
            if other.name == info.name and other.obj is not obj:
                note = ('its short name was refused' if other.shadowed else
                        f'has the short name {other.name}')
                print(f'  also:      {other.qualified} (plugin {other.owner}; {note})')
        print(f'\n{_signature(obj, info.name)}\n')
        print(_first_paragraph(obj))
        print()
    return 0


def run_plugins(args) -> int:
    from registry import CATALOGUES
    from registry.discovery import records

    recs = records()
    if not recs:
        print('no plugin is installed (entry-point group zoo.plugins is empty)')
        return 0
    for rec in recs:
        status = 'ok' if rec.ok else 'FAILED'
        print(f'{rec.name}: distribution {rec.distribution} {rec.version}, module {rec.module}: {status}')
        if not rec.ok:
            print(f'  error: {rec.error}')
            if getattr(args, 'debug', False) and rec.traceback:
                print(''.join(f'    {line}\n' for line in rec.traceback.rstrip().splitlines()))
            continue
        for cat in CATALOGUES.values():
            names = [p.qualified if p.shadowed else p.name
                     for p in cat.parts(include_shadowed=True) if p.owner == rec.name]
            if names:
                print(f'  {cat.kind}: {", ".join(names)}')
        for conflict in rec.conflicts:
            print(f'  refused: {conflict}')
    failed = [r for r in recs if not r.ok]
    print(f'\n{len(recs)} plugin(s), {len(failed)} failed to import'
          + (f' ({", ".join(r.name for r in failed)}); the others are loaded' if failed else ''))
    return 0
