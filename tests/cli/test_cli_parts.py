"""`zoo list`, `zoo describe`, `zoo plugins` and `zoo config`, run in-process through
``zoo.cli.main.main``: output, one-paragraph errors and exit status (0 ok, 2 usage or config
error, 1 failure at run time).

The parts listed and built here are this module's own test parts, registered in the real
catalogues for the duration of a test; the built-in parts are not relied upon (only that the
``builtin`` plugin loads).
"""
from __future__ import annotations

import re

import pytest
from torch import nn

import registry
from registry import BACKBONES, CATALOGUES, DETECTORS, NECKS, Requires, check_link, discovery
from zoo.cli.main import main

OWNER = __name__.split('.')[0]  # the plugin name of parts defined outside any plugin


class _TestCliBackbone(nn.Module):
    """A test backbone for the command-line tests.

    This second paragraph is not shown by `zoo describe`.
    """

    def __init__(self, depth: int = 3, widths: tuple = (8, 16)):
        super().__init__()
        self.depth = depth
        self.out_channels = tuple(widths)
        self.strides = tuple(2 ** (i + 1) for i in range(len(widths)))
        self.conv = nn.Conv2d(3, widths[0], 3)


class _TestCliNeck(nn.Module):
    """A test neck that checks the backbone's channels."""

    def __init__(self, in_channels, out_channels: int = 4):
        super().__init__()
        self.in_channels = in_channels
        self.out_channels, self.strides = out_channels, (2, 4)

    def consumes(self):
        return [Requires('in_channels', self.in_channels, 'channels')]


class _TestCliDetector(nn.Module):
    """A test detector: a backbone and a neck, checked against each other."""

    def __init__(self, backbone: dict, neck: dict):
        super().__init__()
        self.backbone = registry.build('backbone', backbone, key='backbone')
        self.neck = registry.build('neck', neck, key='neck')
        check_link(self.backbone, self.neck)


class _TestCliExplodingDetector(nn.Module):
    """A detector whose construction fails at run time."""

    def __init__(self):
        super().__init__()
        raise RuntimeError('out of test memory')


TEST_PARTS = [(BACKBONES, _TestCliBackbone), (NECKS, _TestCliNeck),
              (DETECTORS, _TestCliDetector), (DETECTORS, _TestCliExplodingDetector)]


@pytest.fixture(autouse=True)
def test_parts():
    for cat, part in TEST_PARTS:
        cat.register_module(module=part)
    yield
    for cat, part in TEST_PARTS:
        cat._module_dict.pop(part.__name__, None)


def run(capsys, *argv):
    """``zoo *argv`` in-process: (exit status, stdout, stderr)."""
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def write_config(tmp_path, text):
    path = tmp_path / 'test_config.py'
    path.write_text(text)
    return str(path)


GOOD = """
backbone = dict(type='_TestCliBackbone', depth=3)
model = dict(type='_TestCliDetector', backbone=dict(type='_TestCliBackbone', widths=(8, 16)),
             neck=dict(type='_TestCliNeck', in_channels=[8, 16]))
"""


# zoo list ---------------------------------------------------------------------------------------
def test_list_shows_every_kind_and_each_part_with_its_plugin(capsys, monkeypatch):
    monkeypatch.setenv('COLUMNS', '200')  # lines are cut to the terminal's width
    status, out, err = run(capsys, 'list')
    assert status == 0
    for cat in CATALOGUES.values():
        assert re.search(rf'^{cat.kind} \({cat.plural}: \d+\)$', out, re.M), cat.kind
    assert re.search(rf'^  _TestCliBackbone +{OWNER} +A test backbone for the command-line '
                     r'tests$', out, re.M)
    assert 'loss (losses: ' in out and 'losss' not in out


def test_list_one_kind_by_its_name_or_an_alias(capsys):
    status, out, _ = run(capsys, 'list', 'backbones')
    assert status == 0
    assert out.startswith('backbone (backbones: ') and '_TestCliBackbone' in out
    assert 'neck (' not in out and '_TestCliNeck' not in out


def test_list_an_unknown_kind_exits_2_with_one_paragraph(capsys):
    status, out, err = run(capsys, 'list', 'wheels')
    assert status == 2 and out == ''
    assert err == ("zoo list: error: unknown kind of part 'wheels'; the kinds are: "
                   f"{', '.join(CATALOGUES)}\n")


