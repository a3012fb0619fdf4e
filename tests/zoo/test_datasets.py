"""VOCDataset and CocoDataset: parsing BCCD, box conventions, bad data, registry builds."""
from __future__ import annotations

import json
import shutil
import warnings
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

import pytest
import torch
from torchvision import tv_tensors

from registry import DATASETS, ConfigError, build
from zoo.datasets import CocoDataset, DatasetError, DatasetWarning, VOCDataset

BCCD = Path(__file__).resolve().parents[2] / 'data' / 'BCCD'
CLASSES = ('RBC', 'WBC', 'Platelets')


def raw_objects(xml_path: Path) -> list[tuple[str, list[float], int]]:
    """(name, [xmin, ymin, xmax, ymax] as written, difficult) of each object, read here
    independently of the dataset code."""
    out = []
    for obj in ET.parse(xml_path).getroot().findall('object'):
        box = [float(obj.find(f'bndbox/{k}').text) for k in ('xmin', 'ymin', 'xmax', 'ymax')]
        out.append((obj.find('name').text, box, int(obj.find('difficult').text)))
    return out


@pytest.fixture(scope='module')
def bccd_all():
    with pytest.warns(DatasetWarning) as record:
        dataset = VOCDataset(str(BCCD), classes=CLASSES)
    return dataset, [str(w.message) for w in record if issubclass(w.category, DatasetWarning)]


# --- BCCD ----------------------------------------------------------------------------------------
def test_bccd_counts_and_degenerate_boxes(bccd_all):
    dataset, messages = bccd_all
    assert len(dataset) == 364
    raw = Counter(name for xml in sorted((BCCD / 'Annotations').glob('*.xml'))
                  for name, _, _ in raw_objects(xml))
    assert raw == {'RBC': 4155, 'WBC': 372, 'Platelets': 361}
    parsed = Counter(CLASSES[i['bbox_label']]
                     for rec in dataset.data_list for i in rec['instances'])
    assert parsed == {'RBC': 4153, 'WBC': 372, 'Platelets': 361}  # 2 zero-size RBC boxes dropped
    # exactly one warning, counting the two boxes and naming both files
    assert len(messages) == 1
    assert 'dropped 2 boxes' in messages[0] and '2 of zero width or height' in messages[0]
    assert 'BloodImage_00338.xml' in messages[0] and 'BloodImage_00343.xml' in messages[0]
    assert dataset.metainfo['classes'] == CLASSES and len(dataset.metainfo['palette']) == 3


@pytest.mark.parametrize('split, size', [('train', 205), ('val', 87), ('test', 72),
                                         ('trainval', 292)])
def test_bccd_split_sizes(split, size):
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', DatasetWarning)
        dataset = VOCDataset(str(BCCD), classes=CLASSES, split=split)
    assert len(dataset) == size
    first = (BCCD / 'ImageSets' / 'Main' / f'{split}.txt').read_text().split()[0]
    assert dataset.data_list[0]['img_id'] == first


def test_voc_box_convention_is_mmdet_minus_one(bccd_all):
    dataset, _ = bccd_all
    idx = [r['img_id'] for r in dataset.data_list].index('BloodImage_00000')
    rec = dataset.data_list[idx]
    objects = raw_objects(BCCD / 'Annotations' / 'BloodImage_00000.xml')
    name, (xmin, ymin, xmax, ymax), _ = objects[0]
    assert name == 'WBC' and (xmin, ymin, xmax, ymax) == (260, 177, 491, 376)
    first = rec['instances'][0]
    assert first['bbox'] == [259.0, 176.0, 490.0, 375.0]  # every coordinate minus 1
    assert first['bbox_label'] == 1 and first['ignore_flag'] == 0
    assert (rec['width'], rec['height']) == (640, 480)
    ann = dataset.get_ann_info(idx)
    assert ann['bboxes'].shape == (len(rec['instances']), 4)
    assert ann['bboxes'].dtype.name == 'float32'
    assert ann['labels'].dtype.name == 'int64' and ann['ignore_flags'].dtype == bool
    assert dataset.get_cat_ids(idx) == [i['bbox_label'] for i in rec['instances']]


