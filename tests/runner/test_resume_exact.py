"""A run interrupted after epoch 1 and resumed ends with exactly the weights of an uninterrupted
run with the same seed (deterministic kernels, no data-loading workers)."""
import json

import torch
from mmengine.hooks import Hook
from mmengine.registry import HOOKS

from zoo.cli.main import main
from zoo.runner.checkpoint import load_checkpoint_file


class Interrupted(RuntimeError):
    """Raised by the test hook to stop a run as an interruption would."""


@HOOKS.register_module(force=True)
class _TestInterruptAfterEpoch(Hook):
    priority = 'LOWEST'  # after the checkpoint hook has saved the epoch

    def __init__(self, epoch=1):
        self.epoch = epoch

    def after_train_epoch(self, runner):
        if runner.epoch + 1 == self.epoch:  # runner.epoch counts finished epochs after this hook
            raise Interrupted(f'interrupted after epoch {self.epoch}')


def _weights(path):
    return load_checkpoint_file(str(path))['state_dict']


INTERRUPT = "custom_hooks = [dict(type='_TestInterruptAfterEpoch', epoch=1)]"


def test_resume_ends_with_the_same_weights(tiny_config, tmp_path):
    cfg = tiny_config(epochs=3, train_images=3)
    stopping = tiny_config(epochs=3, train_images=3, extra=INTERRUPT, name='stopping')
    full, cut = tmp_path / 'full', tmp_path / 'cut'
    assert main(['train', cfg, '--work-dir', str(full)]) == 0
    assert main(['train', stopping, '--work-dir', str(cut)]) == 1
    assert (cut / 'epoch_1.pth').is_file() and not (cut / 'epoch_2.pth').exists()
    first = _weights(cut / 'epoch_1.pth')
    assert main(['train', cfg, '--work-dir', str(cut), '--resume']) == 0
    a, b = _weights(full / 'epoch_3.pth'), _weights(cut / 'epoch_3.pth')
    assert a.keys() == b.keys()
    changed = [k for k in a if not torch.equal(a[k], b[k])]
    assert not changed, f'weights differ after resume: {changed[:5]}'
    # and the run did train: the weights moved from those of epoch 1
    assert any(not torch.equal(first[k], a[k]) for k in a)


def test_resume_from_a_named_checkpoint_and_a_missing_one(tiny_config, tmp_path):
    cfg = tiny_config(epochs=2)
    stopping = tiny_config(epochs=2, extra=INTERRUPT, name='stopping')
    work = tmp_path / 'w'
    assert main(['train', stopping, '--work-dir', str(work)]) == 1
    assert main(['train', cfg, '--work-dir', str(work), '--resume', str(work / 'epoch_1.pth')]) == 0
    assert (work / 'epoch_2.pth').is_file()
    record = json.loads((work / 'zoo_run.json').read_text())  # the run's first command stays
    assert record['command'] == f'zoo train {stopping} --work-dir {work}'
    assert record['resumed_by'] == [f'zoo train {cfg} --work-dir {work} --resume {work / "epoch_1.pth"}']
    assert main(['train', cfg, '--work-dir', str(work), '--resume', str(work / 'nope.pth')]) == 2