# zoo describe -----------------------------------------------------------------------------------
def test_describe_shows_signature_docstring_plugin_and_source(capsys):
    status, out, _ = run(capsys, 'describe', '_TestCliBackbone')
    assert status == 0
    assert out.startswith('_TestCliBackbone  [backbone]\n')
    assert f'  plugin:    {OWNER}\n' in out
    assert f'  qualified: {OWNER}._TestCliBackbone\n' in out
    assert re.search(r'  source:    \S+test_cli_parts\.py:\d+\n', out)
    assert '_TestCliBackbone(depth: int = 3, widths: tuple = (8, 16))' in out
    assert 'A test backbone for the command-line tests.' in out
    assert 'second paragraph' not in out


def test_describe_by_qualified_name(capsys):
    status, out, _ = run(capsys, 'describe', f'{OWNER}._TestCliNeck')
    assert status == 0 and out.startswith('_TestCliNeck  [neck]')


def test_describe_a_builtin_part_names_the_distribution(capsys):
    builtin = [p for cat in CATALOGUES.values() for p in cat.parts() if p.owner == 'builtin']
    assert builtin, 'the builtin plugin registers the zoo\'s own parts'
    status, out, _ = run(capsys, 'describe', builtin[0].qualified)
    assert status == 0
    assert re.search(r'plugin:    builtin \(distribution detection[-_]zoo \S+\)', out)


def test_describe_an_unknown_name_exits_2_with_a_suggestion(capsys):
    status, out, err = run(capsys, 'describe', '_TestCliBackbon')
    assert status == 2 and out == ''
    assert err.startswith("zoo describe: error: no part named '_TestCliBackbon' is registered; "
                          "did you mean '_TestCliBackbone'")
    assert err.count('\n') == 1


# zoo plugins ------------------------------------------------------------------------------------
def test_plugins_lists_the_builtin_plugin(capsys):
    status, out, _ = run(capsys, 'plugins')
    assert status == 0
    assert re.search(r'^builtin: distribution detection[-_]zoo \S+, module plugins: ok$', out,
                     re.M)
    assert re.search(r'^\d+ plugin\(s\), \d+ failed to import', out, re.M)


# zoo config -------------------------------------------------------------------------------------
def test_config_prints_the_merged_config(tmp_path, capsys):
    status, out, err = run(capsys, 'config', write_config(tmp_path, GOOD))
    assert status == 0, err
    assert "type='_TestCliBackbone'" in out and 'depth=3' in out
    assert "default_scope = 'zoo'" in out


def test_config_merges_cfg_options(tmp_path, capsys):
    status, out, _ = run(capsys, 'config', write_config(tmp_path, GOOD), '--cfg-options',
                         'backbone.depth=7', 'extra.lr=0.5')
    assert status == 0
    assert 'depth=7' in out and 'depth=3' not in out
    assert 'extra = dict(lr=0.5)' in out


def test_config_with_a_misspelled_type_exits_2_with_a_suggestion(tmp_path, capsys):
    path = write_config(tmp_path, GOOD.replace("neck=dict(type='_TestCliNeck'",
                                               "neck=dict(type='_TestCliNek'"))
    status, out, err = run(capsys, 'config', path)
    assert status == 2 and out == ''
    assert err == ("zoo config: error: model.neck.type = '_TestCliNek': no neck of that name is "
                   f"registered; did you mean '_TestCliNeck' (plugin {OWNER})?\n")


def test_a_misspelled_type_given_by_cfg_options_is_caught_too(tmp_path, capsys):
    status, _, err = run(capsys, 'config', write_config(tmp_path, GOOD), '--cfg-options',
                         'backbone.type=_TestCliBackbon')
    assert status == 2 and "did you mean '_TestCliBackbone'" in err


@pytest.mark.parametrize('debug_first', [True, False])
def test_debug_adds_the_traceback(tmp_path, capsys, debug_first):
    path = write_config(tmp_path, "backbone = dict(type='_TestCliBackbon')\n")
    status, _, err = run(capsys, 'config', path)
    assert status == 2 and 'Traceback' not in err
    argv = ['--debug', 'config', path] if debug_first else ['config', path, '--debug']
    status, _, err = run(capsys, *argv)
    assert status == 2
    assert 'Traceback (most recent call last)' in err and 'UnknownPartError' in err
    assert err.rstrip().splitlines()[-1].startswith("zoo config: error: backbone.type = ")


