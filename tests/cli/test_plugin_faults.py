"""Faulty third-party plugins, installed with pip, each refused or reported on its own.

tests/fixtures/ holds the distributions (setuptools, PEP 621), installed for real into one
folder put on ``PYTHONPATH`` of two subprocesses (the ``zoo`` console script, and a driver that
runs several commands in-process and inspects the catalogues):

* ``zoo-lying-plugin`` (plugin ``lying``): ``LyingChannelsNet`` declares 256 channels and
  produces 128; ``LyingStrideNet`` declares stride 16 and produces stride 8. A detector built on
  either is refused by ``zoo config --build`` and ``zoo train`` (exit 2), with both values.
* ``zoo-half-plugin`` (plugin ``half``): registers a backbone and a loss, then fails to import.
  Nothing of it stays registered.
* ``zoo-exit-plugin`` (plugin ``exiting``): writes to stderr and calls ``sys.exit`` at import.
* ``zoo-argparse-plugin`` (plugin ``argparsing``): parses the command line at import; it loads,
  as it does not see the zoo's own arguments.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / 'tests' / 'fixtures'
ZOO = Path(sys.executable).with_name('zoo')  # the console script next to this interpreter
DISTRIBUTIONS = ('zoo_lying_plugin', 'zoo_half_plugin', 'zoo_exit_plugin', 'zoo_argparse_plugin')


def pip_install(target: Path, work: Path) -> None:
    """Install the fixture distributions into ``target`` with one pip run (offline, no build
    isolation; copies are built, so that no build/ or *.egg-info lands in tests/fixtures)."""
    pytest.importorskip('setuptools', reason='building the fixture plugins needs setuptools')
    pytest.importorskip('pip', reason='installing the fixture plugins needs pip')
    sources = []
    for dist in DISTRIBUTIONS:
        shutil.copytree(FIXTURES / dist, work / dist,
                        ignore=shutil.ignore_patterns('build', '*.egg-info', '__pycache__'))
        sources.append(str(work / dist))
    subprocess.run([sys.executable, '-m', 'pip', 'install', '--quiet', '--no-deps',
                    '--no-build-isolation', '--no-index', '--disable-pip-version-check',
                    '--target', str(target), *sources], check=True, timeout=300)


def start(argv: list[str], site: Path, cwd: Path) -> subprocess.Popen:
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join([str(site), str(ROOT)] + (
        [env['PYTHONPATH']] if env.get('PYTHONPATH') else []))
    env.pop('ZOO_HALF_PLUGIN_LICENSE_KEY', None)  # the half plugin must fail
    return subprocess.Popen(argv, env=env, cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def finish(proc: subprocess.Popen) -> subprocess.CompletedProcess:
    try:
        out, err = proc.communicate(timeout=300)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


# Runs the commands given as JSON in-process (discovery happens once), then looks into the
# catalogues; prints one JSON line.
DRIVER = textwrap.dedent('''
    import contextlib, io, json, sys
    import registry
    from zoo.cli.main import main

    results = {}
    for name, argv in json.loads(sys.argv[1]).items():
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            status = main(argv)
        results[name] = [status, out.getvalue(), err.getvalue()]
    results['lookups'] = {name: repr(registry.catalogue(kind).get(name)) for kind, name in [
        ('backbone', 'HalfNet'), ('backbone', 'half.HalfNet'), ('loss', 'HalfLoss'),
        ('backbone', 'ExitNet'), ('backbone', 'exiting.ExitNet'),
        ('backbone', 'LyingChannelsNet')]}
    results['owners'] = sorted({p.owner for c in registry.CATALOGUES.values() for p in c.parts()})
    print(json.dumps(results))
''')

LYING = textwrap.dedent('''
    _base_ = [{base!r}]
    model = dict(backbone=dict(_delete_=True, type={backbone!r}))
''')


@pytest.fixture(scope='module')
def runs(tmp_path_factory) -> dict:
    site = tmp_path_factory.mktemp('site')
    pip_install(site, tmp_path_factory.mktemp('plugin_sources'))
    folder = tmp_path_factory.mktemp('elsewhere')  # not the repository: cwd of both runs
    base = str(ROOT / 'configs' / 'faster_rcnn' / 'faster_rcnn_zf_bccd.py')
    for name in ('LyingChannelsNet', 'LyingStrideNet', 'HalfNet'):  # (a file named like a part
        # would be imported by mmengine's registry lookup, the folder being the driver's cwd)
        (folder / f'on_{name}.py').write_text(LYING.format(base=base, backbone=name))
    commands = {
        'plugins': ['plugins'],
        'channels': ['config', str(folder / 'on_LyingChannelsNet.py'), '--build'],
        'stride': ['config', str(folder / 'on_LyingStrideNet.py'), '--build'],
        'train': ['train', str(folder / 'on_LyingStrideNet.py'), '--work-dir', str(folder / 'wd')],
        'half': ['config', str(folder / 'on_HalfNet.py')],
    }
    zoo_cmd = [str(ZOO)] if ZOO.exists() else [sys.executable, '-m', 'zoo.cli.main']
    listing = start(zoo_cmd + ['list', 'backbone'], site, folder)
    driver = start([sys.executable, '-c', DRIVER, json.dumps(commands)], site, folder)
    listing, driver = finish(listing), finish(driver)
    assert driver.returncode == 0, driver.stderr
    results = json.loads(driver.stdout.strip().splitlines()[-1])
    results['list'] = listing
    results['work_dir'] = folder / 'wd'
    return results


PROBE = 'measured by a probe forward of a 1x3x64x96 input on the meta device'


def test_a_backbone_lying_about_its_channels_is_refused_at_build(runs):
    status, out, err = runs['channels']
    assert status == 2 and out == ''
    assert ('zoo config: error: model.backbone.out_channels = [256], but model.backbone '
            f'(LyingChannelsNet) produces [128] channels ({PROBE}).') in err


def test_a_backbone_lying_about_its_stride_is_refused_at_build_and_before_training(runs):
    status, out, err = runs['stride']
    assert status == 2 and out == ''
    assert ('zoo config: error: model.backbone.strides = [16], but model.backbone '
            f'(LyingStrideNet) produces strides [8] ({PROBE}).') in err
    status, out, err = runs['train']
    assert status == 2
    assert ('zoo train: error: model.backbone.strides = [16], but model.backbone '
            '(LyingStrideNet) produces strides [8]') in err
    assert not any(runs['work_dir'].glob('**/*.pth'))  # no step was taken


def test_a_half_imported_plugin_registers_nothing(runs):
    lookups = runs['lookups']
    assert lookups['LyingChannelsNet'] == "<class 'zoo_lying_plugin.LyingChannelsNet'>"
    assert [lookups[n] for n in ('HalfNet', 'half.HalfNet', 'HalfLoss')] == ['None'] * 3, lookups
    assert 'half' not in runs['owners'] and 'exiting' not in runs['owners']
    assert 'argparsing' in runs['owners']
    status, out, _ = runs['plugins']
    assert status == 0
    assert ('half: distribution zoo_half_plugin 0.2.0, module zoo_half_plugin: FAILED\n'
            "  error: KeyError: 'ZOO_HALF_PLUGIN_LICENSE_KEY'\n") in out


def test_the_not_registered_error_names_the_failed_plugins(runs):
    status, _, err = runs['half']
    assert status == 2
    assert ("model.backbone.type = 'HalfNet': no backbone of that name is registered" in err)
    assert ("Plugins that failed to import (their parts are not registered): exiting (SystemExit: "
            "3 (the plugin exited while it was being imported); it wrote: zoo_exit_plugin: no "
            "CUDA device found, giving up), half (KeyError: 'ZOO_HALF_PLUGIN_LICENSE_KEY'). See "
            "`zoo plugins`.") in err


def test_a_plugin_calling_sys_exit_is_reported_and_zoo_list_works(runs):
    status, out, _ = runs['plugins']
    assert ('exiting: distribution zoo_exit_plugin 0.0.1, module zoo_exit_plugin: FAILED\n'
            '  error: SystemExit: 3 (the plugin exited while it was being imported); it wrote: '
            'zoo_exit_plugin: no CUDA device found, giving up\n') in out
    assert '2 failed to import (exiting, half); the others are loaded' in out
    listing = runs['list']  # the console script, with its own arguments in sys.argv
    assert listing.returncode == 0, listing.stderr
    assert 'LyingChannelsNet' in listing.stdout and 'ZFNet' in listing.stdout
    assert 'HalfNet' not in listing.stdout and 'ExitNet' not in listing.stdout
    assert ("zoo: warning: zoo plugin 'exiting' (distribution zoo_exit_plugin 0.0.1, module "
            "zoo_exit_plugin) failed to import: SystemExit: 3 (the plugin exited while it was "
            "being imported); it wrote: zoo_exit_plugin: no CUDA device found, giving up\n"
            ) in listing.stderr
    assert listing.stderr.count('giving up') == 1  # held back, then quoted once


def test_a_plugin_parsing_the_command_line_at_import_does_not_see_the_zoos_arguments(runs):
    listing = runs['list']  # `zoo list backbone`: argparse would refuse 'list backbone'
    assert 'argparsing' not in listing.stderr and 'usage:' not in listing.stderr
    assert re.search(r'^  ArgparseNet +argparsing +A backbone registered after', listing.stdout,
                     re.M)
    status, out, _ = runs['plugins']
    assert ('argparsing: distribution zoo_argparse_plugin 0.0.2, module zoo_argparse_plugin: ok\n'
            '  backbone: ArgparseNet\n') in out
