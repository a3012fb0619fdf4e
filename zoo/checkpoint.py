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
  other pickled object is refused with :class:`CheckpointError`, naming the file and the global
  it refers to (``posix.system``), found by reading the pickle's opcodes without running them;
* a file that is no torch checkpoint at all (empty, text, a git-lfs pointer, an HTML error
  page) is named as what it is, before ``torch.load`` sees it;
* the runner writes checkpoints atomically (:mod:`zoo.runner.atomic`, installed by
  :func:`zoo.runner.checkpoint.install`).
"""
from __future__ import annotations

import codecs
import collections
import copyreg
import glob
import os
import pickle
import pickletools
import re
import zipfile
from typing import Any, Optional

import numpy as np
import torch
from mmengine.logging.history_buffer import HistoryBuffer
from mmengine.runner.checkpoint import CheckpointLoader

from registry import ConfigError

_np_multiarray = getattr(np, '_core', None) or np.core

SAFE_GLOBALS: list[Any] = [
    HistoryBuffer, np.ndarray, np.dtype, _np_multiarray.multiarray._reconstruct,
    _np_multiarray.multiarray.scalar, collections.Counter, codecs.encode,
    *{type(np.dtype(t)) for t in (np.float64, np.float32, np.float16, np.int64, np.int32,
                                  np.int16, np.int8, np.uint8, np.bool_)},
]


class CheckpointError(ConfigError):
    """A checkpoint file is unreadable, no torch checkpoint, or holds objects outside the
    allowlist. A config error (exit status 2): the file the user named is the wrong one."""


_last_loaded: Optional[str] = None


def last_loaded() -> Optional[str]:
    """The path of the checkpoint :func:`load_checkpoint_file` loaded last (for messages)."""
    return _last_loaded


def _describe(filename: str, head: bytes) -> Optional[str]:
    """What a file that is no torch checkpoint is, from its first bytes; None for a zip archive
    (torch >= 1.6) or a pickle (older torch)."""
    if head.startswith(b'PK\x03\x04') or head[:1] == b'\x80':
        return None
    if not head:
        return 'it is empty (0 bytes)'
    text = head.lstrip().lower()
    if text.startswith(b'version https://git-lfs'):
        return ('it is a git-lfs pointer, not the file itself: fetch the file with '
                '`git lfs pull`')
    if text.startswith((b'<!doctype html', b'<html', b'<?xml', b'<head')):
        return ('it is an HTML/XML page (a download that returned an error or login page?), '
                'not a checkpoint')
    try:
        sample = head.decode('utf-8')
    except UnicodeDecodeError:
        return (f'it starts with the bytes {head[:8]!r}, not those of a torch checkpoint (a zip '
                'archive or a pickle)')
    return (f'it is a text file (it starts with {sample[:40]!r}), not a torch checkpoint (a zip '
            'archive or a pickle)')


def _pickled_globals(filename: str) -> list[str]:
    """The ``module.name`` globals a checkpoint's pickle refers to, read from its opcodes
    (``pickletools.genops``, which runs nothing)."""
    try:
        if zipfile.is_zipfile(filename):
            with zipfile.ZipFile(filename) as z:
                name = next(n for n in z.namelist() if n.endswith('data.pkl'))
                data = z.read(name)
        else:
            with open(filename, 'rb') as f:
                data = f.read()
    except (OSError, StopIteration, zipfile.BadZipFile):
        return []
    found, strings = [], []
    try:
        for op, arg, _ in pickletools.genops(data):
            if op.name in ('SHORT_BINUNICODE', 'BINUNICODE', 'UNICODE', 'BINUNICODE8'):
                strings.append(arg)
            elif op.name in ('GLOBAL', 'INST'):
                found.append(arg.replace(' ', '.'))
            elif op.name == 'STACK_GLOBAL' and len(strings) >= 2:
                found.append(f'{strings[-2]}.{strings[-1]}')
    except Exception:  # a damaged pickle: the globals read so far are all there is to report
        pass
    return list(dict.fromkeys(found))


def _allowed_names() -> set[str]:
    names = {'collections.OrderedDict', 'torch._utils._rebuild_tensor_v2', 'builtins.set'}
    for obj in SAFE_GLOBALS:
        names.add(f'{getattr(obj, "__module__", "")}.{getattr(obj, "__qualname__", obj)}')
    return names


def _refused_globals(filename: str, err: Exception) -> list[str]:
    """The globals torch refused (from its message, else from the pickle's opcodes)."""
    named = re.findall(r'GLOBAL ([\w.]+)', str(err))
    if named:
        return list(dict.fromkeys(named))
    allowed = _allowed_names()
    return [g for g in _pickled_globals(filename)
            if g not in allowed and not g.startswith(('torch.', 'collections.', 'numpy.'))]


def _reduce_history_buffer(buf: HistoryBuffer):
    return HistoryBuffer, (buf._log_history, buf._count_history, buf.max_length)


def load_checkpoint_file(filename: str, map_location: Any = 'cpu') -> Any:
    """``torch.load(filename, map_location, weights_only=True)`` with the zoo's allowlist.

    Raises:
        FileNotFoundError: no such file (the path is named).
        CheckpointError: the file is not a torch checkpoint (empty, text, a git-lfs pointer, an
            HTML page: said so), is damaged (truncated), or holds a pickled object outside
            :data:`SAFE_GLOBALS` (the message names the file and the global, e.g.
            ``posix.system``); such a file is never loaded with ``weights_only=False``.
    """
    global _last_loaded
    filename = os.path.expanduser(str(filename))
    if not os.path.isfile(filename):
        raise FileNotFoundError(f'checkpoint file {filename!r} does not exist')
    with open(filename, 'rb') as f:
        head = f.read(64)
    what = _describe(filename, head)
    if what is not None:
        raise CheckpointError(f'checkpoint {filename!r} cannot be loaded: {what}')
    _last_loaded = filename
    try:
        with torch.serialization.safe_globals(SAFE_GLOBALS):
            return torch.load(filename, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        refused = _refused_globals(filename, err)
        if refused:
            what = (f'it refers to {", ".join(refused)}, which the zoo does not allow in a '
                    'checkpoint (a pickle can run such a function when it is loaded)')
        else:
            what = ('its pickle cannot be read with weights_only=True: '
                    + str(err).split('WeightsUnpickler error:')[-1].strip().split('\n')[0])
        raise CheckpointError(
            f'checkpoint {filename!r} is refused: {what}. Checkpoints are loaded with '
            'weights_only=True and an allowlist of tensors, numpy arrays and logging buffers; '
            're-save only the state_dict of a file you trust.') from err
    except (RuntimeError, EOFError, OSError, KeyError, IndexError, ValueError) as err:
        raise CheckpointError(f'checkpoint {filename!r} cannot be read as a torch checkpoint '
                              f'(damaged or truncated?): {type(err).__name__}: {err}') from err


_installed = False


def install() -> None:
    """Make mmengine load checkpoints the zoo's way (idempotent). The runner's
    :func:`zoo.runner.checkpoint.install` adds atomic saving."""
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
