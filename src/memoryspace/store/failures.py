"""Turning raw SQLite and file-system errors into typed ``MemorySpaceError``\\s.

The store is the boundary: every ``sqlite3.Error`` and ``OSError`` met while reading or writing
the database, its checkpoints or its vector index becomes one of these, naming the file and
saying what to do. The original error stays attached as ``__cause__``.

=========================================  ==============================================
what happened                              raised
=========================================  ==============================================
disk or quota full (SQLITE_FULL, ENOSPC)   ``DiskFull`` (a ``BackendUnavailable``)
read-only file, folder or file system      ``ReadOnly``
locked beyond the wait (SQLITE_BUSY)       ``BackendUnavailable``
damaged database (SQLITE_CORRUPT)          ``BackendUnavailable``
not a database (SQLITE_NOTADB)             ``InvalidInput``
a folder in the way, a missing folder      ``InvalidInput``
a constraint (SQLITE_CONSTRAINT)           ``Conflict``
any other I/O or SQLite failure            ``BackendUnavailable``
=========================================  ==============================================
"""

from __future__ import annotations

import errno
import sqlite3

from memoryspace.errors import (
    BackendUnavailable,
    Closed,
    Conflict,
    DiskFull,
    InvalidInput,
    MemorySpaceError,
    ReadOnly,
)

_FULL_ERRNOS = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}
_READ_ONLY_ERRNOS = {errno.EROFS, errno.EACCES, errno.EPERM}
_IN_THE_WAY_ERRNOS = {errno.EISDIR, errno.ENOTDIR, errno.ENOENT, errno.EEXIST}


def full_message(path: str, doing: str) -> str:
    return (
        f"the disk holding {path} is full while {doing}; free space (or raise the quota) and "
        "retry: nothing acknowledged before this error is lost"
    )


def read_only_message(path: str, doing: str) -> str:
    return (
        f"{path} is read-only (the file, its folder or the file system) while {doing}; make "
        "the file and its folder writable by this user, or copy the database somewhere "
        "writable: reads still work"
    )


def from_sqlite(exc: sqlite3.Error, path: str, doing: str) -> MemorySpaceError:
    """The typed error for a SQLite failure on the database at ``path`` while ``doing``."""
    name = getattr(exc, "sqlite_errorname", "") or ""
    detail = f"{exc} ({name})" if name else str(exc)
    if isinstance(exc, sqlite3.IntegrityError):
        return Conflict(f"{path}: the database refused the change while {doing}: {detail}")
    if isinstance(exc, sqlite3.ProgrammingError | sqlite3.InterfaceError):
        if "closed" in str(exc):
            return Closed(f"{path} is closed; open the database again")
        return InvalidInput(f"{path}: SQLite cannot store this value while {doing}: {detail}")
    if name.startswith("SQLITE_FULL"):
        return DiskFull(full_message(path, doing))
    if name.startswith(("SQLITE_READONLY", "SQLITE_PERM", "SQLITE_AUTH")):
        return ReadOnly(read_only_message(path, doing))
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
        return BackendUnavailable(
            f"{path} stayed locked by another connection while {doing}; retry, and check for "
            "a stuck process holding it"
        )
    if name.startswith("SQLITE_NOTADB"):
        return InvalidInput(
            f"{path} is not a MemorySpace database (not an SQLite file, or encrypted); give "
            "the path of a database, or a new file name to create one"
        )
    if name.startswith("SQLITE_CORRUPT"):
        return BackendUnavailable(
            f"{path} is damaged ({exc}); restore a copy from a backup or a checkpoint "
            "(`<db>.checkpoints/NAME.db`), or salvage it with sqlite3's `.recover`"
        )
    if name.startswith("SQLITE_CANTOPEN"):
        return BackendUnavailable(
            f"cannot open {path} ({detail}); check that its folder exists and is readable"
        )
    if name.startswith("SQLITE_IOERR"):
        return BackendUnavailable(
            f"I/O error on {path} while {doing} ({detail}); check the disk (full, a file "
            "size limit, a failing device), then retry"
        )
    return BackendUnavailable(f"{path}: SQLite failed while {doing}: {detail}")


def from_os(exc: OSError, path: str, doing: str) -> MemorySpaceError:
    """The typed error for a file-system failure on ``path`` (or a file beside it)."""
    # A rename names its destination second: that is the file in the way or on the full disk.
    named = exc.filename2 if isinstance(exc.filename2, str) else exc.filename
    where = named if isinstance(named, str) else path
    if exc.errno in _FULL_ERRNOS:
        return DiskFull(full_message(where, doing))
    if exc.errno == errno.EFBIG:
        return BackendUnavailable(
            f"{where} reached the file size limit while {doing}; raise the limit "
            "(ulimit -f) or free space, then retry"
        )
    if exc.errno in _READ_ONLY_ERRNOS:
        return ReadOnly(read_only_message(where, doing))
    if exc.errno in _IN_THE_WAY_ERRNOS:
        return InvalidInput(
            f"{where} is in the way while {doing} ({exc.strerror}); move it aside or fix the "
            "path, then retry"
        )
    return BackendUnavailable(f"{where}: {exc.strerror or exc} while {doing}; retry")


def translate(exc: BaseException, path: str, doing: str) -> BaseException:
    """``exc`` as a typed error when it is a SQLite or file-system failure, else unchanged."""
    if isinstance(exc, sqlite3.Error):
        return from_sqlite(exc, path, doing)
    if isinstance(exc, OSError):
        return from_os(exc, path, doing)
    return exc
