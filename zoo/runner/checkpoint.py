"""The runner's name for :mod:`zoo.checkpoint` (the safe checkpoint loader lives there, below the
transforms and the detectors that load files with it, so that no import cycle runs through the
runner)."""
from zoo.checkpoint import SAFE_GLOBALS, CheckpointError, install, load_checkpoint_file, resolve_checkpoint

__all__ = ['SAFE_GLOBALS', 'CheckpointError', 'install', 'load_checkpoint_file', 'resolve_checkpoint']
