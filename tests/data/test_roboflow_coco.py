"""Roboflow's COCO export (`train/`, `valid/`, `test/`, each with `_annotations.coco.json` beside
its images, category 0 the project's name) read by `--data` as the same data as the plain COCO
layout: the same splits, the same three classes, the same boxes and labels."""
import json

import numpy as np
import pytest

from registry import ConfigError
from zoo.cli.main import main
from zoo.data import detect_data

from own_data_folders import CLASSES, TRAIN, VAL, assert_same_data, instances_of



def test_a_roboflow_export_is_the_same_data_as_the_coco_layout(make_dataset):
    robo, coco = detect_data(str(make_dataset('roboflow'))), detect_data(str(make_dataset('coco')))
    assert robo.format == 'coco' and sorted(robo.splits) == ['train', 'val']
    assert robo.classes == coco.classes == CLASSES  # category 0 ('cells') is not a class
    assert "less ['cells']" in robo.classes_from
    assert robo.splits['val']['img_prefix'] == robo.root + '/valid'
    for split, stems in (('train', TRAIN), ('val', VAL)):
        assert_same_data(robo, coco, split, stems)


def test_a_project_category_that_labels_boxes_stays_a_class(make_dataset):
    data = make_dataset('roboflow')
    ann = data / 'train' / '_annotations.coco.json'
    coco = json.loads(ann.read_text())
    coco['annotations'][0]['category_id'] = 0  # now 'cells' labels a box: a class after all
    ann.write_text(json.dumps(coco))
    assert detect_data(str(data)).classes == ('cells',) + CLASSES
    # and --classes still picks a subset, in its order
    assert detect_data(str(data), ['WBC', 'RBC']).classes == ('WBC', 'RBC')


def test_a_folder_of_split_folders_without_annotations_is_no_layout(tmp_path, capsys):
    (tmp_path / 'd' / 'train').mkdir(parents=True)
    with pytest.raises(ConfigError, match=r"_annotations\.coco\.json"):
        detect_data(str(tmp_path / 'd'))
    assert main(['data', 'inspect', str(tmp_path / 'd')]) == 2
    assert 'none of the known layouts' in capsys.readouterr().err
