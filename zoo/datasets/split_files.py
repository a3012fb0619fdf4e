"""Split files: one image id (or image path) per line, the lists that say which images a split
holds (VOC's ``ImageSets/Main/<split>.txt``, Ultralytics' ``train.txt``, the zoo's derived
``data_splits/<split>.txt``).

A split that names a file must have that file: a misspelled split is an error naming the file,
never a silent switch to every annotation (which would train on the validation images too).
"""
from __future__ import annotations

import os.path as osp
from typing import Optional

from registry.errors import ConfigError


def read_split_file(path: str, owner: str = '') -> list[str]:
    """The first token of every non-blank line of ``path``, in file order.

    A VOC per-class list has ``<id> <1|-1|0>`` per line: the id is the first token. Lines
    starting with ``#`` are comments (the zoo's derived splits say how they were made). A UTF-8
    byte-order mark at the start is not part of the first id (``zoo data inspect`` reports it).

    Raises:
        ConfigError: ``path`` is not a file (names it, and ``owner``).
    """
    if not osp.isfile(path):
        raise ConfigError(f'{owner + ": " if owner else ""}split file {path} does not exist '
                          f'(check the split name; no split means every annotation)')
    with open(path, encoding='utf-8-sig') as f:
        return [line.split()[0] for line in f
                if line.strip() and not line.lstrip().startswith('#')]


def write_split_file(path: str, ids: list, header: Optional[str] = None) -> None:
    """Write ``ids`` one a line (atomically: a temporary file renamed into place)."""
    import os
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    tmp = path + '.tmp'
    with open(tmp, 'w', encoding='utf-8') as f:
        if header:
            f.write(''.join(f'# {line}\n' for line in header.splitlines()))
        f.write(''.join(f'{i}\n' for i in ids))
    os.replace(tmp, path)
