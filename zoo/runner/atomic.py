"""Atomic file writes: a temporary file in the same folder, flushed to disk, renamed into place.

A reader (or a later run) sees either the old file or the whole new one, never a truncated
file: a crash, a SIGKILL or a full disk during the write leaves the old file as it was and, at
worst, a hidden ``.<name>.<random>.tmp`` beside it. ``os.replace`` is atomic on POSIX and on
Windows when both paths are on the same volume, hence the temporary file in the same folder.

:class:`AtomicLocalBackend` makes mmengine write every local file this way (checkpoints,
``last_checkpoint``): :func:`install` registers it as mmengine's ``local`` file backend.
"""
from __future__ import annotations

import contextlib
import os
import tempfile
from typing import IO, Iterator, Union

from mmengine.fileio.backends import LocalBackend, register_backend


@contextlib.contextmanager
def atomic_write(path: Union[str, os.PathLike], mode: str = 'w', **open_kwargs) -> Iterator[IO]:
    """Open a temporary file beside ``path`` for writing; on success it replaces ``path``.

    Args:
        path: the file to write; its folder is created if missing.
        mode: ``'w'`` (text) or ``'wb'`` (bytes).
        open_kwargs: passed to ``open`` (``newline=''`` for csv, ``encoding``).

    Raises:
        Whatever the body raises: the temporary file is removed and ``path`` is untouched.
    """
    if mode not in ('w', 'wb'):
        raise ValueError(f"atomic_write: mode must be 'w' or 'wb', got {mode!r}")
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f'.{os.path.basename(path)}.', suffix='.tmp', dir=folder)
    try:
        with os.fdopen(fd, mode, **open_kwargs) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_bytes(path: Union[str, os.PathLike], data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_write(path, 'wb') as f:
        f.write(data)


def write_text(path: Union[str, os.PathLike], text: str, encoding: str = 'utf-8') -> None:
    """Write ``text`` to ``path`` atomically."""
    with atomic_write(path, 'w', encoding=encoding) as f:
        f.write(text)


class AtomicLocalBackend(LocalBackend):
    """mmengine's local file backend whose ``put``/``put_text`` write atomically."""

    def put(self, obj: bytes, filepath) -> None:
        write_bytes(filepath, obj)

    def put_text(self, obj: str, filepath, encoding: str = 'utf-8') -> None:
        write_text(filepath, obj, encoding=encoding)


_installed = False


def install() -> None:
    """Register :class:`AtomicLocalBackend` as mmengine's ``local`` backend (idempotent)."""
    global _installed
    if not _installed:
        register_backend('local', AtomicLocalBackend, force=True, prefixes='')
        _installed = True
