"""The datasets' name for :mod:`zoo.errors` (:class:`DatasetError`, :class:`DatasetWarning`), which
lives below both the datasets and the transforms that raise it (no import cycle between them)."""
from zoo.errors import DatasetError, DatasetWarning

__all__ = ['DatasetError', 'DatasetWarning']