def test_a_missing_config_file_exits_2(tmp_path, capsys):
    status, _, err = run(capsys, 'config', str(tmp_path / 'nope.py'))
    assert status == 2
    assert err == f"zoo config: error: config file '{tmp_path / 'nope.py'}' does not exist\n"


@pytest.mark.parametrize('text, expected', [
    ('model = dict(type=\n', 'cannot be read: SyntaxError'),
    ('x = 1 / 0\n', 'cannot be read: ZeroDivisionError: division by zero'),
    ("_base_ = ['missing_base.py']\n", 'cannot be read: FileNotFoundError'),
])
def test_an_unreadable_config_exits_2_naming_the_file(tmp_path, capsys, text, expected):
    status, _, err = run(capsys, 'config', write_config(tmp_path, text))
    assert status == 2
    assert err.startswith("zoo config: error: config file '") and expected in err


def test_cfg_options_through_a_value_that_is_not_a_dict_exits_2(tmp_path, capsys):
    status, _, err = run(capsys, 'config', write_config(tmp_path, GOOD), '--cfg-options',
                         'backbone.depth.x=1')
    assert status == 2
    assert err == ('zoo config: error: --cfg-options backbone.depth.x=...: backbone.depth holds '
                   "3, not a dict, so it has no key 'x'\n")


@pytest.mark.parametrize('argv', [['lst'], ['config'], [], ['list', 'a', 'b'],
                                  ['config', 'x.py', '--cfg-options', 'novalue']])
def test_usage_errors_exit_2(capsys, argv):
    status, out, err = run(capsys, *argv)
    assert status == 2 and 'usage: zoo' in err


def test_help_exits_0(capsys):
    status, out, _ = run(capsys, '--help')
    assert status == 0 and 'COMMAND' in out


# zoo config --build: assembly checks, failures at run time -----------------------------------
def test_build_runs_the_assembly_checks(tmp_path, capsys):
    status, out, err = run(capsys, 'config', write_config(tmp_path, GOOD), '--build')
    assert status == 0, err
    params = sum(p.numel() for p in _TestCliBackbone().parameters())
    assert f'# model _TestCliDetector built: {params:,} parameters, assembly checks passed' in out


def test_an_assembly_error_exits_2_naming_key_path_value_and_neighbour(tmp_path, capsys):
    path = write_config(tmp_path, GOOD.replace('in_channels=[8, 16]', 'in_channels=[8, 8]'))
    status, out, err = run(capsys, 'config', path, '--build')
    assert status == 2 and out == ''  # built before printing: the error is the only output
    assert err.startswith('zoo config: error: model.neck.in_channels = [8, 8], but '
                          'model.backbone (_TestCliBackbone) produces channels [8, 16]')


def test_build_without_a_model_exits_2(tmp_path, capsys):
    path = write_config(tmp_path, 'x = 1\n')
    status, _, err = run(capsys, 'config', path, '--build')
    assert status == 2 and err == f'zoo config: error: {path} has no `model` to build\n'


def test_a_failure_at_run_time_exits_1_with_one_paragraph(tmp_path, capsys):
    path = write_config(tmp_path, "model = dict(type='_TestCliExplodingDetector')\n")
    status, _, err = run(capsys, 'config', path, '--build')
    assert status == 1
    assert err == ('zoo config: failed: RuntimeError: out of test memory (while building model '
                   '(_TestCliExplodingDetector)) (run again with --debug for the traceback)\n')
    status, _, err = run(capsys, 'config', path, '--build', '--debug')
    assert status == 1 and 'Traceback (most recent call last)' in err



def test_plugins_reports_a_failed_plugin_and_its_traceback_with_debug(capsys, monkeypatch):
    failed = discovery.PluginRecord(
        'acme', 'acme_zoo', 'acme-zoo', '2.0', error='ImportError: libacme.so: cannot open',
        traceback='Traceback (most recent call last):\n  File "acme_zoo/__init__.py"\n'
                  'ImportError: libacme.so: cannot open\n')
    monkeypatch.setattr(discovery, '_records', discovery.discover() + [failed])
    status, out, _ = run(capsys, 'plugins')
    assert status == 0
    assert ('acme: distribution acme-zoo 2.0, module acme_zoo: FAILED\n'
            '  error: ImportError: libacme.so: cannot open\n') in out
    assert 'Traceback' not in out
    assert re.search(r'failed to import \((\w+, )*acme\); the others are loaded', out)
    status, out, _ = run(capsys, 'plugins', '--debug')
    assert status == 0 and '    Traceback (most recent call last):\n' in out
