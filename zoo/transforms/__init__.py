"""Per-sample transforms (on the results dict of :mod:`zoo.datasets`) and the batch
preprocessor, built on ``torchvision.transforms.v2`` and ``tv_tensors``.

Importing this package registers, in the ``transform`` catalogue: ``Compose``,
``LoadImageFromFile``, ``LoadProposals``, ``Resize``, ``RandomFlip``, ``PhotoMetricDistortion``,
``Mosaic``, ``RandomAffine``, ``SanitizeBoxes``, ``PackDetInputs``, ``DetDataPreprocessor`` and its batch
augmentation ``BatchSyncRandomResize`` (multi-scale training).

A BCCD training pipeline (py-faster-rcnn's: short side 600, long side at most 1000, flip)::

    train_pipeline = [
        dict(type='LoadImageFromFile'),
        dict(type='Resize', scale=(1000, 600), keep_ratio=True),
        dict(type='RandomFlip', prob=0.5),
        dict(type='SanitizeBoxes', min_size=1),
        dict(type='PackDetInputs'),
    ]
"""
from .batch_resize import BatchSyncRandomResize
from .compose import Compose
from .data_preprocessor import DetDataPreprocessor
from .flip import RandomFlip
from .formatting import DEFAULT_META_KEYS, PackDetInputs
from .load_proposals import LoadProposals, load_proposal_file, save_proposal_file
from .loading import LoadImageFromFile
from .affine import RandomAffine
from .mosaic import Mosaic
from .photometric import PhotoMetricDistortion
from .resize import Resize, rescale_size
from .sanitize import SanitizeBoxes

__all__ = ['BatchSyncRandomResize', 'Mosaic', 'RandomAffine', 'Compose', 'DetDataPreprocessor', 'RandomFlip',
           'DEFAULT_META_KEYS', 'PackDetInputs', 'LoadImageFromFile', 'LoadProposals',
           'load_proposal_file', 'save_proposal_file', 'PhotoMetricDistortion', 'Resize',
           'rescale_size', 'SanitizeBoxes']
