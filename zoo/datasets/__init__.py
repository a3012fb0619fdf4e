"""Detection datasets: Pascal VOC XML (BCCD), COCO JSON and YOLO txt, served through transform
pipelines.

Importing this package registers ``VOCDataset``, ``CocoDataset`` and ``YOLODataset`` in the
``dataset`` catalogue. The pixel rule of each format is in :mod:`zoo.datasets.pixel_rules`.
The records, the results dict handed to the pipeline and the handling of bad data
are described in :mod:`zoo.datasets.base_det_dataset`.
"""
from .base_det_dataset import BaseDetDataset, default_palette
from .coco import CocoDataset, load_coco_json
from .errors import DatasetError, DatasetWarning
from .reporting import BadSample, BoxLedger
from .voc import VOCDataset
from .yolo import YOLODataset

__all__ = ['BaseDetDataset', 'default_palette', 'CocoDataset', 'load_coco_json', 'DatasetError',
           'DatasetWarning', 'BadSample', 'BoxLedger', 'VOCDataset', 'YOLODataset']
