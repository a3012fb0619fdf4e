"""The zoo's built-in parts, one folder per kind. Importing this package registers them; it is
declared in the entry-point group ``zoo.plugins`` as ``builtin``, exactly as a third-party plugin."""
from . import heads  # noqa: F401
from . import anchor_generators, coders, assigners, samplers  # noqa: F401
from . import backbones, necks, roi_extractors, losses  # noqa: F401
