"""The same few BCCD images and boxes as a Pascal VOC, a COCO and a YOLO folder, each written
here by hand from the BCCD XML files (not by `zoo data convert`, which the tests check against
them): VOC copies the XML; COCO's bbox is [xmin - 1, ymin - 1, xmax - xmin, ymax - ymin];
YOLO's line is the class id and ((xmin - 1 + xmax - 1) / 2 / W, ..., (xmax - xmin) / W, ...)."""
import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BCCD = ROOT / 'data' / 'BCCD'
ZF_BCCD = str(ROOT / 'configs' / 'faster_rcnn' / 'faster_rcnn_zf_bccd.py')
CLASSES = ('Platelets', 'RBC', 'WBC')  # VOC --data: the sorted names of the training split
TRAIN = ['BloodImage_00000', 'BloodImage_00001', 'BloodImage_00002', 'BloodImage_00003']
VAL = ['BloodImage_00004', 'BloodImage_00005']
TINY = ['train_cfg.max_epochs=1', 'train_dataloader.batch_size=1',
        'train_dataloader.num_workers=0', 'train_dataloader.persistent_workers=False',
        'val_dataloader.num_workers=0', 'val_dataloader.persistent_workers=False',
        'test_dataloader.num_workers=0', 'test_dataloader.persistent_workers=False',
        'train_dataloader.dataset.pipeline.1.scale=(160,120)',
        'val_dataloader.dataset.pipeline.1.scale=(160,120)',
        'test_dataloader.dataset.pipeline.1.scale=(160,120)',
        'model.roi_head.bbox_head.fc_out_channels=64',
        'model.train_cfg.rpn_proposal.nms_pre=300', 'model.train_cfg.rpn_proposal.max_per_img=50',
        'model.train_cfg.rcnn.sampler.num=32', 'model.test_cfg.rpn.nms_pre=300',
        'model.test_cfg.rpn.max_per_img=30', 'randomness.seed=0']


def voc_objects(stem):
    """[(name, (xmin, ymin, xmax, ymax) ints as written)] of a BCCD XML file."""
    root = ET.parse(BCCD / 'Annotations' / f'{stem}.xml').getroot()
    return [(o.findtext('name').strip(),
             tuple(int(o.findtext(f'bndbox/{t}')) for t in ('xmin', 'ymin', 'xmax', 'ymax')))
            for o in root.findall('object')]


