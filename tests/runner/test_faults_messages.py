"""Errors that name what they should: the file and what it really is, the refused global, the
option key and the dataset key path, with exit status 2 (config and usage errors)."""
import os
import pickle

import pytest
import torch

from zoo.cli.main import main
from zoo.runner.checkpoint import CheckpointError, load_checkpoint_file

from conftest import ROOT

ZF = os.path.join(ROOT, 'configs/faster_rcnn/faster_rcnn_zf_bccd.py')
IMAGE = os.path.join(ROOT, 'data/BCCD/JPEGImages/BloodImage_00001.jpg')


class _System:
    def __reduce__(self):
        return os.system, ('echo pwned',)


def _write_bad_files(d):
    (d / 'notes.pth').write_text('epoch 12, mAP 0.81\n')
    (d / 'lfs.pth').write_text('version https://git-lfs.github.com/spec/v1\n'
                               'oid sha256:4d7a2146\nsize 1048576\n')
    (d / 'page.pth').write_text('<!DOCTYPE html>\n<html><head><title>404</title></head></html>')
    (d / 'empty.pth').write_bytes(b'')
    torch.save({'state_dict': {'w': torch.ones(1)}, 'x': _System()}, d / 'system.pth')
    with open(d / 'system_raw.pth', 'wb') as f:
        pickle.dump({'x': _System()}, f)
    torch.save({'state_dict': {'w': torch.ones(3)}}, d / 'good.pth')
    (d / 'truncated.pth').write_bytes((d / 'good.pth').read_bytes()[:300])


EXPECTED = {
    'notes.pth': "it is a text file (it starts with 'epoch 12, mAP 0.81\\n'), not a torch checkpoint",
    'lfs.pth': 'it is a git-lfs pointer, not the file itself: fetch the file with `git lfs pull`',
    'page.pth': 'it is an HTML/XML page',
    'empty.pth': 'it is empty (0 bytes)',
    'system.pth': 'is refused: it refers to posix.system, which the zoo does not allow',
    'system_raw.pth': 'is refused: it refers to posix.system, which the zoo does not allow',
    'truncated.pth': 'cannot be read as a torch checkpoint (damaged or truncated?)',
}


def test_a_bad_checkpoint_file_is_named_as_what_it_is(tmp_path):
    _write_bad_files(tmp_path)
    for name, words in EXPECTED.items():
        path = str(tmp_path / name)
        with pytest.raises(CheckpointError) as err:
            load_checkpoint_file(path)
        assert str(err.value).startswith(f'checkpoint {path!r} '), name
        assert words in str(err.value), (name, str(err.value))
        assert 'will likely succeed' not in str(err.value)  # torch's advice is not repeated
    assert load_checkpoint_file(str(tmp_path / 'good.pth'))['state_dict']['w'].tolist() == [1, 1, 1]


def test_zoo_infer_refuses_them_with_exit_status_2(tmp_path, capsys):
    _write_bad_files(tmp_path)
    for name in ('notes.pth', 'system.pth'):
        assert main(['infer', ZF, str(tmp_path / name), IMAGE, '--out-dir', str(tmp_path / 'o')]) == 2
        err = capsys.readouterr().err
        assert str(tmp_path / name) in err and EXPECTED[name].split(':')[0] in err


def test_a_number_option_given_a_word_is_refused_by_zoo_config(capsys):
    assert main(['config', ZF, '--cfg-options', 'train_cfg.max_epochs=abc']) == 2
    assert ("--cfg-options train_cfg.max_epochs='abc': expected an integer (the config holds 9)"
            in capsys.readouterr().err)
    assert main(['config', ZF, '--cfg-options', 'train_cfg.max_epochs=2', 'optim_wrapper.optimizer.lr=1',
                 'train_dataloader.batch_size=4']) == 0


def test_an_unknown_dataset_argument_names_its_key_path(tmp_path, capsys):
    torch.save({'state_dict': {}}, tmp_path / 'm.pth')
    assert main(['test', ZF, str(tmp_path / 'm.pth'), '--work-dir', str(tmp_path / 'w'),
                 '--cfg-options', 'test_dataloader.dataset.img_sufix=.png']) == 2
    err = capsys.readouterr().err
    assert ("test_dataloader.dataset (VOCDataset): unexpected argument 'img_sufix' "
            "(did you mean 'img_suffix'?)") in err


def test_load_partial_without_load_from_is_a_usage_error(tmp_path, capsys):
    assert main(['train', ZF, '--work-dir', str(tmp_path / 'w'), '--load-partial']) == 2
    assert '--load-partial loads the weights of load_from' in capsys.readouterr().err
    assert not (tmp_path / 'w').exists()


def test_a_backbone_that_does_not_fit_the_neck_is_a_config_error(tmp_path, capsys):
    """VGG16 (one level, stride 16) under the R50-FPN recipe's FPN (four levels): exit 2 with the
    neck's key path, not a run-time failure (exit 1)."""
    cfg = tmp_path / 'vgg_fpn.py'
    cfg.write_text("_base_ = ['zoo::faster_rcnn/faster_rcnn_r50_fpn_bccd.py']\n"
                   "model = dict(backbone=dict(_delete_=True, type='VGG', depth=16))\n")
    assert main(['config', str(cfg), '--build']) == 2
    err = capsys.readouterr().err
    assert 'model.neck (FPN)' in err and 'in_strides [16]' in err and '[256, 512, 1024, 2048]' in err
