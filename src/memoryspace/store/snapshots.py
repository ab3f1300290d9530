"""Checkpoints of ``SQLiteStore`` and the past states built from them.

A checkpoint is a consistent copy of the database made with SQLite's online backup, kept in a
folder beside the database (``<db>.checkpoints/<name>.db``; in memory for ``:memory:``), tagged
with the LSN it reflects. The state at any LSN is a checkpoint at or before it plus a replay of
the log up to it. Restoring never rewinds the log: it appends the changes that turn the live
state into the past one (``memoryspace.store.timetravel``, the same for every backend).

A checkpoint file is a copy of the database, so it carries the database's id (the ``settings``
row ``database.id``) beside its LSN tag. ``listing`` reports every ``*.db`` file in the folder;
one that is unreadable, truncated (shorter than its header says), untagged or taken of another
database is listed with ``damaged`` set, never hidden. ``restore`` refuses it (``Conflict`` for
another database's, ``BackendUnavailable`` for a damaged one); ``as_of`` skips it (with a
warning) for an older checkpoint or the log, and checks the one it uses with ``quick_check``.
Checkpoints taken before databases had ids carry none and are trusted.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING

from memoryspace import validate
from memoryspace.errors import Conflict
from memoryspace.models import Checkpoint
from memoryspace.store import timetravel
from memoryspace.store.connections import Connections, file_uri
from memoryspace.store.failures import translate

if TYPE_CHECKING:
    from memoryspace.store.sqlite import SQLiteStore

_HEADER = b"SQLite format 3\x00"
_FOREIGN = timetravel.FOREIGN
_logger = logging.getLogger(__name__)


def _folder(store: SQLiteStore) -> Path:
    assert store.path is not None
    return Path(store.path + ".checkpoints")


def _check_name(name: str) -> None:
    validate.checkpoint_name(name)


def take(store: SQLiteStore, name: str, *, overwrite: bool) -> Checkpoint:
    _check_name(name)
    existing = {c.name for c in listing(store)}
    if name in existing and not overwrite:
        raise Conflict(f"checkpoint {name!r} exists; pass overwrite=True or choose another name")
    store.flush()  # batched access counters go into the copy (after the checks: a refusal
    # writes nothing)
    when = store._clock()
    source = store.connections
    source.get()  # a closed store raises Closed here, before any file is made
    if store.path is None:
        target = sqlite3.connect(":memory:", check_same_thread=False)
        with source.reading() as conn:
            conn.backup(target)
        lsn = _tag(target, name, when)
        checkpoint = Checkpoint(name=name, lsn=lsn, created_at=when, path=None)
        old = store.memory_checkpoints.pop(name, None)
        if old is not None:
            old[0].close()
        store.memory_checkpoints[name] = (target, checkpoint)
        return checkpoint
    folder = _folder(store)
    final = folder / f"{name}.db"
    partial = folder / f".{name}.db.partial"
    try:
        folder.mkdir(exist_ok=True)
        partial.unlink(missing_ok=True)
        lsn = _write_copy(source, partial, name, when)
        with open(partial, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(partial, final)
        _fsync_folder(folder)  # the rename too must survive a power loss
    except (OSError, sqlite3.Error) as exc:
        with contextlib.suppress(OSError):
            partial.unlink(missing_ok=True)
        raise translate(exc, str(final), f"taking checkpoint {name!r}") from exc
    return Checkpoint(name=name, lsn=lsn, created_at=when, path=str(final))


def _write_copy(source: Connections, partial: Path, name: str, when: float) -> int:
    target = sqlite3.connect(partial)
    failure: sqlite3.Error | None = None
    try:
        with source.reading() as conn:
            try:
                conn.backup(target)  # one step: a consistent snapshot under a read lock
            except sqlite3.Error as exc:
                failure = exc  # most likely the copy's disk: reported as the checkpoint's
        if failure is not None:
            raise failure
        lsn = _tag(target, name, when)
        target.execute("PRAGMA journal_mode = DELETE")  # a self-contained single file
    finally:
        target.close()
    return lsn


def _fsync_folder(folder: Path) -> None:
    if os.name != "posix":
        return  # Windows cannot open a folder
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _tag(conn: sqlite3.Connection, name: str, when: float) -> int:
    lsn = int(conn.execute("SELECT COALESCE(max(lsn), 0) FROM oplog").fetchone()[0])
    conn.executemany(
        "INSERT OR REPLACE INTO settings(key, value) VALUES (?, ?)",
        [
            ("checkpoint.name", name),
            ("checkpoint.lsn", str(lsn)),
            ("checkpoint.created_at", repr(when)),
        ],
    )
    conn.commit()
    return lsn


def listing(store: SQLiteStore) -> list[Checkpoint]:
    """Every checkpoint of the store, oldest LSN first."""
    if store.path is None:
        found = [c for _, c in store.memory_checkpoints.values()]
    else:
        folder = _folder(store)
        own = store.database_id
        files = sorted(folder.glob("*.db")) if folder.is_dir() else []
        found = [_inspect(file, own) for file in files]
    return sorted(found, key=lambda c: (c.lsn, c.created_at))


def _inspect(file: Path, own_id: str | None) -> Checkpoint:
    """The checkpoint in ``file``, with ``damaged`` set when it cannot be used here."""

    def damaged(reason: str, lsn: int = -1, created_at: float = 0.0) -> Checkpoint:
        return Checkpoint(file.stem, lsn, created_at, str(file), damaged=reason)

    try:
        size = file.stat().st_size
        with open(file, "rb") as handle:
            header = handle.read(100)
    except OSError as exc:
        return damaged(f"unreadable ({exc.strerror})")
    if len(header) < 100 or not header.startswith(_HEADER):
        return damaged("not an SQLite file (zeroed, truncated or overwritten)")
    expected = _size_in_header(header)
    if expected is not None and size < expected:
        return damaged(f"truncated: {size} bytes where its header says {expected}")
    try:
        conn = sqlite3.connect(file_uri(str(file), "mode=ro"), uri=True)
        try:
            tags = dict(
                conn.execute(
                    "SELECT key, value FROM settings "
                    "WHERE key LIKE 'checkpoint.%' OR key = 'database.id'"
                ).fetchall()
            )
        finally:
            conn.close()
    except sqlite3.Error as exc:
        return damaged(f"unreadable ({exc})")
    try:
        lsn = int(tags["checkpoint.lsn"])
        created_at = float(tags.get("checkpoint.created_at", "0"))
    except (KeyError, ValueError):
        return damaged("has no valid checkpoint tag (not a checkpoint of this database)")
    theirs = tags.get("database.id")
    if own_id is not None and theirs is not None and theirs != own_id:
        return damaged(f"{_FOREIGN} (id {theirs}; this one is {own_id})", lsn, created_at)
    return Checkpoint(file.stem, lsn, created_at, str(file))


def _size_in_header(header: bytes) -> int | None:
    """The database size an SQLite header states, when its "valid for" counter says it can be
    trusted (every SQLite since 3.7.0 keeps it)."""
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    pages = int.from_bytes(header[28:32], "big")
    if header[24:28] != header[92:96] or pages == 0:
        return None
    return page_size * pages


def remove(store: SQLiteStore, name: str) -> None:
    checkpoint = timetravel.find(store, name)
    if checkpoint.path is None:
        conn, _ = store.memory_checkpoints.pop(name)
        conn.close()
    else:
        try:
            Path(checkpoint.path).unlink()
        except OSError as exc:
            raise translate(exc, checkpoint.path, f"deleting checkpoint {name!r}") from exc


def _open_checkpoint(store: SQLiteStore, checkpoint: Checkpoint) -> sqlite3.Connection:
    """A connection to a sound checkpoint, checked page by page (``PRAGMA quick_check``).

    Raises:
        Conflict, BackendUnavailable: the checkpoint is another database's, or damaged.
    """
    if checkpoint.path is None:
        return store.memory_checkpoints[checkpoint.name][0]
    timetravel.check_usable(checkpoint)
    uri = file_uri(checkpoint.path, "mode=ro")
    conn = sqlite3.connect(uri, uri=True, check_same_thread=False)
    try:
        verdict = str(conn.execute("PRAGMA quick_check(1)").fetchone()[0])
    except sqlite3.Error as exc:
        verdict = str(exc)
    if verdict != "ok":
        conn.close()
        damaged = dataclasses.replace(checkpoint, damaged=f"fails its check ({verdict})")
        timetravel.check_usable(damaged)
    return conn


def open_base(store: SQLiteStore, checkpoint: Checkpoint) -> sqlite3.Connection:
    """A connection to the checkpoint, checked, for a replica to start from (the caller closes
    it when the checkpoint has a file; an in-memory database's checkpoint stays open).

    Raises:
        Conflict: the checkpoint is damaged or belongs to another database.
    """
    return _open_checkpoint(store, checkpoint)
