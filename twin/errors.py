"""Exception hierarchy of `twin`.

Every error the library raises on purpose is a :class:`TwinError`. The subclasses also
derive from the matching built-in so that callers can catch either. Messages name the
input (file, key or argument), what is wrong with it and what is allowed.
"""

from __future__ import annotations


class TwinError(Exception):
    """Root of every error raised on purpose by `twin`."""


class InputError(TwinError, ValueError):
    """A value given by the user (argument, scenario key, file content) is not allowed."""


class ScenarioError(InputError):
    """A scenario file or one of its keys is invalid."""


class ModelRangeError(InputError):
    """A value is outside the validity range of a propagation model."""


class SourceError(TwinError, OSError):
    """An input file is missing, unreadable or holds nothing usable."""


class OutputError(TwinError, OSError):
    """An output location cannot be written (exists and is not empty, not writable, ...)."""


class ClusterError(TwinError, ConnectionError):
    """A dask scheduler does not answer or a distributed run fails."""
