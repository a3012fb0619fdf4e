"""A NaN loss stops training with a message naming the iteration and the loss term, before the
optimizer step; the last good checkpoint stays and loads."""
import torch
from torch import nn

from registry import LOSSES
from zoo.cli.main import main
from zoo.runner.checkpoint import load_checkpoint_file


@LOSSES.register_module(force=True)
class _TestNaNAfterLoss(nn.Module):
    """Smooth L1 that turns NaN from its ``after``-th call on."""
    loss_kind = 'regression'
    takes_decoded_boxes = False

    def __init__(self, after=3, beta=1.0, loss_weight=1.0):  # the recipe's SmoothL1Loss keys
        super().__init__()
        self.after, self.calls = after, 0

    def forward(self, pred, target, weight=None, avg_factor=None):
        self.calls += 1
        loss = nn.functional.smooth_l1_loss(pred, target, reduction='sum') / max(avg_factor or 1, 1)
        return loss * float('nan') if self.calls >= self.after else loss


def test_nan_loss_stops_cleanly(tiny_config, tmp_path, capsys):
    cfg = tiny_config(epochs=3)  # 2 iterations per epoch: the NaN comes at iteration 3 (epoch 2)
    work = tmp_path / 'w'
    status = main(['train', cfg, '--work-dir', str(work), '--cfg-options',
                   "model.rpn_head.loss_bbox.type=_TestNaNAfterLoss"])
    err = capsys.readouterr().err
    assert status == 1
    assert 'NonFiniteLossError' in err and 'loss_rpn_bbox = nan' in err
    assert 'iteration 3 (epoch 2)' in err
    assert (work / 'epoch_1.pth').is_file() and not (work / 'epoch_2.pth').exists()
    state = load_checkpoint_file(str(work / 'epoch_1.pth'))['state_dict']
    assert all(torch.isfinite(v).all() for v in state.values() if v.is_floating_point())
