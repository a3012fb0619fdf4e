"""Glue between the zoo and mmengine's ``Runner``: checkpoints, hooks, building a runner."""
from .checkpoint import CheckpointError, install, load_checkpoint_file
from .nonfinite import NonFiniteError, NonFiniteLossError

__all__ = ['CheckpointError', 'install', 'load_checkpoint_file', 'NonFiniteError', 'NonFiniteLossError']
