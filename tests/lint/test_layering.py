"""The layering of the code and its lint, as CI checks them: the import-linter contracts of
pyproject.toml (registry imports nothing of ours; plugins import only registry and zoo.api; a
plugin folder never imports another; zoo never imports plugins; no import cycles in zoo; library
code never imports the CLI) and ruff (rules E, F, W, B). Both run as the installed commands next
to this Python, from the repository root."""
import ast
import os
import subprocess
import sys

import pytest

# tests/lint/, not tests/: a test module directly in tests/ would put tests/ on sys.path, and its
# folders plugins/, registry/ and zoo/ would shadow the packages of the same names.
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _tool(name: str) -> str:
    path = os.path.join(os.path.dirname(sys.executable), name)
    if not os.path.exists(path):
        pytest.fail(f'{name} is not installed next to {sys.executable}: pip install -e ".[test]"')
    return path


def _run(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get('PYTHONPATH', ''))
    return subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def test_import_contracts_are_kept():
    proc = _run(_tool('lint-imports'), '--no-cache')
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert ' 0 broken' in proc.stdout


def test_ruff_passes():
    proc = _run(_tool('ruff'), 'check', '--no-cache', '.')
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]


def test_the_example_plugin_imports_only_registry_and_zoo_api():
    """The example third-party plugin (docs/plugins.md is written from it) is outside the
    import-linter root packages: its imports are checked here."""
    allowed = {'registry', 'zoo.api', 'torch', 'typing', '__future__'}
    folder = os.path.join(ROOT, 'tests', 'fixtures', 'zoo_example_plugin', 'zoo_example_plugin')
    seen = set()
    for name in sorted(os.listdir(folder)):
        if not name.endswith('.py'):
            continue
        with open(os.path.join(folder, name)) as f:
            tree = ast.parse(f.read(), name)
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                modules = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                modules = [node.module]
            else:
                continue
            for module in modules:
                seen.add(module)
                assert module in allowed or module.split('.')[0] in allowed - {'zoo.api'}, \
                    f'{name} imports {module}; a plugin imports only registry and zoo.api of ours'
    assert {'registry', 'zoo.api'} <= seen
