"""``zoo list [KIND]``, ``zoo describe NAME`` and ``zoo plugins``: what parts are installed."""
from __future__ import annotations

import inspect
import re
import shutil
import textwrap


def add_parsers(sub, common) -> None:
    p = sub.add_parser('list', parents=[common], help='list registered parts, grouped by kind')
    p.add_argument('kind', nargs='?', help='only this kind, e.g. backbone, loss, anchors')
    p.set_defaults(func=run_list)
    p = sub.add_parser('describe', parents=[common],
                       help='signature, arguments with their documentation, plugin and source '
                            'of a part')
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


_SECTION = re.compile(r'^(\s*)(Args|Arguments|Parameters|Keyword Args|Keyword Arguments):\s*$')
_ENTRY = re.compile(r'^([\w*][\w*, ]*?)\s*(\([^)]*\))?\s*:\s*(.*)$')


def _documented_args(obj) -> dict[str, str]:
    """The ``Args:`` section (Google style) of the docstrings of ``obj`` and of its
    ``__init__``, then of its base classes (a subclass that documents only what it adds):
    argument name -> its text, continuation lines joined. An entry may name several arguments
    (``data_preprocessor, init_cfg: see ...``); ``name (type): text`` works."""
    docs = []
    for cls in (obj.__mro__[:-1] if isinstance(obj, type) else (obj,)):
        docs.append(cls.__doc__ or '')
        init = vars(cls).get('__init__') if isinstance(cls, type) else None
        if init is not None:
            docs.append(init.__doc__ or '')
    docs = [inspect.cleandoc(d) for d in docs if d]
    out: dict[str, str] = {}
    for doc in docs:
        lines, i = doc.splitlines(), 0
        while i < len(lines):
            header = _SECTION.match(lines[i])
            i += 1
            if not header:
                continue
            base, entry_indent, names = len(header.group(1)), None, None
            while i < len(lines):
                line = lines[i]
                indent = len(line) - len(line.lstrip())
                if line.strip() and indent <= base:
                    break  # the next section
                if line.strip():
                    match = _ENTRY.match(line.strip())
                    if (entry_indent is None or indent <= entry_indent) and match:
                        entry_indent = indent
                        names = [n.strip().lstrip('*') for n in match.group(1).split(',')]
                        # a subclass's text wins, unless it only refers to a base class's
                        names = [n for n in names if n not in out or out[n].startswith('see ')]
                        for n in names:
                            out[n] = match.group(3).strip()
                    elif names:
                        for n in names:
                            out[n] = (out[n] + ' ' + line.strip()).strip()
                i += 1
    return out


def _arguments(obj) -> list[str]:
    """One entry per constructor argument: ``name: annotation = default`` and, indented, its
    documentation from the docstring's ``Args:`` section (or ``(not documented)``)."""
    try:
        params = list(inspect.signature(obj).parameters.values())
    except (TypeError, ValueError):
        return []
    docs = _documented_args(obj)
    out = []
    for p in params:
        head = {p.VAR_POSITIONAL: '*', p.VAR_KEYWORD: '**'}.get(p.kind, '') + p.name
        if p.annotation is not p.empty:
            head += ': ' + (p.annotation if isinstance(p.annotation, str)
                            else inspect.formatannotation(p.annotation))
        if p.default is not p.empty:
            head += f' = {p.default!r}'
        elif p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY):
            head += '  (required)'
        text = docs.get(p.name, '(not documented)')
        out.append(f'  {head}\n' + ''.join(f'      {line}\n' for line in textwrap.wrap(text, 90)))
    return out


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
        arguments = _arguments(obj)
        if arguments:
            print('\nArguments:')
            print(''.join(arguments), end='')
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