def test_results_dict_without_pipeline(bccd_all):
    dataset, _ = bccd_all
    results = dataset[0]  # an empty pipeline returns the results dict itself
    assert set(results) >= {'img_path', 'img_id', 'ori_shape', 'img_shape', 'instances',
                            'gt_bboxes', 'gt_labels', 'gt_ignore_flags', 'scale_factor', 'flip'}
    assert 'img' not in results  # LoadImageFromFile reads the image, not the dataset
    boxes = results['gt_bboxes']
    assert isinstance(boxes, tv_tensors.BoundingBoxes)
    assert boxes.format == tv_tensors.BoundingBoxFormat.XYXY
    assert tuple(boxes.canvas_size) == (480, 640) and results['ori_shape'] == (480, 640)
    assert boxes.dtype == torch.float32 and boxes.shape == (len(results['instances']), 4)
    assert results['gt_labels'].dtype == torch.int64
    assert results['gt_ignore_flags'].dtype == torch.bool
    assert boxes.tolist() == [i['bbox'] for i in results['instances']]
    # the results dict is a copy: editing it leaves the dataset alone
    results['instances'][0]['bbox'][0] = -5.0
    assert dataset.data_list[0]['instances'][0]['bbox'][0] != -5.0


def test_indices_and_registry_build():
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', DatasetWarning)
        tiny = build('dataset', dict(type='VOCDataset', data_root=str(BCCD), classes=CLASSES,
                                     split='val', indices=4))
        picked = VOCDataset(str(BCCD), classes=CLASSES, split='val', indices=[3, 0])
    assert len(tiny) == 4
    assert [r['img_id'] for r in picked.data_list] == [tiny.data_list[3]['img_id'],
                                                       tiny.data_list[0]['img_id']]
    assert DATASETS.get('VOCDataset') is VOCDataset and DATASETS.get('CocoDataset') is CocoDataset
    with pytest.raises(ConfigError, match='`indices` holds 1000, but the dataset has 87'), \
            warnings.catch_warnings():
        warnings.simplefilter('ignore', DatasetWarning)
        VOCDataset(str(BCCD), classes=CLASSES, split='val', indices=[1000])


def test_mmengine_builds_the_dataset_with_default_scope():
    from mmengine.registry import DATASETS as MM_DATASETS, DefaultScope
    with DefaultScope.overwrite_default_scope('zoo'), warnings.catch_warnings():
        warnings.simplefilter('ignore', DatasetWarning)
        dataset = MM_DATASETS.build(dict(type='VOCDataset', data_root=str(BCCD), classes=CLASSES,
                                         split='test'))
    assert isinstance(dataset, VOCDataset) and len(dataset) == 72


# --- a small VOC folder with defects -------------------------------------------------------------
def make_voc(tmp_path: Path, ids=('BloodImage_00000', 'BloodImage_00001', 'BloodImage_00002')):
    root = tmp_path / 'voc'
    (root / 'Annotations').mkdir(parents=True)
    (root / 'JPEGImages').mkdir()
    for i in ids:
        shutil.copy(BCCD / 'Annotations' / f'{i}.xml', root / 'Annotations')
        shutil.copy(BCCD / 'JPEGImages' / f'{i}.jpg', root / 'JPEGImages')
    return root


def test_malformed_xml_names_the_file(tmp_path):
    root = make_voc(tmp_path)
    bad = root / 'Annotations' / 'BloodImage_00001.xml'
    bad.write_text(bad.read_text()[:300])  # truncated mid-element
    with pytest.raises(DatasetError, match='BloodImage_00001.xml.*malformed XML') as err:
        VOCDataset(str(root), classes=CLASSES)
    assert err.value.path.endswith('BloodImage_00001.xml')

    with pytest.warns(DatasetWarning, match=r'skipped 1 sample.*BloodImage_00001\.xml'):
        dataset = VOCDataset(str(root), classes=CLASSES, skip_bad_samples=True)
    assert len(dataset) == 2
    assert [b.stage for b in dataset.bad_samples] == ['annotation']
    assert dataset.bad_samples[0].path.endswith('BloodImage_00001.xml')


