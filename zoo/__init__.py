"""The detection zoo's framework: structures and box ops shared by all parts, detectors that
compose parts by name, datasets, transforms, evaluation, runner glue and the ``zoo`` command.

``zoo.Detector`` and ``zoo.Detections`` (the Python inference API, :mod:`zoo.inference`) are
imported on first use, so that ``import zoo`` and the ``zoo`` command stay light.
"""
__version__ = '0.1.0'

_LAZY = {'Detector': 'zoo.inference', 'Detections': 'zoo.inference'}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
