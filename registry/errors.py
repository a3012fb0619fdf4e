"""Errors raised while finding, building and assembling parts.

Every error carries one readable paragraph: what was held, where (config key path or file),
and what was expected. The command line maps :class:`ConfigError` (and its subclasses) to
exit status 2 and any other error to exit status 1.
"""


class ZooError(Exception):
    """Base class of the zoo's own errors. ``str(err)`` is the whole message."""

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return str(self.args[0]) if self.args else ''


class ConfigError(ZooError, ValueError):
    """A config (file, key or value) asks for something that cannot be built."""


class UnknownPartError(ConfigError, KeyError):
    """A ``type`` names no registered part of the kind its key path expects."""


class AssemblyError(ConfigError):
    """Two neighbouring parts disagree (channels, strides, number of feature levels)."""


class DuplicatePartError(ZooError, KeyError):
    """A name is registered twice in one catalogue by different owners."""
