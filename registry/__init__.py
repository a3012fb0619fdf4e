"""The zoo's catalogues of parts, plugin discovery and assembly-time checks.

A plugin registers parts with the catalogue of their kind::

    from registry import BACKBONES

    @BACKBONES.register_module()
    class TinyNet(torch.nn.Module):
        ...

and declares its module in the entry-point group ``zoo.plugins`` of its pyproject.toml. Parts
are built from config dicts by :func:`build`, which names the config key path in every error.
This package depends on mmengine and entrypoints only.
"""
from .build import build, current_key_path, key_path, resolve, suggest
from .catalogue import Catalogue, PartInfo
from .contracts import FeatureSpec, Requires, check_link
from .discovery import PluginRecord, discover, owner_of
from .errors import AssemblyError, ConfigError, DuplicatePartError, UnknownPartError, ZooError
from .kinds import (ANCHOR_GENERATORS, ASSIGNERS, BACKBONES, BBOX_CODERS, CATALOGUES, DATASETS,
                    DETECTORS, HEADS, LOOPS, LOSSES, METRICS, NECKS, ROI_EXTRACTORS, SAMPLERS,
                    TRANSFORMS, catalogue)
from .validate import validate_types

__all__ = [
    'build', 'current_key_path', 'key_path', 'resolve', 'suggest', 'Catalogue', 'PartInfo',
    'FeatureSpec', 'Requires', 'check_link', 'PluginRecord', 'discover', 'owner_of',
    'AssemblyError', 'ConfigError', 'DuplicatePartError', 'UnknownPartError', 'ZooError',
    'ANCHOR_GENERATORS', 'ASSIGNERS', 'BACKBONES', 'BBOX_CODERS', 'CATALOGUES', 'DATASETS',
    'DETECTORS', 'HEADS', 'LOOPS', 'LOSSES', 'METRICS', 'NECKS', 'ROI_EXTRACTORS', 'SAMPLERS',
    'TRANSFORMS', 'catalogue', 'validate_types',
]