def _link(src, dst):
    """A copy (never a hard link: tests edit these files, and data/BCCD must stay as it is)."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(src, dst)


def make_voc(root, train=TRAIN, val=VAL):
    for stem in train + val:
        _link(BCCD / 'Annotations' / f'{stem}.xml', root / 'Annotations' / f'{stem}.xml')
        _link(BCCD / 'JPEGImages' / f'{stem}.jpg', root / 'JPEGImages' / f'{stem}.jpg')
    main = root / 'ImageSets' / 'Main'
    main.mkdir(parents=True)
    (main / 'train.txt').write_text(''.join(f'{s}\n' for s in train))
    if val:
        (main / 'val.txt').write_text(''.join(f'{s}\n' for s in val))
    return root


def make_coco(root, train=TRAIN, val=VAL):
    (root / 'annotations').mkdir(parents=True)
    cats = [{'id': i + 1, 'name': n} for i, n in enumerate(CLASSES)]
    img_id = 0
    for split, stems in (('train', train), ('val', val)):
        if not stems:
            continue
        images, anns = [], []
        for stem in stems:
            img_id += 1
            _link(BCCD / 'JPEGImages' / f'{stem}.jpg', root / 'images' / split / f'{stem}.jpg')
            images.append({'id': img_id, 'file_name': f'{stem}.jpg', 'width': 640, 'height': 480})
            for name, (x1, y1, x2, y2) in voc_objects(stem):
                anns.append({'id': len(anns) + 1, 'image_id': img_id,
                             'category_id': CLASSES.index(name) + 1, 'iscrowd': 0,
                             'bbox': [x1 - 1, y1 - 1, x2 - x1, y2 - y1],
                             'area': (x2 - x1) * (y2 - y1)})
        (root / 'annotations' / f'instances_{split}.json').write_text(
            json.dumps({'images': images, 'annotations': anns, 'categories': cats}))
    return root


def yolo_line(name, box, w=640, h=480):
    x1, y1, x2, y2 = (v - 1 for v in box)
    return (f'{CLASSES.index(name)} {repr((x1 + x2) / 2 / w)} {repr((y1 + y2) / 2 / h)} '
            f'{repr((x2 - x1) / w)} {repr((y2 - y1) / h)}\n')


def make_yolo(root, train=TRAIN, val=VAL):
    splits = {'train': train, 'val': val}
    for split, stems in splits.items():
        for stem in stems:
            _link(BCCD / 'JPEGImages' / f'{stem}.jpg', root / 'images' / split / f'{stem}.jpg')
            label = root / 'labels' / split / f'{stem}.txt'
            label.parent.mkdir(parents=True, exist_ok=True)
            label.write_text(''.join(yolo_line(n, b) for n, b in voc_objects(stem)))
    lines = ['path: .', 'train: images/train'] + (['val: images/val'] if val else [])
    lines.append('names: [' + ', '.join(CLASSES) + ']')
    (root / 'data.yaml').write_text('\n'.join(lines) + '\n')
    return root


def make_roboflow_coco(root, train=TRAIN, val=VAL):
    """Roboflow's COCO export: ``train/`` and ``valid/``, each with its images and a
    ``_annotations.coco.json``, category 0 the project (``supercategory: none``, no box) and the
    classes 1..3 with it as their supercategory; the boxes as in :func:`make_coco`."""
    make_coco(root / 'coco', train, val)
    cats = [{'id': 0, 'name': 'cells', 'supercategory': 'none'}] + [
        {'id': i + 1, 'name': n, 'supercategory': 'cells'} for i, n in enumerate(CLASSES)]
    for split, folder in (('train', 'train'), ('val', 'valid')):
        ann = root / 'coco' / 'annotations' / f'instances_{split}.json'
        if not ann.exists():
            continue
        data = json.loads(ann.read_text())
        for image in data['images']:
            _link(root / 'coco' / 'images' / split / image['file_name'],
                  root / folder / image['file_name'])
        data['categories'] = cats
        (root / folder / '_annotations.coco.json').write_text(json.dumps(data))
    shutil.rmtree(root / 'coco')
    (root / 'README.roboflow.txt').write_text('exported from roboflow.com\n')
    return root


def make_roboflow_voc(root, train=TRAIN, val=VAL):
    """Roboflow's Pascal VOC export: ``train/`` and ``valid/``, each holding its images and
    their XML files side by side (the BCCD XML copied as it is), no ``ImageSets``."""
    for folder, stems in (('train', train), ('valid', val)):
        for stem in stems:
            _link(BCCD / 'Annotations' / f'{stem}.xml', root / folder / f'{stem}.xml')
            _link(BCCD / 'JPEGImages' / f'{stem}.jpg', root / folder / f'{stem}.jpg')
    (root / 'README.roboflow.txt').write_text('exported from roboflow.com\n')
    return root


def make_roboflow_yolo(root, train=TRAIN, val=VAL):
    """Roboflow's YOLOv8 export: ``train/images``, ``train/labels``, ``valid/images``,
    ``valid/labels`` and a ``data.yaml`` without ``path`` whose splits are written one level up
    (``../train/images``), as Roboflow writes them; the labels as in :func:`make_yolo`."""
    for folder, stems in (('train', train), ('valid', val)):
        for stem in stems:
            _link(BCCD / 'JPEGImages' / f'{stem}.jpg', root / folder / 'images' / f'{stem}.jpg')
            label = root / folder / 'labels' / f'{stem}.txt'
            label.parent.mkdir(parents=True, exist_ok=True)
            label.write_text(''.join(yolo_line(n, b) for n, b in voc_objects(stem)))
    (root / 'data.yaml').write_text(
        'train: ../train/images\nval: ../valid/images\n\nnc: 3\n'
        f"names: {list(CLASSES)}\n\nroboflow:\n  workspace: me\n  project: cells\n  version: 1\n")
    return root


def instances_of(source, split):
    """{image file name: (boxes, labels)} of ``split`` built from ``source`` as --data builds it."""
    import numpy as np

    from registry import build, discover
    discover()
    ds = build('dataset', dict(source.dataset_cfg(split), pipeline=[]), key=split)
    out = {}
    for info in ds.data_list:
        boxes = np.array([i['bbox'] for i in info['instances']], dtype=np.float32)
        labels = [i['bbox_label'] for i in info['instances']]
        out[info['img_path'].rsplit('/', 1)[-1]] = (boxes, labels)
    return out


def assert_same_data(a, b, split, stems):
    """The sources ``a`` and ``b`` read the same images (``<stem>.jpg`` for ``stems``), boxes and
    labels for ``split``."""
    import numpy as np

    x, y = instances_of(a, split), instances_of(b, split)
    assert sorted(x) == sorted(f'{s}.jpg' for s in stems) == sorted(y)
    for name in x:
        assert x[name][1] == y[name][1]
        np.testing.assert_array_equal(x[name][0], y[name][0])


MAKERS = {'voc': make_voc, 'coco': make_coco, 'yolo': make_yolo, 'roboflow': make_roboflow_coco,
          'roboflow_voc': make_roboflow_voc, 'roboflow_yolo': make_roboflow_yolo}
