"""The runner's checkpoint glue: the safe loader of :mod:`zoo.checkpoint` (it lives there, below the
transforms and the detectors that load files with it, so that no import cycle runs through the
runner) and atomic saving (:mod:`zoo.runner.atomic`)."""
from zoo.checkpoint import (SAFE_GLOBALS, CheckpointError, last_loaded, load_checkpoint_file,
                            resolve_checkpoint)
from zoo.checkpoint import install as _install_loader

__all__ = ['SAFE_GLOBALS', 'CheckpointError', 'install', 'last_loaded', 'load_checkpoint_file',
           'resolve_checkpoint']


def install() -> None:
    """Make mmengine save and load checkpoints the zoo's way (idempotent): the safe loader and
    atomic writes."""
    from . import atomic
    _install_loader()
    atomic.install()
