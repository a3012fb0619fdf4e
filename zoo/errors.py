"""Errors and warnings about data: annotation files, image files and the samples they make.

:class:`DatasetError` is raised for a file that cannot be used (malformed XML or JSON, a missing
or unreadable image, an image whose size disagrees with its annotation). Its message names the
file and the problem. A dataset built with ``skip_bad_samples=True`` catches these errors,
skips the sample, counts it and reports it with a :class:`DatasetWarning` instead.

A config that asks for something the data cannot give (a class name absent from the dataset's
``classes``) is a :class:`~registry.errors.ConfigError` instead, because the fix is in the config.
"""
from __future__ import annotations

from registry.errors import ZooError


class DatasetError(ZooError):
    """A data file (annotation or image) is missing, unreadable or malformed.

    Attributes:
        path: the offending file, as a string ('' when the problem is not tied to one file).
    """

    def __init__(self, message: str, path: str = ''):
        super().__init__(message)
        self.path = str(path)


class DatasetWarning(UserWarning):
    """Data was dropped or skipped (degenerate boxes, bad samples); the message counts it."""
