"""Roboflow's Pascal VOC export (`train/`, `valid/`, `test/`, each holding its images and their
XML files side by side) read by `--data` as the same data as the Pascal VOC layout: the same
splits, classes, boxes and labels; `zoo data inspect` reads it and `--val-fraction` carves a
validation split out of it."""
import re

import numpy as np
import pytest
from PIL import Image

from registry import ConfigError, build, discover
from zoo.cli.export_cmd import default_check_images
from zoo.cli.main import main
from zoo.data import detect_data
from zoo.data.config_from_data import derive_val_split

from own_data_folders import CLASSES, TRAIN, VAL, assert_same_data, instances_of



def test_a_roboflow_voc_export_is_the_same_data_as_the_voc_layout(make_dataset):
    robo = detect_data(str(make_dataset('roboflow_voc')))
    voc = detect_data(str(make_dataset('voc')))
    assert robo.format == 'voc' and sorted(robo.splits) == ['train', 'val']
    assert robo.classes == voc.classes == CLASSES
    assert robo.splits['val']['ann_subdir'] == robo.splits['val']['img_subdir'] == 'valid'
    assert 'XML files of train/' in robo.classes_from
    for split, stems in (('train', TRAIN), ('val', VAL)):
        assert_same_data(robo, voc, split, stems)


def test_png_images_beside_the_xml_are_found(make_dataset):
    data = make_dataset('roboflow_voc')
    for folder in ('train', 'valid'):
        for jpg in (data / folder).glob('*.jpg'):
            Image.open(jpg).save(jpg.with_suffix('.png'))
            jpg.unlink()
    source = detect_data(str(data))
    assert source.splits['train']['img_suffix'] == '.png'
    assert sorted(instances_of(source, 'val')) == sorted(f'{s}.png' for s in VAL)


def test_inspect_and_val_fraction_read_the_split_folders(make_dataset, tmp_path, capsys):
    data = make_dataset('roboflow_voc', val=[])
    assert main(['data', 'inspect', str(data), '--plot', str(tmp_path / 'sizes.png')]) == 0
    out = capsys.readouterr().out
    assert 'voc dataset, 3 classes' in out and 'no problem found' in out
    assert re.search(rf'^train\s+{len(TRAIN)}\s', out, re.M), out
    source = derive_val_split(detect_data(str(data)), 0.25, str(tmp_path), seed=0)
    train, val = (instances_of(source, s) for s in ('train', 'val'))
    assert len(val) == 1 and len(train) == len(TRAIN) - 1
    assert sorted(list(train) + list(val)) == sorted(f'{s}.jpg' for s in TRAIN)


def test_export_finds_its_check_images_in_the_split_folder(make_dataset):
    source = detect_data(str(make_dataset('roboflow_voc')))
    cfg = dict(test_dataloader=dict(dataset=source.dataset_cfg('val')))
    assert [p.rsplit('/', 1)[-1] for p in default_check_images(cfg)] == \
        sorted(f'{s}.jpg' for s in VAL)


def test_a_folder_with_both_exports_is_read_as_coco(make_dataset):
    """A split folder holding `_annotations.coco.json` is Roboflow's COCO export, even when XML
    files lie beside it: the COCO file names every split's images in one place."""
    data = make_dataset('roboflow')
    for stem in TRAIN:
        (data / 'train' / f'{stem}.xml').write_text('<annotation/>')
    assert detect_data(str(data)).format == 'coco'


@pytest.mark.parametrize('where', ['train', 'valid'])
def test_an_unknown_class_in_a_split_folder_names_the_file(make_dataset, where):
    data = make_dataset('roboflow_voc')
    path = data / where / f'{(TRAIN if where == "train" else VAL)[0]}.xml'
    path.write_text(path.read_text().replace('<name>RBC</name>', '<name>Neutrophil</name>', 1))
    source = detect_data(str(data), classes=list(CLASSES))
    discover()
    split = 'train' if where == 'train' else 'val'
    with pytest.raises(ConfigError, match=rf"{where}/.*Neutrophil"):
        build('dataset', dict(source.dataset_cfg(split), pipeline=[]), key=split)
