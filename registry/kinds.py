"""The catalogues: one per kind of part.

=================  ======================  =========================================
kind               catalogue               examples
=================  ======================  =========================================
backbone           ``BACKBONES``           ZFNet, VGG, ResNet
neck               ``NECKS``               FPN
anchor_generator   ``ANCHOR_GENERATORS``   AnchorGenerator (anchor schemes)
roi_extractor      ``ROI_EXTRACTORS``      SingleRoIExtractor, RoIAlign, RoIPool
head               ``HEADS``               RPNHead, StandardRoIHead, Shared2FCBBoxHead
loss               ``LOSSES``              CrossEntropyLoss, SmoothL1Loss
coder              ``BBOX_CODERS``         DeltaXYWHBBoxCoder
assigner           ``ASSIGNERS``           MaxIoUAssigner
sampler            ``SAMPLERS``            RandomSampler
detector           ``DETECTORS``           FasterRCNN (child of mmengine's MODELS)
dataset            ``DATASETS``            VOCDataset (child of mmengine's DATASETS)
transform          ``TRANSFORMS``          Resize (child of mmengine's TRANSFORMS)
metric             ``METRICS``             CocoMetric (child of mmengine's METRICS)
loop               ``LOOPS``               (child of mmengine's LOOPS)
=================  ======================  =========================================
"""
from __future__ import annotations

from mmengine import registry as mm

from .catalogue import Catalogue
from .errors import ConfigError

BACKBONES = Catalogue('backbone', 'backbone')
NECKS = Catalogue('neck', 'neck')
ANCHOR_GENERATORS = Catalogue('anchor_generator', 'anchor scheme')
ROI_EXTRACTORS = Catalogue('roi_extractor', 'RoI extractor')
HEADS = Catalogue('head', 'head')
LOSSES = Catalogue('loss', 'loss')
BBOX_CODERS = Catalogue('coder', 'box coder')
ASSIGNERS = Catalogue('assigner', 'assigner')
SAMPLERS = Catalogue('sampler', 'sampler')
DETECTORS = Catalogue('detector', 'detector', parent=mm.MODELS)
DATASETS = Catalogue('dataset', 'dataset', parent=mm.DATASETS)
TRANSFORMS = Catalogue('transform', 'transform', parent=mm.TRANSFORMS)
METRICS = Catalogue('metric', 'metric', parent=mm.METRICS)
LOOPS = Catalogue('loop', 'loop', parent=mm.LOOPS)

# mmengine's Runner looks for a child of scope 'zoo' in every root registry it builds from
# (hooks, optimizers, schedulers, ...) and warns where there is none; like mmdet's registry.py, give
# each remaining root an empty child, so lookups fall through to mmengine's own parts quietly.
_MM_CHILDREN = {
    name: mm.Registry(reg.name, parent=reg, scope='zoo')
    for name, reg in sorted(vars(mm).items())
    if isinstance(reg, mm.Registry) and reg.parent is None and 'zoo' not in reg.children
}

CATALOGUES: dict[str, Catalogue] = {c.kind: c for c in (
    BACKBONES, NECKS, ANCHOR_GENERATORS, ROI_EXTRACTORS, HEADS, LOSSES, BBOX_CODERS, ASSIGNERS,
    SAMPLERS, DETECTORS, DATASETS, TRANSFORMS, METRICS, LOOPS)}

_ALIASES = {
    'anchor': 'anchor_generator', 'anchors': 'anchor_generator', 'anchor_scheme': 'anchor_generator',
    'prior_generator': 'anchor_generator', 'roi': 'roi_extractor', 'roi_layer': 'roi_extractor',
    'bbox_coder': 'coder', 'box_coder': 'coder', 'model': 'detector', 'evaluator': 'metric',
}


def catalogue(kind: str) -> Catalogue:
    """The catalogue of ``kind`` (identifier, plural, or alias such as ``anchors``).

    Raises:
        ConfigError: no such kind; the message lists the kinds.
    """
    key = kind.strip().lower().replace('-', '_').replace(' ', '_')
    for candidate in (key, key[:-1] if key.endswith('s') else key, key[:-2] if key.endswith('es') else key):
        candidate = _ALIASES.get(candidate, candidate)
        if candidate in CATALOGUES:
            return CATALOGUES[candidate]
    raise ConfigError(f'unknown kind of part {kind!r}; the kinds are: {", ".join(CATALOGUES)}')
