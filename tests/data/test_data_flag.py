"""`zoo train RECIPE --data DIR` on each format with no config written by the user, then `zoo test`
and `zoo infer` on the work dir; the merged config repeats the run; a missing validation split
is carved with a fixed seed and recorded."""
import glob
import json
import os

import pytest
from mmengine.config import Config

from zoo.cli.main import main

from own_data_folders import CLASSES, TINY, TRAIN, VAL, ZF_BCCD


def _losses(work):
    """The logged (iteration, loss) pairs of the run in ``work``."""
    path, = glob.glob(os.path.join(work, '*', 'vis_data', 'scalars.json'))
    rows = [json.loads(line) for line in open(path)]
    return [(r['iter'], r['loss']) for r in rows if 'loss' in r]


def _train_test_infer(make_dataset, tmp_path, fmt, repeat=False):
    data = make_dataset(fmt, train=TRAIN[:2], val=VAL[:1])
    work = tmp_path / 'work'
    opts = TINY + ['default_hooks.logger.interval=1']
    # VOC's names are the sorted ones of the training split, and these two images hold no
    # platelet (the validation image does): name the classes
    names = ['--classes', *CLASSES] if fmt == 'voc' else []
    assert main(['train', ZF_BCCD, '--data', str(data), *names, '--work-dir', str(work),
                 '--cfg-options', *opts]) == 0
    written = work / 'config.py'
    cfg = Config.fromfile(str(written))
    assert cfg.model.roi_head.bbox_head.num_classes == 3
    assert tuple(cfg.classes) == CLASSES and cfg.data_source['format'] == fmt
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        assert cfg[key].dataset.type == {'voc': 'VOCDataset', 'coco': 'CocoDataset',
                                         'yolo': 'YOLODataset'}[fmt]
        assert tuple(cfg[key].dataset.classes) == CLASSES
    for ev in cfg.val_evaluator + cfg.test_evaluator:
        assert tuple(ev['classes']) == CLASSES

    metrics = tmp_path / 'metrics.json'
    assert main(['test', str(written), str(work), '--metrics', str(metrics),
                 '--work-dir', str(tmp_path / 'test')]) == 0
    assert 'coco/bbox_mAP_50' in json.loads(metrics.read_text())['metrics']

    image = str(data / ('JPEGImages' if fmt == 'voc' else 'images/val') / f'{VAL[0]}.jpg')
    out = tmp_path / 'infer'
    assert main(['infer', str(written), str(work), image, '--out-dir', str(out),
                 '--score-thr', '0']) == 0
    records = json.loads((out / 'detections.json').read_text())
    assert records and all(r['label_name'] == CLASSES[r['label']] for r in records)

    if repeat:  # the written config alone repeats the run: the same losses, iteration by iteration
        again = tmp_path / 'again'
        assert main(['train', str(written), '--work-dir', str(again)]) == 0
        first = _losses(work)
        assert first and _losses(again) == first


def test_train_test_infer_yolo_and_the_written_config_repeats_the_run(make_dataset, tmp_path):
    _train_test_infer(make_dataset, tmp_path, 'yolo', repeat=True)


@pytest.mark.slow
@pytest.mark.parametrize('fmt', ['voc', 'coco'])
def test_train_test_infer_voc_coco(make_dataset, tmp_path, fmt):
    _train_test_infer(make_dataset, tmp_path, fmt)


@pytest.mark.parametrize('fmt', ['voc', 'coco', 'yolo'])
def test_a_folder_without_val_gets_a_seeded_recorded_split(make_dataset, tmp_path, fmt):
    from registry import build, discover
    from zoo.config import load_config
    from zoo.data import apply_data
    data = make_dataset(fmt, val=[])
    lists = []
    for run in ('a', 'b'):
        cfg = load_config(ZF_BCCD)
        apply_data(cfg, str(data), val_fraction=0.25, split_dir=str(tmp_path / run))
        rec = cfg.data_source['derived_splits']
        assert rec['val_fraction'] == 0.25 and rec['seed'] == 0
        assert cfg.val_dataloader.dataset.split == rec['val'] == str(tmp_path / run / 'val.txt')
        assert cfg.test_dataloader.dataset.split == rec['val']
        discover()
        sizes = {}
        for key in ('train_dataloader', 'val_dataloader'):
            ds_cfg = dict(cfg[key].dataset, pipeline=[])
            sizes[key] = {str(r['img_id']) for r in build('dataset', ds_cfg, key=key).data_list}
        assert len(sizes['val_dataloader']) == 1 and len(sizes['train_dataloader']) == 3
        assert not sizes['val_dataloader'] & sizes['train_dataloader']  # no leak
        lists.append((open(rec['train']).read(), open(rec['val']).read()))
    assert lists[0] == lists[1]  # the same seed, the same split


def test_infer_with_data_takes_class_names_and_num_classes_only(make_dataset, tmp_path):
    """`zoo infer RECIPE CKPT IMAGES --data DIR`: the names and num_classes, no split written."""
    from argparse import Namespace

    from zoo.cli.data_options import prepare_run_config
    from zoo.config import load_config
    data = make_dataset('yolo', val=[])
    (data / 'data.yaml').write_text((data / 'data.yaml').read_text().replace(
        'names: [Platelets, RBC, WBC]', 'names: [a, b, c, d]'))
    cfg = load_config(ZF_BCCD)
    prepare_run_config(cfg, Namespace(data=str(data), classes=None, val_fraction=0.2),
                       str(tmp_path / 'out'), loaders=False)
    assert cfg.classes == ('a', 'b', 'c', 'd') and cfg.model.roi_head.bbox_head.num_classes == 4
    assert cfg.val_dataloader.dataset.type == 'VOCDataset'  # the loaders are left alone
    assert not (tmp_path / 'out').exists()


def test_val_fraction_out_of_range_is_a_config_error(make_dataset, tmp_path, capsys):
    data = make_dataset('yolo', val=[])
    assert main(['train', ZF_BCCD, '--data', str(data), '--work-dir', str(tmp_path / 'w'),
                 '--val-fraction', '1.5']) == 2
    assert '--val-fraction must lie in (0, 1)' in capsys.readouterr().err


def test_unknown_layout_and_classes_without_data_are_config_errors(tmp_path, capsys):
    (tmp_path / 'stuff').mkdir()
    assert main(['train', ZF_BCCD, '--data', str(tmp_path / 'stuff'),
                 '--work-dir', str(tmp_path / 'w')]) == 2
    assert 'none of the known layouts' in capsys.readouterr().err
    assert main(['train', ZF_BCCD, '--classes', 'a', '--work-dir', str(tmp_path / 'w')]) == 2
    assert '--classes needs --data' in capsys.readouterr().err