def test_non_numeric_coordinate_is_malformed(tmp_path):
    root = make_voc(tmp_path, ids=('BloodImage_00000',))
    xml = root / 'Annotations' / 'BloodImage_00000.xml'
    xml.write_text(xml.read_text().replace('<xmin>260</xmin>', '<xmin>abc</xmin>'))
    with pytest.raises(DatasetError, match=r"BloodImage_00000.xml.*bndbox/xmin.*'abc'"):
        VOCDataset(str(root), classes=CLASSES)


def test_unknown_class_is_a_config_error(tmp_path):
    root = make_voc(tmp_path, ids=('BloodImage_00000',))
    with pytest.raises(ConfigError) as err:
        VOCDataset(str(root), classes=('RBC', 'Platelets'))
    msg = str(err.value)
    assert 'BloodImage_00000.xml' in msg and "'WBC'" in msg and "('RBC', 'Platelets')" in msg


def test_difficult_becomes_ignored_and_outside_is_clipped_or_dropped(tmp_path):
    root = make_voc(tmp_path, ids=('BloodImage_00000',))
    xml = root / 'Annotations' / 'BloodImage_00000.xml'
    text = xml.read_text()
    text = text.replace('<difficult>0</difficult>', '<difficult>1</difficult>', 1)  # the WBC
    text = text.replace('</annotation>', (
        '<object><name>RBC</name><difficult>0</difficult><bndbox><xmin>0</xmin><ymin>11</ymin>'
        '<xmax>51</xmax><ymax>61</ymax></bndbox></object>'           # x1 = -1: clipped to 0
        '<object><name>RBC</name><difficult>0</difficult><bndbox><xmin>700</xmin><ymin>10</ymin>'
        '<xmax>750</xmax><ymax>60</ymax></bndbox></object></annotation>'))  # wholly outside
    xml.write_text(text)
    with pytest.warns(DatasetWarning) as record:
        dataset = VOCDataset(str(root), classes=CLASSES)
    (message,) = [str(w.message) for w in record]
    assert 'dropped 1 box (1 of outside the image)' in message and 'clipped 1 box' in message
    inst = dataset.data_list[0]['instances']
    assert inst[0]['ignore_flag'] == 1 and inst[0]['bbox_label'] == 1
    assert inst[-1]['bbox'] == [0.0, 10.0, 50.0, 60.0]
    results = dataset[0]
    assert results['gt_ignore_flags'].tolist() == [True] + [False] * (len(inst) - 1)


def test_split_file_missing_is_an_error_naming_the_file(tmp_path):
    root = make_voc(tmp_path)  # never a silent switch to every annotation (issue #16)
    with pytest.raises(ConfigError, match=r'split file .*ImageSets/Main/trian\.txt does not exist'):
        VOCDataset(str(root), classes=CLASSES, split='trian')
    assert len(VOCDataset(str(root), classes=CLASSES)) == 3  # no split: every XML file
    with pytest.raises(ConfigError, match='not a folder'):
        VOCDataset(str(tmp_path / 'nowhere'), classes=CLASSES)


def test_filter_empty_gt(tmp_path):
    root = make_voc(tmp_path)
    xml = root / 'Annotations' / 'BloodImage_00002.xml'
    tree = ET.parse(xml)
    for obj in tree.getroot().findall('object'):
        tree.getroot().remove(obj)
    tree.write(xml)
    assert len(VOCDataset(str(root), classes=CLASSES)) == 3
    assert len(VOCDataset(str(root), classes=CLASSES, filter_empty_gt=True)) == 2
    assert len(VOCDataset(str(root), classes=CLASSES, filter_empty_gt=True, test_mode=True)) == 3


