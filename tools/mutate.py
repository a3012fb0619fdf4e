"""Mutation check: plant known bugs in a scratch copy of the tree and see whether the tests catch them.

Usage (from the repository root)::

    python tools/mutate.py                  # every mutation of tools/mutations.py
    python tools/mutate.py rpn_labels_swapped roi_targets_wrong_rois   # some of them
    python tools/mutate.py --check          # only check that every pattern still matches once
    python tools/mutate.py --list

For each mutation the tracked and untracked (not ignored) files of the repository are copied to
a temporary directory (``data/`` is linked, not copied), the exact text ``old`` is replaced by
``new`` in one file, and only the test files the mutation names run there (``pytest -x``, the
default markers, the copy first on ``PYTHONPATH``). A mutation is *killed* when those tests
fail, *survived* when they pass. The working tree is never written.

Exit status: 0 when every mutation was killed; 1 when one survived or the unmutated tests fail
(baseline); 2 when a pattern does not occur exactly once in its file (the mutation list is out
of date with the source: update it, never delete a mutation to make this pass) or an unknown
mutation name is given.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from mutations import MUTATIONS, Mutation  # noqa: E402


def pattern_problems(mutations=MUTATIONS, root: str = ROOT) -> list[str]:
    """One line per mutation whose ``old`` text does not occur exactly once in its file, whose
    replacement is a no-op, or whose test files are missing; names must be unique."""
    problems, names = [], set()
    for m in mutations:
        if m.name in names:
            problems.append(f'{m.name}: the name is used twice')
        names.add(m.name)
        path = os.path.join(root, m.path)
        if not os.path.isfile(path):
            problems.append(f'{m.name}: {m.path} does not exist')
            continue
        with open(path, encoding='utf-8') as f:
            count = f.read().count(m.old)
        if count != 1:
            problems.append(f'{m.name}: the pattern occurs {count} times in {m.path} '
                            f'(expected exactly once): {m.old!r}')
        if m.old == m.new:
            problems.append(f'{m.name}: old and new are the same text')
        for test in m.tests:
            if not os.path.isfile(os.path.join(root, test.split('::')[0])):
                problems.append(f'{m.name}: test file {test} does not exist')
    return problems


def _tree_files(root: str) -> list[str]:
    out = subprocess.run(['git', 'ls-files', '--cached', '--others', '--exclude-standard', '-z'],
                         cwd=root, check=True, capture_output=True).stdout.decode()
    return [f for f in out.split('\0') if f and os.path.isfile(os.path.join(root, f))]


def make_copy(root: str, dest: str) -> None:
    """Copy the repository's files (tracked and untracked, not ignored) to ``dest``; ``data``
    is a symbolic link to the original (read only by the tests)."""
    for rel in _tree_files(root):
        if rel.split('/', 1)[0] == 'data':
            continue
        target = os.path.join(dest, rel)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copy2(os.path.join(root, rel), target)
    if os.path.isdir(os.path.join(root, 'data')):
        os.symlink(os.path.join(root, 'data'), os.path.join(dest, 'data'))


def apply(m: Mutation, tree: str) -> None:
    path = os.path.join(tree, m.path)
    with open(path, encoding='utf-8') as f:
        text = f.read()
    if text.count(m.old) != 1:
        raise SystemExit(f'{m.name}: pattern no longer matches exactly once in {m.path}')
    with open(path, 'w', encoding='utf-8') as f:
        f.write(text.replace(m.old, m.new))


def run_tests(tree: str, tests, timeout: float) -> tuple[int, str]:
    """(pytest's exit status, its last lines) for ``tests`` run inside ``tree``."""
    env = dict(os.environ, PYTHONPATH=tree + os.pathsep + os.environ.get('PYTHONPATH', ''),
               PYTHONDONTWRITEBYTECODE='1')
    cmd = [sys.executable, '-m', 'pytest', '-x', '-q', '-p', 'no:cacheprovider', *tests]
    try:
        proc = subprocess.run(cmd, cwd=tree, env=env, capture_output=True, text=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        return -1, 'timed out'
    lines = (proc.stdout + proc.stderr).strip().splitlines()
    failed = [line for line in lines if line.startswith(('FAILED', 'ERROR'))]
    return proc.returncode, ' | '.join(failed[:2] or lines[-3:])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('names', nargs='*', help='mutations to run (default: all)')
    p.add_argument('--check', action='store_true', help='only check the patterns')
    p.add_argument('--list', action='store_true', help='list the mutations')
    p.add_argument('--no-baseline', action='store_true',
                   help='skip running the selected tests on the unmutated copy first')
    p.add_argument('--timeout', type=float, default=900, help='seconds per test run')
    args = p.parse_args(argv)

    if args.list:
        for m in MUTATIONS:
            print(f'{m.name:40s} {m.path}: {m.why}')
        return 0
    problems = pattern_problems()
    if problems:
        print('mutation patterns out of date with the source:', *problems, sep='\n  ')
        return 2
    if args.check:
        print(f'{len(MUTATIONS)} mutation patterns each match exactly once')
        return 0
    by_name = {m.name: m for m in MUTATIONS}
    unknown = [n for n in args.names if n not in by_name]
    if unknown:
        print(f'unknown mutation(s) {unknown}; see --list', file=sys.stderr)
        return 2
    selected = [by_name[n] for n in args.names] if args.names else MUTATIONS

    with tempfile.TemporaryDirectory(prefix='zoo-mutants-') as tmp:
        pristine = os.path.join(tmp, 'pristine')
        make_copy(ROOT, pristine)
        if not args.no_baseline:
            tests = sorted({t for m in selected for t in m.tests})
            rc, tail = run_tests(pristine, tests, args.timeout)
            if rc != 0:
                print(f'baseline: the tests fail without any mutation (status {rc}): {tail}')
                return 1
            print(f'baseline: {len(tests)} test file(s) pass unmutated')
        survived = []
        for m in selected:
            tree = os.path.join(tmp, m.name)
            shutil.copytree(pristine, tree, symlinks=True)
            apply(m, tree)
            start = time.monotonic()
            rc, tail = run_tests(tree, m.tests, args.timeout)
            verdict = 'survived' if rc == 0 else 'killed'
            if rc == 0:
                survived.append(m.name)
            print(f'{verdict:8s} {m.name:40s} ({time.monotonic() - start:5.1f} s) {m.why}'
                  + ('' if rc == 0 else f'\n         {tail[:400]}')
                  + ('' if rc in (0, 1) else f'  [pytest status {rc}]'), flush=True)
            shutil.rmtree(tree)
    print(f'{len(selected) - len(survived)} killed, {len(survived)} survived'
          + (f': {", ".join(survived)}' if survived else ''))
    return 1 if survived else 0


if __name__ == '__main__':
    sys.exit(main())
