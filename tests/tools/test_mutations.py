"""The mutation check (tools/mutate.py, docs/testing.md): every planted bug still applies to the
source, and (slow) the tests named for it catch it."""
import importlib.util
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(ROOT, 'tools', 'mutate.py')


def _load():
    spec = importlib.util.spec_from_file_location('zoo_mutate', SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_mutation_pattern_matches_the_source_exactly_once():
    """A refactor that moves or rewrites the mutated code must update tools/mutations.py:
    a pattern that no longer matches would make its planted bug vanish silently."""
    mutate = _load()
    assert mutate.pattern_problems() == []
    names = {m.name for m in mutate.MUTATIONS}
    # the three bugs of the issue that started the mutation check are never dropped
    assert {'rpn_labels_swapped', 'rpn_border_remap_deleted', 'roi_targets_wrong_rois'} <= names


def test_a_stale_pattern_is_reported(tmp_path):
    mutate = _load()
    (tmp_path / 'a.py').write_text('x = 1\nx = 1\n')
    (tmp_path / 't.py').write_text('')
    stale = [mutate.Mutation('twice', 'a.py', 'x = 1', 'x = 2', ('t.py',), ''),
             mutate.Mutation('gone', 'a.py', 'y = 1', 'y = 2', ('t.py',), ''),
             mutate.Mutation('no_test', 'a.py', 'x = 1\nx', 'x = 2\nx', ('missing.py',), '')]
    problems = mutate.pattern_problems(stale, root=str(tmp_path))
    assert len(problems) == 3
    assert 'occurs 2 times' in problems[0] and 'occurs 0 times' in problems[1]
    assert 'missing.py does not exist' in problems[2]


@pytest.mark.slow
def test_every_planted_bug_is_caught():
    """Runs every mutant (minutes): none may survive."""
    proc = subprocess.run([sys.executable, SCRIPT], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
