"""Every unknown ``type`` and every unexpected constructor argument of a config is reported by one
run of ``zoo config`` (exit status 2), each with its key path."""
from __future__ import annotations

import textwrap

import pytest

import registry
from registry import ConfigError, UnknownPartError
from zoo.cli.main import main
from zoo.config import load_config

TYPOS = textwrap.dedent('''
    _base_ = 'zoo::faster_rcnn/faster_rcnn_zf_bccd.py'
    model = dict(backbone=dict(type='ZFNte'),
                 rpn_head=dict(loss_cls=dict(type='CrossEntropyLos')),
                 roi_head=dict(bbox_head=dict(fc_out_channel=512)))
''')


def test_three_typos_are_reported_in_one_run(tmp_path, capsys):
    path = tmp_path / 'typos.py'
    path.write_text(TYPOS)
    assert main(['config', str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ''
    lines = captured.err.splitlines()
    assert lines[0] == 'zoo config: error: 3 problems in the config:'
    assert lines[1] == ("  - model.backbone.type = 'ZFNte': no backbone of that name is registered; "
                        "did you mean 'ZFNet' (plugin builtin)?")
    assert lines[2] == ("  - model.rpn_head.loss_cls.type = 'CrossEntropyLos': no loss of that name "
                        "is registered; did you mean 'CrossEntropyLoss' (plugin builtin)?")
    assert lines[3].startswith("  - model.roi_head.bbox_head (Shared2FCBBoxHead): unexpected "
                               "argument 'fc_out_channel' (did you mean 'fc_out_channels'?); "
                               "Shared2FCBBoxHead accepts: num_classes, in_channels=256, ")
    assert len(lines) == 4


def test_unknown_types_alone_raise_unknown_part_error_and_arguments_config_error(tmp_path):
    path = tmp_path / 'typos.py'
    path.write_text(TYPOS)
    tree = load_config(str(path)).to_dict()
    del tree['model']['roi_head']['bbox_head']['fc_out_channel']
    with pytest.raises(UnknownPartError, match=r'^2 problems in the config:\n  - model\.backbone'):
        registry.validate_types(tree)
    tree['model']['backbone']['type'] = 'ZFNet'
    tree['model']['rpn_head']['loss_cls']['type'] = 'CrossEntropyLoss'
    tree['model']['backbone']['depth'] = 16  # ZFNet has no depth
    with pytest.raises(ConfigError, match=r"^model\.backbone \(ZFNet\): unexpected argument 'depth'"
                       ) as info:
        registry.validate_types(tree)
    assert not isinstance(info.value, UnknownPartError)
