"""`num_classes` checked against the dataset before anything runs, for every detector: a config
error (exit 2) naming both numbers and the keys that hold them; --data sets them all."""
import pytest

from registry import ConfigError
from zoo.cli.main import main
from zoo.config import load_config
from zoo.data import apply_data, check_num_classes

from own_data_folders import ROOT, ZF_BCCD

RECIPES = {  # recipe -> the key of its head's num_classes
    ZF_BCCD: 'model.roi_head.bbox_head.num_classes',
    str(ROOT / 'configs/faster_rcnn/faster_rcnn_r50_fpn_bccd.py'): 'model.roi_head.bbox_head.num_classes',
    str(ROOT / 'configs/yolo/yolov1_bccd.py'): 'model.bbox_head.num_classes',
    str(ROOT / 'configs/yolo/yolov3_bccd.py'): 'model.bbox_head.num_classes',
}


@pytest.mark.parametrize('recipe, key', RECIPES.items())
def test_a_wrong_num_classes_is_named_with_both_numbers_and_keys(recipe, key):
    check_num_classes(load_config(recipe))  # the shipped recipes agree with BCCD
    for n in (2, 5):  # fewer (a broadcast error mid-epoch) and more (silent) are both refused
        cfg = load_config(recipe, {key: n})
        with pytest.raises(ConfigError) as err:
            check_num_classes(cfg)
        msg = str(err.value)
        assert f'{key} = {n}' in msg and 'has 3 classes' in msg
        assert 'train_dataloader.dataset.classes' in msg


@pytest.mark.parametrize('recipe, key', RECIPES.items())
def test_data_sets_num_classes_of_every_detector(recipe, key, make_dataset):
    data = make_dataset('yolo')
    (data / 'data.yaml').write_text((data / 'data.yaml').read_text().replace(
        'names: [Platelets, RBC, WBC]', 'names: [Platelets, RBC, WBC, Neutrophil]'))
    cfg = load_config(recipe)
    apply_data(cfg, str(data))
    node = cfg
    for part in key.split('.'):
        node = node[part]
    assert node == 4
    assert cfg.model.get('rpn_head', {}).get('num_classes', 1) == 1  # the RPN stays class-agnostic
    check_num_classes(cfg)


def test_train_refuses_before_running(tmp_path, capsys):
    work = tmp_path / 'w'
    assert main(['train', ZF_BCCD, '--work-dir', str(work), '--cfg-options',
                 'model.roi_head.bbox_head.num_classes=2']) == 2
    err = capsys.readouterr().err
    assert 'model.roi_head.bbox_head.num_classes = 2, but the dataset has 3 classes' in err
    assert not work.exists()  # nothing ran, nothing was written
    assert main(['test', ZF_BCCD, ZF_BCCD, '--cfg-options',
                 'model.roi_head.bbox_head.num_classes=4']) == 2
    assert 'num_classes = 4' in capsys.readouterr().err


def test_loaders_and_evaluators_must_name_the_same_classes():
    cfg = load_config(ZF_BCCD, {'val_evaluator.0.classes': ('RBC', 'WBC')})
    with pytest.raises(ConfigError, match=r'val_evaluator\.0\.classes = .* differs from '
                                          r'train_dataloader\.dataset\.classes'):
        check_num_classes(cfg)
