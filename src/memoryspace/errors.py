"""The one exception tree. Every error MemorySpace raises on purpose is a ``MemorySpaceError``.

    MemorySpaceError
    ├── NotFound            (also KeyError)     no memory, checkpoint or LSN by that name
    ├── InvalidInput        (also ValueError)   bad content, vector, filter or argument
    ├── Conflict                                the database disagrees with the request
    │                                           (another embedder's vectors, a duplicate id)
    ├── ReadOnly                                a write on a read-only view of the past, or on
    │                                           a read-only file, folder or file system
    ├── Closed                                  any use of a closed space or store
    ├── Unauthorized                            no API key, or an unknown, revoked or
    │   │                                       expired one
    │   └── Forbidden                           a valid key without the right or namespace
    └── BackendUnavailable                      a database, model or remote API cannot be reached
        └── DiskFull                            the disk (or quota) holding the database is full

Messages say what went wrong and what to do about it.
"""

from __future__ import annotations


class MemorySpaceError(Exception):
    """Base of every error MemorySpace raises on purpose."""


class NotFound(MemorySpaceError, KeyError):
    """No memory, checkpoint or log position by that name."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class InvalidInput(MemorySpaceError, ValueError):
    """The input cannot be stored or understood; nothing was changed."""


class Conflict(MemorySpaceError):
    """The request contradicts what the database holds (e.g. another embedder's vectors)."""


class ReadOnly(MemorySpaceError):
    """A write was attempted on a read-only view, or on a file the process cannot write."""


class Closed(MemorySpaceError):
    """The space or store was closed; open it again to use it."""


class Unauthorized(MemorySpaceError):
    """The credentials given do not allow this operation."""


class Forbidden(Unauthorized):
    """The API key is valid but lacks the right (read, write, admin) or namespace asked for."""


class BackendUnavailable(MemorySpaceError):
    """A database, model or remote API cannot be reached or loaded."""


class DiskFull(BackendUnavailable):
    """The disk or quota holding the database is full; free space and retry (nothing
    acknowledged was lost)."""


class WindowFull(MemorySpaceError):
    """A record does not fit in the window's free tokens; free some or raise the budget."""


class LLMError(BackendUnavailable):
    """An LLM call failed (unreachable, timed out, kept failing); use the offline path instead."""


class LLMOutputError(LLMError):
    """The model's reply could not be turned into the requested structure, even after repairs."""


class ModeUnavailable(BackendUnavailable):
    """A benchmark mode cannot run here (a package is missing, or it would need the network)."""


class LogCompacted(NotFound):
    """The op-log entries asked for were dropped by ``compact-log``: the state before its
    horizon is only in the checkpoints kept at or after it."""