def test_bad_images_raise_or_are_skipped(tmp_path):
    root = make_voc(tmp_path)
    (root / 'JPEGImages' / 'BloodImage_00001.jpg').write_bytes(b'\xff\xd8 not really a jpeg')
    (root / 'JPEGImages' / 'BloodImage_00002.jpg').unlink()
    pipeline = [dict(type='LoadImageFromFile')]
    dataset = VOCDataset(str(root), classes=CLASSES, pipeline=pipeline)
    assert dataset[0]['img'].shape == (3, 480, 640)
    with pytest.raises(DatasetError, match=r'cannot decode image .*BloodImage_00001\.jpg'):
        dataset[1]
    with pytest.raises(DatasetError, match=r'image file not found: .*BloodImage_00002\.jpg'):
        dataset[2]

    dataset = VOCDataset(str(root), classes=CLASSES, pipeline=pipeline, skip_bad_samples=True)
    with pytest.warns(DatasetWarning) as record:
        out = dataset[1]  # the next good sample: 2 is missing too, so wrap around to 0
    assert out['img_id'] == 'BloodImage_00000'
    messages = [str(w.message) for w in record if w.category is DatasetWarning]
    assert len(messages) == 2
    assert 'sample 1' in messages[0] and 'BloodImage_00001.jpg' in messages[0]
    assert 'sample 2' in messages[1] and 'BloodImage_00002.jpg' in messages[1]
    with warnings.catch_warnings():
        warnings.simplefilter('error', DatasetWarning)  # known bad samples are not re-reported
        assert dataset[2]['img_id'] == 'BloodImage_00000'
    assert [(b.stage, b.index) for b in dataset.bad_samples] == [('image', 1), ('image', 2)]
    with pytest.warns(DatasetWarning, match='skipped 2 bad samples'):
        report = dataset.report()
    assert 'BloodImage_00001.jpg' in report and 'BloodImage_00002.jpg' in report


def test_image_size_disagreeing_with_annotation(tmp_path):
    root = make_voc(tmp_path, ids=('BloodImage_00000',))
    xml = root / 'Annotations' / 'BloodImage_00000.xml'
    xml.write_text(xml.read_text().replace('<width>640</width>', '<width>800</width>'))
    dataset = VOCDataset(str(root), classes=CLASSES, pipeline=[dict(type='LoadImageFromFile')])
    with pytest.raises(DatasetError, match=r'is 640x480 pixels .* annotation says 800x480'):
        dataset[0]


# --- COCO --------------------------------------------------------------------------------------
def make_coco(tmp_path: Path) -> Path:
    """A COCO file of two BCCD images; categories deliberately not in id order."""
    images, anns = [], []
    for img_id, stem in ((7, 'BloodImage_00000'), (9, 'BloodImage_00001')):
        images.append(dict(id=img_id, file_name=f'{stem}.jpg', width=640, height=480))
        for name, (x1, y1, x2, y2), _ in raw_objects(BCCD / 'Annotations' / f'{stem}.xml'):
            anns.append(dict(id=len(anns) + 1, image_id=img_id,
                             category_id={'RBC': 3, 'WBC': 1, 'Platelets': 2}[name],
                             bbox=[x1, y1, x2 - x1, y2 - y1], area=(x2 - x1) * (y2 - y1),
                             iscrowd=0))
    anns[1]['iscrowd'] = 1
    anns.append(dict(id=len(anns) + 1, image_id=9, category_id=3, bbox=[10, 10, 0, 5],
                     area=0, iscrowd=0))  # zero width: dropped
    cats = [dict(id=3, name='RBC'), dict(id=1, name='WBC'), dict(id=2, name='Platelets')]
    path = tmp_path / 'ann.json'
    path.write_text(json.dumps(dict(images=images, annotations=anns, categories=cats)))
    return path


