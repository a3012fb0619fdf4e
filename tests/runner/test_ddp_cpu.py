"""Data-parallel training with 2 CPU processes (gloo, torchrun, ``zoo train --launcher pytorch``)
gives the weights of one process training on the same images with the same total batch.

DDP averages the gradients of the processes; each process's loss is averaged over its own
sampled anchors and RoIs. The mean over 2 processes of per-image averages equals the average
over a batch of 2 only when every image has the same number of samples, so the recipe is set up
to make the normalizers, and the samples themselves, fixed: every anchor (``allowed_border=-1``)
is positive or negative (no ignore zone: ``neg_iou_thr`` = ``pos_iou_thr``), every proposal is
foreground or background (background IoU [0, 0.5), no gt boxes added), each image gives the
same 16 proposals' worth of RoIs, and the samplers keep everything (no random draw to differ).
No flip, no dropout, no shuffling: rank r trains on images r, r + 2 (mmengine's
``DefaultSampler``), the single process on batches (0, 1), (2, 3).

The weights after each of the 2 iterations are compared; the tolerance is a small fraction of
one step's change, so that a gradient summed instead of averaged (each step twice as long) or
gradients not synchronised (each process stepping on its own image) fails.
"""
import os
import socket
import subprocess
import sys

import torch

from zoo.cli.main import main
from zoo.runner.checkpoint import load_checkpoint_file

from conftest import ROOT

SAME_SAMPLES = '''
model['roi_head']['bbox_head']['dropout'] = 0.0
model['train_cfg']['rpn'] = dict(assigner=dict(neg_iou_thr=0.7), sampler=dict(num=10 ** 6),
                                 allowed_border=-1)
model['train_cfg']['rpn_proposal']['max_per_img'] = 16
model['train_cfg']['rcnn'] = dict(assigner=dict(neg_iou_thr=(0.0, 0.5)),
                                  sampler=dict(num=10 ** 6, add_gt_as_proposals=False))
train_dataloader['dataset']['pipeline'] = test_pipeline
train_dataloader['sampler'] = dict(type='DefaultSampler', shuffle=False)
train_dataloader['batch_size'] = {batch}
train_cfg = dict(max_epochs=1, val_interval=2)
default_hooks = dict(logger=dict(interval=1),
                     checkpoint=dict(interval=1, by_epoch=False, max_keep_ckpts=-1,
                                     save_best=None, save_last=False))
'''


def _free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _weights(path):
    state = load_checkpoint_file(str(path))['state_dict']
    return {k: v for k, v in state.items() if v.is_floating_point()}


def test_two_processes_train_like_one_with_the_same_total_batch(tiny_config, tmp_path):
    ddp_cfg = tiny_config(train_images=4, extra=SAME_SAMPLES.format(batch=1), name='ddp')
    one_cfg = tiny_config(train_images=4, extra=SAME_SAMPLES.format(batch=2), name='one')
    ddp_work, one_work = tmp_path / 'ddp', tmp_path / 'one'
    env = dict(os.environ, OMP_NUM_THREADS='1', MASTER_ADDR='127.0.0.1',
               PYTHONPATH=ROOT + os.pathsep + os.environ.get('PYTHONPATH', ''))
    cmd = [sys.executable, '-m', 'torch.distributed.run', '--nproc-per-node', '2',
           '--master-addr', '127.0.0.1', '--master-port', str(_free_port()),
           '-m', 'zoo.cli.main', 'train', ddp_cfg, '--work-dir', str(ddp_work),
           '--launcher', 'pytorch']
    # the two processes run while this one trains the single-process twin
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        assert main(['train', one_cfg, '--work-dir', str(one_work)]) == 0
        out, _ = proc.communicate(timeout=600)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, out[-6000:]

    ddp = [_weights(ddp_work / f'iter_{it}.pth') for it in (1, 2)]
    one = [_weights(one_work / f'iter_{it}.pth') for it in (1, 2)]
    assert set(ddp[0]) == set(one[0]) == set(ddp[1]) == set(one[1])

    def norm(a, b, keys):
        return float(torch.cat([(a[k] - b[k]).flatten() for k in keys]).norm())

    keys = sorted(one[0])
    step = norm(one[1], one[0], keys)  # how far one iteration moves the weights
    assert step > 0
    for it in (0, 1):
        gap = norm(ddp[it], one[it], keys)
        assert gap < 1e-3 * step, f'iteration {it + 1}: |ddp - one| = {gap:.3g}, one step {step:.3g}'
        for k in keys:  # parameter by parameter too
            moved = norm(one[1], one[0], [k])
            assert norm(ddp[it], one[it], [k]) <= 1e-2 * moved + 1e-6, k
