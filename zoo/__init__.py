"""The detection zoo's framework: structures and box ops shared by all parts, detectors that
compose parts by name, datasets, transforms, evaluation, runner glue and the ``zoo`` command."""
__version__ = '0.1.0'
