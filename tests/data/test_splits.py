"""Splits that cannot leak: a split with no file is an error naming the file; an empty split, or
one whose every image has no box, is an error naming the split and the folder; what a dataset
leaves out is counted in its one warning."""
import json
import warnings

import pytest

from registry import ConfigError
from zoo.cli.main import main
from zoo.datasets import CocoDataset, DatasetWarning, VOCDataset, YOLODataset

from own_data_folders import CLASSES, TRAIN, ZF_BCCD


def test_missing_splits_name_the_file(make_dataset):
    voc, yolo, coco = make_dataset('voc'), make_dataset('yolo'), make_dataset('coco')
    with pytest.raises(ConfigError, match=r'split file .*ImageSets/Main/trian\.txt does not exist'):
        VOCDataset(str(voc), classes=CLASSES, split='trian')
    with pytest.raises(ConfigError, match=r'split folder .*images/trian does not exist'):
        YOLODataset(str(yolo), classes=CLASSES, split='images/trian')
    with pytest.raises(ConfigError, match=r'split file .*nowhere\.txt does not exist'):
        YOLODataset(str(yolo), classes=CLASSES, split='nowhere.txt')
    ann = str(coco / 'annotations' / 'instances_train.json')
    with pytest.raises(ConfigError, match=r'split file .*ids\.txt does not exist'):
        CocoDataset(ann, split=str(coco / 'ids.txt'))
    (coco / 'ids.txt').write_text('1\n77\n')
    with pytest.raises(ConfigError, match=r"names 1 image id\(s\) .* \['77'\]"):
        CocoDataset(ann, split=str(coco / 'ids.txt'))


def test_empty_splits_name_the_split_and_folder(make_dataset, tmp_path, capsys):
    voc = make_dataset('voc')
    (voc / 'ImageSets' / 'Main' / 'val.txt').write_text('')
    with pytest.raises(ConfigError, match=rf"VOCDataset\({voc}, split='val'\): the split has no "
                                          r'image to use: it lists no image'):
        VOCDataset(str(voc), classes=CLASSES, split='val', test_mode=True)
    assert main(['train', ZF_BCCD, '--data', str(voc), '--work-dir', str(tmp_path / 'w')]) == 2
    assert "split='val'): the split has no image" in capsys.readouterr().err

    yolo = make_dataset('yolo')
    for label in (yolo / 'labels' / 'train').glob('*.txt'):
        label.write_text('')
    with pytest.raises(ConfigError, match=r"split='images/train'\): the split has no image to use: "
                                          r'every one of its 4 images has no box'):
        with warnings.catch_warnings():
            warnings.simplefilter('ignore', DatasetWarning)
            YOLODataset(str(yolo), classes=CLASSES, split='images/train', filter_empty_gt=True)
    assert len(YOLODataset(str(yolo), classes=CLASSES, split='images/train')) == 4  # no filter


def test_left_out_annotations_and_images_are_counted_in_one_warning(make_dataset):
    coco = make_dataset('coco')
    path = coco / 'annotations' / 'instances_train.json'
    data = json.loads(path.read_text())
    data['annotations'].append(dict(data['annotations'][0], id=1000, image_id=99))  # no such image
    data['annotations'].append(dict(data['annotations'][0], id=1001, category_id=42))  # no category
    data['images'].append(dict(data['images'][0]))  # the same image id twice
    data['images'].append({'id': 60, 'file_name': 'empty.jpg', 'width': 640, 'height': 480})
    path.write_text(json.dumps(data))
    with pytest.warns(DatasetWarning) as record:
        dataset = CocoDataset(str(path), img_prefix=str(coco / 'images' / 'train'),
                              filter_empty_gt=True)
    messages = [str(w.message) for w in record]
    assert len(messages) == 1, messages
    msg = messages[0]
    assert ('left out 1 image without a box, 1 annotation of an unknown category, '
            '1 annotation of an unknown image, 1 duplicate image id') in msg
    assert len(dataset) == 4


def test_duplicate_image_ids_are_counted(make_dataset):
    voc = make_dataset('voc')
    (voc / 'ImageSets' / 'Main' / 'train.txt').write_text('\n'.join(TRAIN + TRAIN[:2]) + '\n')
    with pytest.warns(DatasetWarning, match='left out 2 duplicate image ids'):
        dataset = VOCDataset(str(voc), classes=CLASSES, split='train')
    assert len(dataset) == len(TRAIN)
