"""Building a detector from the ``model`` section of a config, at key path ``model``."""
from __future__ import annotations

import registry


def build_detector(cfg: dict):
    """Build ``cfg`` (the config's ``model`` dict) as a detector; errors name ``model.<key>``.

    Raises:
        UnknownPartError, ConfigError, AssemblyError: see :func:`registry.build` and the
            detector's own checks.
    """
    return registry.build('detector', cfg, key='model')
