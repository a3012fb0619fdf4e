"""Checkpoints that load with ``torch.load(weights_only=True)`` and a short allowlist, and
finding the checkpoint of a work dir (:func:`resolve_checkpoint`).

mmengine 0.10.7 calls ``torch.load`` without ``weights_only``; under torch >= 2.6 that means
``weights_only=True``, and its own checkpoints then fail to load: they hold the message hub's
``HistoryBuffer`` objects (numpy arrays of logged values) whose default pickle refers to bound
methods through ``getattr``. The fix here, installed by :func:`install`:

* ``HistoryBuffer`` pickles through its constructor arguments (a ``copyreg`` reducer), so no
  ``getattr`` is ever stored;
* the few types a checkpoint holds are allowlisted (:data:`SAFE_GLOBALS`): ``HistoryBuffer``,
  numpy arrays, dtypes and scalars, ``collections.Counter`` and ``codecs.encode`` (numpy's
  byte payloads);
* mmengine's local-file loader is replaced (through its public ``register_scheme``) by
  :func:`load_checkpoint_file`, which never passes ``weights_only=False``. A file holding any
  other pickled object is refused with :class:`CheckpointError`, naming the file and the object.
"""
from __future__ import annotations

import codecs
import collections
import copyreg
import glob
import os
import pickle
from typing import Any

import numpy as np
import torch
from mmengine.logging.history_buffer import HistoryBuffer
from mmengine.runner.checkpoint import CheckpointLoader

from registry import ConfigError, ZooError

_np_multiarray = getattr(np, '_core', None) or np.core

SAFE_GLOBALS: list[Any] = [
    HistoryBuffer, np.ndarray, np.dtype, _np_multiarray.multiarray._reconstruct,
    _np_multiarray.multiarray.scalar, collections.Counter, codecs.encode,
    *{type(np.dtype(t)) for t in (np.float64, np.float32, np.float16, np.int64, np.int32,
                                  np.int16, np.int8, np.uint8, np.bool_)},
]


class CheckpointError(ZooError):
    """A checkpoint file is missing, unreadable, or holds objects outside the allowlist."""


def _reduce_history_buffer(buf: HistoryBuffer):
    return HistoryBuffer, (buf._log_history, buf._count_history, buf.max_length)


def load_checkpoint_file(filename: str, map_location: Any = 'cpu') -> Any:
    """``torch.load(filename, map_location, weights_only=True)`` with the zoo's allowlist.

    Raises:
        FileNotFoundError: no such file (the path is named).
        CheckpointError: the file is not a torch checkpoint, or it holds a pickled object outside
            :data:`SAFE_GLOBALS` (the message names the file and the object); such a file is
            never loaded with ``weights_only=False``.
    """
    filename = os.path.expanduser(str(filename))
    if not os.path.isfile(filename):
        raise FileNotFoundError(f'checkpoint file {filename!r} does not exist')
    try:
        with torch.serialization.safe_globals(SAFE_GLOBALS):
            return torch.load(filename, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        detail = str(err).split('WeightsUnpickler error:')[-1].strip().split('\n')[0]
        raise CheckpointError(
            f'checkpoint {filename!r} is refused: it holds pickled objects outside the allowlist '
            f'of the zoo ({detail}). Checkpoints are loaded with weights_only=True; re-save only '
            'the state_dict of a file you trust.') from err
    except (RuntimeError, EOFError, OSError) as err:
        raise CheckpointError(f'checkpoint {filename!r} cannot be read as a torch checkpoint: '
                              f'{err}') from err


_installed = False


def install() -> None:
    """Make mmengine save and load checkpoints the zoo's way (idempotent)."""
    global _installed
    if _installed:
        return
    copyreg.pickle(HistoryBuffer, _reduce_history_buffer)
    CheckpointLoader.register_scheme(prefixes='', force=True)(load_checkpoint_file)
    _installed = True


def resolve_checkpoint(path: str) -> str:
    """A checkpoint file as given, or in a work dir its ``best_*.pth``, else the last one.

    Raises:
        ConfigError: no such file, or a folder without checkpoints.
    """
    if os.path.isfile(path):
        return path
    if os.path.isdir(path):
        best = sorted(glob.glob(os.path.join(path, 'best_*.pth')), key=os.path.getmtime)
        if best:
            return best[-1]
        last = os.path.join(path, 'last_checkpoint')
        if os.path.isfile(last):
            with open(last) as f:
                name = f.read().strip()
            if os.path.isfile(name):
                return name
        raise ConfigError(f'{path!r} holds no checkpoint (no best_*.pth, no last_checkpoint)')
    raise ConfigError(f'checkpoint {path!r} does not exist')
