"""The same boxes as VOC, COCO and YOLO folders: detected alike, read to the same records, the
same `zoo data inspect` report, and `zoo data convert` exact (VOC -> COCO -> YOLO -> VOC)."""
import json
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from zoo.cli.main import main
from zoo.data.detect import detect_data
from zoo.data.inspect import format_report, inspect_dataset
from zoo.datasets import CocoDataset, VOCDataset, YOLODataset

from own_data_folders import CLASSES, TRAIN, VAL, ZF_BCCD, voc_objects

FORMATS = ('voc', 'coco', 'yolo')


def test_formats_are_detected_with_their_splits_and_classes(make_dataset):
    for fmt in FORMATS:
        source = detect_data(str(make_dataset(fmt)))
        assert source.format == fmt
        assert sorted(source.splits) == ['train', 'val']
        assert source.classes == CLASSES


def _records(dataset):
    return {str(r['img_path']).rsplit('/', 1)[-1]: [(i['bbox'], i['bbox_label'])
                                                    for i in r['instances']]
            for r in dataset.data_list}


def test_the_three_datasets_give_the_same_boxes(make_dataset):
    """The pixel rules: VOC minus one, COCO x + w, YOLO (cx -+ w/2) * W, all to the same floats."""
    voc, coco, yolo = (make_dataset(f) for f in FORMATS)
    a = VOCDataset(str(voc), classes=CLASSES, split='train')
    b = CocoDataset(str(coco / 'annotations' / 'instances_train.json'),
                    img_prefix=str(coco / 'images' / 'train'))
    c = YOLODataset(str(yolo), classes=CLASSES, split='images/train')
    assert _records(a) == _records(b) == _records(c)
    name, (x1, y1, x2, y2) = voc_objects(TRAIN[0])[0]  # by hand: the first box of the first image
    first = _records(c)[f'{TRAIN[0]}.jpg'][0]
    assert first == ([x1 - 1.0, y1 - 1.0, x2 - 1.0, y2 - 1.0], CLASSES.index(name))


def test_inspect_reports_agree_and_cli_exits_0_when_clean(make_dataset, tmp_path, capsys):
    reports = [inspect_dataset(detect_data(str(make_dataset(f))), ZF_BCCD) for f in FORMATS]
    first = reports[0]
    n_train = sum(len(voc_objects(s)) for s in TRAIN)
    assert sum(first.counts['train']['boxes'].values()) == n_train
    assert first.counts['val']['images'] == len(VAL)
    for rep in reports[1:]:
        assert rep.counts == first.counts
        for split in first.sizes:
            np.testing.assert_array_equal(np.sort(rep.sizes[split], 0),
                                          np.sort(first.sizes[split], 0))
        assert rep.bpr == first.bpr and rep.bpr is not None
        assert not rep.problems
    tables = [format_report(r).split('\n', 1)[1] for r in reports]  # after the header line
    assert tables[0] == tables[1] == tables[2]

    plot = tmp_path / 'sizes.png'
    assert main(['data', 'inspect', str(make_dataset('yolo', name='y2')), '--plot', str(plot),
                 '--config', ZF_BCCD]) == 0
    out = capsys.readouterr().out
    assert 'no problem found' in out and 'best possible recall (IoU >= 0.5)' in out
    assert plot.stat().st_size > 1000


def _voc_boxes(root):
    out = {}
    for xml in sorted((root / 'Annotations').glob('*.xml')):
        tree = ET.parse(xml).getroot()
        out[xml.stem] = [(o.findtext('name'),
                          tuple(int(o.findtext(f'bndbox/{t}')) for t in ('xmin', 'ymin', 'xmax', 'ymax')))
                         for o in tree.findall('object')]
    return out


def test_convert_round_trip_is_exact(make_dataset, tmp_path, capsys):
    voc = make_dataset('voc')
    coco, yolo, back = tmp_path / 'c', tmp_path / 'y', tmp_path / 'back'
    assert main(['data', 'convert', str(voc), str(coco), '--to', 'coco']) == 0
    assert main(['data', 'convert', str(coco), str(yolo), '--to', 'yolo']) == 0
    assert main(['data', 'convert', str(yolo), str(back), '--to', 'voc']) == 0
    assert _voc_boxes(back) == {s: voc_objects(s) for s in TRAIN + VAL}
    for split, stems in (('train', TRAIN), ('val', VAL)):
        assert (back / 'ImageSets' / 'Main' / f'{split}.txt').read_text().split() == stems
    # the middle steps hold the hand-made values: COCO [xmin - 1, ymin - 1, w, h] integers
    data = json.loads((coco / 'annotations' / 'train.json').read_text())
    name, (x1, y1, x2, y2) = voc_objects(TRAIN[0])[0]
    ann = data['annotations'][0]
    assert ann['bbox'] == [x1 - 1, y1 - 1, x2 - x1, y2 - y1]
    assert data['categories'][ann['category_id'] - 1]['name'] == name
    # YOLO: 17 significant digits, read back to the same float64
    line = (yolo / 'labels' / 'train' / f'{TRAIN[0]}.txt').read_text().splitlines()[0].split()
    assert [float(v) for v in line[1:]] == [(x1 - 1 + x2 - 1) / 2 / 640, (y1 - 1 + y2 - 1) / 2 / 480,
                                            (x2 - x1) / 640, (y2 - y1) / 480]
    # a destination that exists is refused, and nothing is written
    assert main(['data', 'convert', str(voc), str(coco), '--to', 'yolo']) == 2
    assert 'exists' in capsys.readouterr().err


@pytest.mark.parametrize('fmt', FORMATS)
def test_convert_from_every_format_reads_back_the_same(make_dataset, tmp_path, fmt):
    src = make_dataset(fmt)
    for to in FORMATS:
        dst = tmp_path / f'{fmt}_to_{to}'
        assert main(['data', 'convert', str(src), str(dst), '--to', to]) == 0
        a = inspect_dataset(detect_data(str(src)))
        b = inspect_dataset(detect_data(str(dst)))
        assert a.counts == b.counts and not b.problems
        for split in a.sizes:
            np.testing.assert_array_equal(np.sort(a.sizes[split], 0), np.sort(b.sizes[split], 0))


def test_convert_to_voc_rounds_fractional_corners_to_the_nearest_pixel(make_dataset, tmp_path):
    coco = make_dataset('coco')
    path = coco / 'annotations' / 'instances_train.json'
    data = json.loads(path.read_text())
    data['annotations'][0]['bbox'] = [10.7, 20.2, 30.6, 40.5]  # xyxy (10.7, 20.2, 41.3, 60.7)
    path.write_text(json.dumps(data))
    assert main(['data', 'convert', str(coco), str(tmp_path / 'v'), '--to', 'voc']) == 0
    stem = data['images'][0]['file_name'][:-4]
    # round(v) + 1 each: 11 + 1, 20 + 1, 41 + 1, 61 + 1 (a truncation would give 11, 21, 42, 61)
    assert _voc_boxes(tmp_path / 'v')[stem][0][1] == (12, 21, 42, 62)
