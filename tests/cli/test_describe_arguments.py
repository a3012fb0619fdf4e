"""``zoo describe`` prints every constructor argument with its default and its documentation from
the docstring's ``Args:`` section (a base class's, for what a subclass does not document)."""
from __future__ import annotations

from zoo.cli.main import main


def test_describe_prints_the_arguments_with_their_documentation(capsys):
    assert main(['describe', 'CrossEntropyLoss']) == 0
    out = capsys.readouterr().out
    args = out[out.index('\nArguments:\n'):]
    assert ('  use_sigmoid: bool = False\n      False: softmax over C classes (background '
            'included); True: independent sigmoids over C\n      foreground classes.\n') in args
    assert '  loss_weight: float = 1.0\n      factor on the reduced loss.\n' in args


def test_describe_takes_what_a_subclass_leaves_out_from_its_base_class(capsys):
    assert main(['describe', 'FasterRCNN']) == 0
    out = capsys.readouterr().out
    args = out[out.index('\nArguments:\n'):]
    assert '  backbone: dict  (required)\n      config of a backbone (kind ``backbone``).\n' in args
    # "data_preprocessor, init_cfg, channels_last: see BaseDetector" in TwoStageDetector's
    # docstring: the text is BaseDetector's
    assert ('  init_cfg: Optional[dict] = None\n      mmengine initialisation config (rarely '
            'needed: parts initialise themselves).\n') in args
    assert '(not documented)' not in args
