"""`zoo infer` keeps going: a broken image is reported and counted, the others are written;
pictures of images with the same name in different folders do not overwrite each other."""
import json
import os
import shutil

import pytest

from zoo.cli.infer_helpers import output_names
from zoo.cli.main import main

from conftest import ROOT

IMAGES = os.path.join(ROOT, 'data/BCCD/JPEGImages')


def test_a_broken_image_is_counted_and_the_others_are_written(model_files, tmp_path, capsys):
    cfg, ckpt = model_files
    a, b = tmp_path / 'a', tmp_path / 'b'
    a.mkdir(), b.mkdir()
    shutil.copy(os.path.join(IMAGES, 'BloodImage_00001.jpg'), a / 'cell.jpg')
    shutil.copy(os.path.join(IMAGES, 'BloodImage_00002.jpg'), b / 'cell.jpg')  # the same name
    (a / 'broken.jpg').write_bytes(b'\xff\xd8 not really a JPEG')
    (a / 'more.jpg').mkdir()  # a folder with an image's name is no image
    out = tmp_path / 'out'
    status = main(['infer', cfg, ckpt, str(a), str(b), '--out-dir', str(out), '--score-thr', '0'])
    captured = capsys.readouterr()
    assert status == 1
    assert '1 of 3 image(s) could not be processed:' in captured.err
    assert f'{a / "broken.jpg"}: ' in captured.err and 'more.jpg' not in captured.err
    assert 'on 2 image(s)' in captured.out
    records = json.loads((out / 'detections.json').read_text())
    assert {r['image'] for r in records} == {str(a / 'cell.jpg'), str(b / 'cell.jpg')}
    assert (out / 'a' / 'cell.png').is_file() and (out / 'b' / 'cell.png').is_file()
    assert not list(out.rglob('*.tmp')) and not list(out.rglob('.*'))


def test_output_names_keep_folders_and_never_collide():
    names = output_names(['d/x.jpg', 'd/y.jpg'])
    assert names == {'d/x.jpg': 'x.png', 'd/y.jpg': 'y.png'}
    names = output_names(['p/a/x.jpg', 'p/b/x.jpg', 'p/a/x.png'])
    assert names == {'p/a/x.jpg': os.path.join('a', 'x.jpg.png'), 'p/b/x.jpg': os.path.join('b', 'x.png'),
                     'p/a/x.png': os.path.join('a', 'x.png.png')}
    assert len(set(names.values())) == 3


@pytest.mark.parametrize('value', ['-1', '5', 'nan', 'abc'])
def test_score_threshold_must_lie_in_0_1(tmp_path, capsys, value):
    image = os.path.join(IMAGES, 'BloodImage_00001.jpg')
    assert main(['infer', 'c.py', 'm.pth', image, '--out-dir', str(tmp_path / 'o'),
                 '--score-thr', value]) == 2  # a usage error, before anything is read
    assert "--score-thr: expected a number in [0, 1]" in capsys.readouterr().err
    assert not (tmp_path / 'o').exists()
