"""The framework's own registered parts: detectors, datasets, transforms, metrics and loops.

Declared in the entry-point group ``zoo.plugins`` as ``zoo`` (see pyproject.toml), so plugin
discovery imports this module and these parts are listed under the plugin ``zoo``.
"""
from . import datasets, detectors, evaluation, transforms  # noqa: F401
from .runner import alternating_loop  # noqa: F401  (AlternatingTrainLoop)