def test_coco_dataset(tmp_path):
    path = make_coco(tmp_path)
    with pytest.warns(DatasetWarning, match=r'dropped 1 box .*BloodImage_00001\.jpg'):
        dataset = CocoDataset(str(path), img_prefix=str(BCCD / 'JPEGImages'),
                              pipeline=[dict(type='LoadImageFromFile')])
    assert dataset.metainfo['classes'] == ('WBC', 'Platelets', 'RBC')  # by category id
    assert dataset.cat_ids == [1, 2, 3]
    assert [r['img_id'] for r in dataset.data_list] == [7, 9]
    rec = dataset.data_list[0]
    first = raw_objects(BCCD / 'Annotations' / 'BloodImage_00000.xml')[0]
    assert rec['instances'][0] == dict(bbox=first[1], bbox_label=0, ignore_flag=0)  # xywh -> xyxy
    assert rec['instances'][1]['ignore_flag'] == 1  # iscrowd
    out = dataset[1]
    assert out['img'].shape == (3, 480, 640) and out['img_id'] == 9
    assert len(out['instances']) == len(raw_objects(BCCD / 'Annotations' / 'BloodImage_00001.xml'))

    with warnings.catch_warnings():
        warnings.simplefilter('ignore', DatasetWarning)
        chosen = CocoDataset(str(path), classes=('RBC', 'WBC'))
    assert chosen.cat_ids == [3, 1]
    labels = {i['bbox_label'] for r in chosen.data_list for i in r['instances']}
    assert labels == {0, 1}  # Platelets boxes left out
    with pytest.raises(ConfigError, match=r"\['Neutrophil'\] are not categories"):
        CocoDataset(str(path), classes=('RBC', 'Neutrophil'))


def test_coco_malformed_json_names_the_file(tmp_path):
    path = tmp_path / 'broken.json'
    path.write_text('{"images": [ {"id": 1,, }')
    with pytest.raises(DatasetError, match=r'broken\.json: malformed JSON: .* line 1 column'):
        CocoDataset(str(path))
    path.write_text('{"images": [], "annotations": []}')
    with pytest.raises(DatasetError, match=r'broken\.json.*`categories` must be a list'):
        CocoDataset(str(path))
    with pytest.raises(DatasetError, match=r'missing\.json: COCO annotation file not found'):
        CocoDataset(str(tmp_path / 'missing.json'))


def test_coco_bad_image_entry_skipped(tmp_path):
    path = make_coco(tmp_path)
    data = json.loads(path.read_text())
    del data['images'][0]['width']
    path.write_text(json.dumps(data))
    with pytest.raises(DatasetError, match=r'image id 7 .*`width` is None'):
        CocoDataset(str(path))
    with pytest.warns(DatasetWarning) as record:
        dataset = CocoDataset(str(path), skip_bad_samples=True)
    messages = [str(w.message) for w in record if w.category is DatasetWarning]
    assert len(messages) == 2 and 'dropped 1 box' in messages[0]
    assert 'skipped 1 sample' in messages[1] and 'image id 7' in messages[1]
    assert [r['img_id'] for r in dataset.data_list] == [9]


def test_runner_builds_a_dataloader_from_config():
    """The config form the Runner uses: dataset + pipeline + sampler + pseudo_collate."""
    from mmengine.registry import DefaultScope
    from mmengine.runner import Runner
    cfg = dict(batch_size=2, num_workers=0,
               sampler=dict(type='DefaultSampler', shuffle=False),
               dataset=dict(type='VOCDataset', data_root=str(BCCD), classes=CLASSES,
                            split='val', indices=4, test_mode=True,
                            pipeline=[dict(type='LoadImageFromFile'),
                                      dict(type='Resize', scale=(1000, 600), keep_ratio=True),
                                      dict(type='PackDetInputs')]))
    with DefaultScope.overwrite_default_scope('zoo'), warnings.catch_warnings():
        warnings.simplefilter('ignore', DatasetWarning)
        loader = Runner.build_dataloader(cfg)
    batch = next(iter(loader))
    assert len(batch['inputs']) == 2 and batch['inputs'][0].shape == (3, 600, 800)
    assert batch['data_samples'][1].img_id == loader.dataset.data_list[1]['img_id']
