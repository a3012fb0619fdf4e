"""Roboflow's YOLOv8 export (`data.yaml` without `path`, its splits written one level up as
`../train/images`, each split folder holding `images/` and `labels/`) read by `--data` as the same
data as the plain YOLO layout: Ultralytics' rule that a `../x` which does not exist is `x`."""
import numpy as np

from zoo.data import detect_data

from own_data_folders import CLASSES, TRAIN, VAL, assert_same_data, instances_of


def test_a_roboflow_yolo_export_is_the_same_data_as_the_yolo_layout(make_dataset):
    robo = detect_data(str(make_dataset('roboflow_yolo')))
    yolo = detect_data(str(make_dataset('yolo')))
    assert robo.format == 'yolo' and sorted(robo.splits) == ['train', 'val']
    assert robo.splits['train']['split'] == 'train/images'
    assert robo.splits['val']['split'] == 'valid/images'
    assert robo.classes == yolo.classes == CLASSES
    for split, stems in (('train', TRAIN), ('val', VAL)):
        assert_same_data(robo, yolo, split, stems)


def test_a_parent_folder_that_exists_is_taken_as_written(make_dataset, tmp_path):
    """`../x` is read as `x` only when `../x` does not exist (Ultralytics' rule)."""
    data = make_dataset('roboflow_yolo')
    (data.parent / 'train' / 'images').mkdir(parents=True)
    source = detect_data(str(data))
    assert source.splits['train']['split'] == '../train/images'
    assert source.splits['val']['split'] == 'valid/images'
