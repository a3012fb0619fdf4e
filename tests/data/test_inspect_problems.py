"""`zoo data inspect` finds every problem the issue lists, and exits 1 when it finds any."""
import json
import xml.etree.ElementTree as ET

import pytest
from PIL import Image

from zoo.cli.main import main
from zoo.data.detect import detect_data
from zoo.data.inspect import inspect_dataset

from own_data_folders import BCCD, CLASSES, TRAIN, VAL


def _kinds(path, **kw):
    report = inspect_dataset(detect_data(str(path), **kw))
    return {p.kind for p in report.problems}, report


def _edit_xml(path, edit):
    tree = ET.parse(path)
    edit(tree.getroot())
    tree.write(path)


def test_voc_problems(make_dataset, tmp_path, capsys):
    voc = make_dataset('voc')
    main_dir, ann, img = voc / 'ImageSets' / 'Main', voc / 'Annotations', voc / 'JPEGImages'
    assert _kinds(voc)[0] == set()
    (img / f'{TRAIN[0]}.jpg').unlink()                                    # missing image
    (img / f'{TRAIN[1]}.jpg').write_bytes(b'\xff\xd8 not a jpeg')          # unreadable image
    (img / 'copy.jpg').write_bytes((img / f'{TRAIN[2]}.jpg').read_bytes())  # duplicate image
    (ann / 'copy.xml').write_bytes((ann / f'{TRAIN[2]}.xml').read_bytes())
    _edit_xml(ann / f'{TRAIN[3]}.xml',                                     # empty label
              lambda r: [r.remove(o) for o in r.findall('object')])
    first = lambda r: r.find('object/bndbox')  # noqa: E731
    _edit_xml(ann / f'{TRAIN[2]}.xml', lambda r: setattr(first(r).find('xmax'), 'text',
                                                         first(r).findtext('xmin')))  # zero area
    _edit_xml(ann / f'{VAL[0]}.xml', lambda r: setattr(first(r).find('xmax'), 'text', '700'))
    _edit_xml(ann / f'{VAL[1]}.xml', lambda r: setattr(r.find('object/name'), 'text', 'Neutrophil'))
    # an image whose EXIF orientation (6: turn 90 degrees) matches the annotation's swapped size
    with Image.open(BCCD / 'JPEGImages' / f'{VAL[0]}.jpg') as im:
        exif = Image.Exif()
        exif[0x0112] = 6
        im.save(img / 'turned.jpg', exif=exif)
    (ann / 'turned.xml').write_bytes((ann / f'{VAL[0]}.xml').read_bytes())
    _edit_xml(ann / 'turned.xml', lambda r: (setattr(r.find('size/width'), 'text', '480'),
                                             setattr(r.find('size/height'), 'text', '640')))
    (img / 'wide.jpg').write_bytes((BCCD / 'JPEGImages' / f'{VAL[1]}.jpg').read_bytes())
    (ann / 'wide.xml').write_bytes((BCCD / 'Annotations' / f'{VAL[1]}.xml').read_bytes())
    _edit_xml(ann / 'wide.xml', lambda r: setattr(r.find('size/width'), 'text', '800'))
    (main_dir / 'train.txt').write_text('\ufeff' + '\n'.join(TRAIN + ['copy']) + '\n',
                                        encoding='utf-8')  # a byte-order mark
    (main_dir / 'val.txt').write_text('\n'.join(VAL + ['ghost', 'turned', 'wide']) + '\n')
    kinds, report = _kinds(voc, classes=CLASSES)
    assert kinds == {'missing image', 'unreadable image', 'duplicate image', 'empty label',
                     'zero-area box', 'box outside the image', 'unknown class',
                     'split names missing ids', 'split file has a byte-order mark',
                     'EXIF orientation disagrees', 'size disagrees'}
    by_kind = {p.kind: p for p in report.problems}
    assert sorted(p.path.rsplit('/', 1)[1] for p in report.problems
                  if p.kind == 'duplicate image') == ['copy.jpg', 'wide.jpg']  # wide: VAL[1]'s bytes
    assert 'ghost' in by_kind['split names missing ids'].detail
    assert "'Neutrophil'" in by_kind['unknown class'].detail
    assert 'turned' in by_kind['EXIF orientation disagrees'].path
    assert main(['data', 'inspect', str(voc), '--config', 'none',
                 '--plot', str(tmp_path / 'p.png')]) == 1
    out = capsys.readouterr().out
    assert 'problem(s):' in out and '[split file has a byte-order mark]' in out


def test_yolo_problems(make_dataset):
    yolo = make_dataset('yolo')
    labels = yolo / 'labels' / 'train'
    (labels / f'{TRAIN[0]}.txt').write_text('')                                  # empty label
    (labels / f'{TRAIN[1]}.txt').write_text('7 0.5 0.5 0.1 0.1\n'                 # unknown id
                                            '1 0.5 0.5 0 0.1\n'                   # zero area
                                            '1 1.5 0.5 0.1 0.1\n'                 # outside
                                            '1 0.5 0.5\n')                        # malformed
    (yolo / 'val.txt').write_text(f'images/val/{VAL[0]}.jpg\nimages/val/ghost.jpg\n')
    (yolo / 'data.yaml').write_text((yolo / 'data.yaml').read_text()
                                    .replace('val: images/val', 'val: val.txt'))
    kinds, _ = _kinds(yolo)
    assert kinds == {'empty label', 'unknown class', 'zero-area box', 'box outside the image',
                     'malformed annotation', 'split names missing ids', 'missing image'}


def test_coco_problems(make_dataset):
    coco = make_dataset('coco')
    path = coco / 'annotations' / 'instances_val.json'
    data = json.loads(path.read_text())
    data['images'].append(dict(data['images'][0]))                                # duplicate id
    data['annotations'].append(dict(data['annotations'][0], id=900, image_id=99))  # unknown image
    data['annotations'].append(dict(data['annotations'][0], id=901, category_id=8))  # unknown class
    path.write_text(json.dumps(data))
    kinds, _ = _kinds(coco)
    assert kinds == {'duplicate id', 'unknown image', 'unknown class'}


@pytest.mark.parametrize('fmt', ['voc', 'coco', 'yolo'])
def test_a_missing_split_folder_or_file_is_reported(make_dataset, fmt):
    path = make_dataset(fmt)
    if fmt == 'yolo':  # data.yaml names a val folder that is not there
        (yolo_val := path / 'images' / 'val').rename(path / 'images' / 'elsewhere')
        assert not yolo_val.exists()
        assert _kinds(path)[0] == {'missing annotation'}
    else:
        assert _kinds(path)[0] == set()
