"""Real third-party plugins, installed with pip, found through the entry-point group zoo.plugins.

tests/fixtures/ holds three separately packaged distributions (setuptools, PEP 621):

* ``zoo-example-plugin`` (plugin ``example``): a backbone ``TinyConvNet``, a neck ``TinyNeck``
  (with ``consumes()``, checked against the backbone) and a loss ``ScaledL1Loss``;
* ``zoo-broken-plugin`` (plugin ``broken``): its import fails (a dependency is missing);
* ``zoo-rival-plugin`` (plugin ``rival``): registers ``TinyConvNet`` again.

They are installed for real into one folder (``pip install --no-deps --no-build-isolation
--no-index --target DIR``: offline, with this interpreter's pip and setuptools) and the zoo runs in
two subprocesses with ``DIR`` on ``PYTHONPATH``, exactly as for a user who installed them: the
``zoo`` console script (``zoo plugins``), and a driver that runs the other commands in-process and
builds the parts.
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

FIXTURES = Path(__file__).resolve().parents[1] / 'fixtures'
ZOO = Path(sys.executable).with_name('zoo')  # the console script next to this interpreter


def pip_install(target: Path, *dists: str, work: Path) -> None:
    """Install the fixture distributions ``dists`` into ``target`` (copies are built, so that no
    build/ or *.egg-info folder lands in tests/fixtures)."""
    pytest.importorskip('setuptools', reason='building the fixture plugins needs setuptools')
    pytest.importorskip('pip', reason='installing the fixture plugins needs pip')
    sources = []
    for dist in dists:
        shutil.copytree(FIXTURES / dist, work / dist,
                        ignore=shutil.ignore_patterns('build', '*.egg-info', '__pycache__'))
        sources.append(str(work / dist))
    subprocess.run([sys.executable, '-m', 'pip', 'install', '--quiet', '--no-deps',
                    '--no-build-isolation', '--no-index', '--disable-pip-version-check',
                    '--target', str(target), *sources], check=True, timeout=300)


def subprocess_env(pythonpath: list[Path]) -> dict:
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join([str(p) for p in pythonpath] +
                                        ([env['PYTHONPATH']] if env.get('PYTHONPATH') else []))
    return env


def start(argv: list[str], pythonpath: list[Path]) -> subprocess.Popen:
    """Start ``argv`` in a subprocess that sees ``pythonpath`` (stdout and stderr piped)."""
    return subprocess.Popen(argv, env=subprocess_env(pythonpath), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def finish(proc: subprocess.Popen) -> subprocess.CompletedProcess:
    try:
        out, err = proc.communicate(timeout=300)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


@pytest.fixture(scope='module')
def site(tmp_path_factory) -> Path:
    """One install folder holding the three fixture plugins."""
    site = tmp_path_factory.mktemp('site')
    pip_install(site, 'zoo_example_plugin', 'zoo_broken_plugin', 'zoo_rival_plugin',
                work=tmp_path_factory.mktemp('plugin_sources'))
    return site


# One subprocess runs several commands in-process and reports each as JSON, for speed: starting
# the zoo (torch, the built-in parts) costs seconds, and discovery happens once per process.
DRIVER = textwrap.dedent('''
    import contextlib, io, json, sys, warnings
    warnings.simplefilter('ignore')
    import torch
    import registry
    from zoo.cli.main import main

    results = {}
    for name, argv in json.loads(sys.argv[1]).items():
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            status = main(argv)
        results[name] = [status, out.getvalue(), err.getvalue()]

    net = registry.build('backbone', dict(type='TinyConvNet', widths=(4, 8)), key='backbone')
    feats = net(torch.randn(2, 3, 32, 32))
    qualified = registry.build('backbone', dict(type='example.TinyConvNet'))
    loss = registry.build('loss', dict(type='ScaledL1Loss', scale=2.0), key='loss')
    value = loss(torch.zeros(3, 4), torch.ones(3, 4))
    # the docs' example as written: declared, so a built-in head takes it (and reads that it
    # compares deltas); weighting and avg_factor as every zoo loss (zoo.api.WeightedLoss)
    rpn = registry.build('head', dict(type='RPNHead', in_channels=4, feat_channels=4,
                                      anchor_generator=dict(type='AnchorGenerator', strides=[4],
                                                            sizes=[[8]]),
                                      loss_bbox=dict(type='ScaledL1Loss', scale=2.0)),
                         key='model.rpn_head')
    in_head = [type(rpn.loss_bbox).__name__, rpn.loss_bbox.takes_decoded_boxes,
               float(rpn.loss_bbox(torch.zeros(3, 4), torch.ones(3, 4),
                                   weight=torch.tensor([1.0, 0.0, 1.0]), avg_factor=4.0))]
    results['python'] = dict(
        type=type(net).__module__ + '.' + type(net).__qualname__,
        shapes=[list(f.shape) for f in feats], out_channels=list(net.out_channels),
        strides=list(net.strides), key_path=net._zoo_key_path,
        qualified_same_class=type(qualified) is type(net), loss=float(value),
        loss_path=loss._zoo_key_path, loss_in_head=in_head)
    neck = registry.build('neck', dict(type='TinyNeck', in_channels=[4, 8], in_strides=[2, 4],
                                       out_channels=6), key='neck')
    registry.check_link(net, neck)  # they agree
    results['python']['neck_shapes'] = [list(f.shape) for f in neck(feats)]
    try:
        with registry.key_path('model'):
            backbone = registry.build('backbone', dict(type='TinyConvNet', widths=(4, 8)),
                                      key='backbone')
            neck = registry.build('neck', dict(type='TinyNeck', in_channels=[4, 4]), key='neck',
                                  default_args=dict(in_strides=list(backbone.strides)))
            registry.check_link(backbone, neck)
    except registry.AssemblyError as err:
        results['python']['assembly_error'] = str(err)
    rival = registry.build('backbone', dict(type='rival.TinyConvNet'))
    results['python']['rival'] = [type(rival).__module__, list(rival.out_channels)]
    print(json.dumps(results))
''')

CONFIG = textwrap.dedent('''
    backbone = dict(type='TinyConvNet', widths=(4, 8))
    loss = dict(type='ScaledL1Loss', scale=2.0)
    model = dict(backbone=dict(type='example.TinyConvNet'), loss_bbox=dict(type='ScaledL1Loss'))
''')


@pytest.fixture(scope='module')
def runs(site, tmp_path_factory) -> dict:
    """Two subprocesses, run side by side (each spends seconds importing torch and the parts):
    ``plugins``: ``zoo plugins`` by the installed console script; ``driven``: DRIVER's results
    by command name."""
    folder = tmp_path_factory.mktemp('configs')
    config, bad = folder / 'plugin_config.py', folder / 'bad_config.py'
    config.write_text(CONFIG)
    bad.write_text(CONFIG.replace("type='TinyConvNet'", "type='TinyConvNt'"))
    commands = {'list': ['list'], 'list_loss': ['list', 'loss'],
                'describe': ['describe', 'TinyConvNet'],
                'describe_loss': ['describe', 'example.ScaledL1Loss'],
                'describe_rival': ['describe', 'rival.TinyConvNet'],
                'config': ['config', str(config), '--cfg-options', 'loss.scale=3.0'],
                'bad': ['config', str(bad)]}
    zoo_cmd = [str(ZOO)] if ZOO.exists() else [sys.executable, '-m', 'zoo.cli.main']
    plugins = start(zoo_cmd + ['plugins'], [site])
    driver = start([sys.executable, '-c', DRIVER, json.dumps(commands)], [site])
    plugins, driver = finish(plugins), finish(driver)
    assert driver.returncode == 0, driver.stderr
    return dict(plugins=plugins, driven=json.loads(driver.stdout.strip().splitlines()[-1]))


@pytest.fixture
def plugins_cmd(runs) -> subprocess.CompletedProcess:
    return runs['plugins']


@pytest.fixture
def driven(runs) -> dict:
    return runs['driven']


REFUSAL = ("backbone 'TinyConvNet' is already registered by plugin 'example' "
           "(zoo_example_plugin.tiny_conv_net.TinyConvNet); the registration by plugin 'rival' "
           "(zoo_rival_plugin.TinyConvNet) is refused. Reach it by its qualified name "
           "'rival.TinyConvNet'.")


def test_zoo_plugins_reports_the_broken_plugin_and_the_others_work(plugins_cmd):
    proc = plugins_cmd
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert re.search(r'^builtin: distribution detection[-_]zoo \S+, module plugins: ok$', out, re.M)
    assert ('broken: distribution zoo_broken_plugin 0.0.7, module zoo_broken_plugin: FAILED\n'
            "  error: ModuleNotFoundError: No module named 'zoo_broken_plugin_cuda_ops'\n") in out
    assert ('example: distribution zoo_example_plugin 0.3.1, module zoo_example_plugin: ok\n'
            '  backbone: TinyConvNet\n  neck: TinyNeck\n  loss: ScaledL1Loss\n') in out
    assert re.search(r'failed to import \((\w+, )*broken(, \w+)*\); the others are loaded', out)
    # the failure is also one line on stderr, with distribution, version and error
    assert ("zoo: warning: zoo plugin 'broken' (distribution zoo_broken_plugin 0.0.7, module "
            "zoo_broken_plugin) failed to import: ModuleNotFoundError: No module named "
            "'zoo_broken_plugin_cuda_ops'\n") in proc.stderr
    assert 'Traceback' not in proc.stderr


def test_zoo_plugins_reports_a_refused_duplicate_naming_both_owners(plugins_cmd):
    # the rival sorts after the example (by distribution name), so the example keeps the name,
    # whatever the order of sys.path or of the install folder's listing
    out = plugins_cmd.stdout
    assert ('rival: distribution zoo_rival_plugin 1.0.0, module zoo_rival_plugin: ok\n'
            '  backbone: rival.TinyConvNet\n'
            f'  refused: {REFUSAL}\n') in out
    assert f'zoo: warning: {REFUSAL}\n' in plugins_cmd.stderr


def test_zoo_list_shows_the_plugin_parts_with_their_plugin(driven):
    status, out, _ = driven['list']
    assert status == 0
    assert re.search(r'^  TinyConvNet +example +A tiny conv backbone', out, re.M)
    assert re.search(r'^  rival\.TinyConvNet +rival +The rival TinyConvNet', out, re.M)
    assert re.search(r'^  ScaledL1Loss +example +L1 loss of matched pairs', out, re.M)
    status, out, _ = driven['list_loss']
    assert status == 0 and re.search(r'^  ScaledL1Loss +example', out, re.M)
    assert 'backbone (' not in out


def test_zoo_describe_shows_plugin_distribution_signature_and_source(driven):
    status, out, _ = driven['describe']
    assert status == 0
    assert out.startswith('TinyConvNet  [backbone]\n'
                          '  plugin:    example (distribution zoo_example_plugin 0.3.1)\n'
                          '  qualified: example.TinyConvNet\n')
    assert re.search(r'  source:    \S+zoo_example_plugin[/\\]tiny_conv_net\.py:\d+', out)
    assert '  also:      rival.TinyConvNet (plugin rival; its short name was refused)' in out
    assert 'TinyConvNet(widths: tuple[int, ...] = (8, 16), in_channels: int = 3)' in out
    assert 'A tiny conv backbone: one 3x3 conv + ReLU stage per level' in out
    status, out, _ = driven['describe_loss']
    assert status == 0 and out.startswith('ScaledL1Loss  [loss]\n  plugin:    example')
    status, out, _ = driven['describe_rival']
    assert status == 0
    assert out.startswith('rival.TinyConvNet  [backbone]  (short name refused: reachable by its '
                          'qualified name only)\n  plugin:    rival (distribution '
                          'zoo_rival_plugin 1.0.0)\n')


def test_zoo_config_validates_a_config_naming_the_plugin_parts(driven):
    status, out, err = driven['config']
    assert status == 0, err
    assert "type='example.TinyConvNet'" in out and 'scale=3.0' in out
    status, out, err = driven['bad']
    assert status == 2
    assert ("zoo config: error: backbone.type = 'TinyConvNt': no backbone of that name is "
            "registered; did you mean 'TinyConvNet' (plugin example), 'rival.TinyConvNet' "
            "(plugin rival)?") in err


def test_the_plugin_parts_build_and_run(driven):
    py = driven['python']
    assert py['type'] == 'zoo_example_plugin.tiny_conv_net.TinyConvNet'
    assert py['shapes'] == [[2, 4, 16, 16], [2, 8, 8, 8]]
    assert (py['out_channels'], py['strides']) == ([4, 8], [2, 4])
    assert py['key_path'] == 'backbone' and py['loss_path'] == 'loss'
    assert py['qualified_same_class'] is True  # example.TinyConvNet is the same part
    assert py['loss'] == pytest.approx(2.0)
    assert py['loss_in_head'][:2] == ['ScaledL1Loss', False]
    assert py['loss_in_head'][2] == pytest.approx(2.0 * 8 / 4)  # scale * weighted sum / avg_factor
    assert py['rival'] == ['zoo_rival_plugin', [4]]  # the refused one, by its qualified name


def test_the_plugin_neck_declares_what_it_consumes_and_is_checked(driven):
    py = driven['python']
    assert py['neck_shapes'] == [[2, 6, 16, 16], [2, 6, 8, 8]]
    assert py['assembly_error'] == (
        'model.neck.in_channels = [4, 4], but model.backbone (TinyConvNet) produces channels '
        '[4, 8]. model.backbone (TinyConvNet) produces channels [4, 8] at strides [2, 4].')
