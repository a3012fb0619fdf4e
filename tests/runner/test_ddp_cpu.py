"""Data-parallel training with 2 CPU processes (gloo) through torchrun and `zoo train --launcher
pytorch`."""
import os
import socket
import subprocess
import sys

from conftest import ROOT


def _free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def test_two_process_training(tiny_config, tmp_path):
    cfg = tiny_config(train_images=4)
    work = tmp_path / 'ddp'
    env = dict(os.environ, OMP_NUM_THREADS='1', MASTER_ADDR='127.0.0.1')
    cmd = [sys.executable, '-m', 'torch.distributed.run', '--nproc-per-node', '2',
           '--master-addr', '127.0.0.1', '--master-port', str(_free_port()),
           '-m', 'zoo.cli.main', 'train', cfg, '--work-dir', str(work), '--launcher', 'pytorch']
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    logs = ''.join(open(p).read() for p in work.glob('*/*.log'))
    assert 'Distributed launcher: pytorch' in logs or 'distributed: True' in logs.lower()
    assert 'Epoch(train) [1][2/2]' in logs  # 4 images over 2 processes: 2 iterations each
    assert (work / 'epoch_1.pth').is_file()
