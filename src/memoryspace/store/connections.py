"""SQLite connections: one per thread, reopened after ``fork``, one writer at a time.

WAL mode lets readers run beside the one writer, across threads and processes. Writes take
``BEGIN IMMEDIATE`` so a writer waits for the lock up front instead of failing at commit; waits
beyond ``busy_timeout`` are retried here, so "database is locked" never reaches the caller unless
the lock is held for longer than ``lock_wait`` seconds.

This is the store's error boundary: SQLite errors raised while opening, reading or writing
become typed errors naming the file (see ``memoryspace.store.failures``). A path is checked
before SQLite sees it (a folder, a missing parent folder, a missing file when ``create`` is
false), so SQLite never creates files the caller did not ask for. A database in a folder this
process cannot write (so SQLite cannot make the WAL's ``-shm`` file) is opened immutable: reads
work, writes raise ``ReadOnly``.
"""

from __future__ import annotations

import logging
import os
import random
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from memoryspace.errors import BackendUnavailable, Closed, InvalidInput, NotFound, ReadOnly
from memoryspace.store.failures import from_sqlite, read_only_message

Tracer = Callable[[str], None]
SYNCHRONOUS = {"normal": "NORMAL", "full": "FULL"}
_logger = logging.getLogger(__name__)


class Connections:
    """Per-thread connections to one database (a single shared one for ``:memory:``)."""

    def __init__(
        self,
        path: str,
        *,
        busy_timeout: float = 10.0,
        lock_wait: float = 300.0,
        tracer: Tracer | None = None,
        durability: str = "normal",
        create: bool = True,
    ) -> None:
        """Connections to ``path``; nothing is opened until first use.

        ``durability`` is ``"normal"`` (``PRAGMA synchronous = NORMAL``) or ``"full"``.

        Raises:
            InvalidInput: ``path`` is a folder, its parent folder is missing, or a bad
                ``durability``.
            NotFound: ``create`` is false and no database exists at ``path``.
        """
        if durability not in SYNCHRONOUS:
            raise InvalidInput(f"durability must be 'normal' or 'full', got {durability!r}")
        self.path = path
        self.in_memory = path == ":memory:"
        self._busy_timeout = busy_timeout
        self._lock_wait = lock_wait
        self._tracer = tracer
        self._synchronous = SYNCHRONOUS[durability]
        self._closed = False
        self.immutable = False  # set when the folder cannot hold the WAL's side files
        if not self.in_memory:
            check_path(path, create=create)
        self._reset()
        if not self.in_memory:
            _FILE_DATABASES.add(self)

    def _reset(self) -> None:
        self._pid = os.getpid()
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._registry_lock = threading.Lock()
        # One writer per process; in memory, one user of the single connection at a time.
        self.write_lock = threading.RLock()
        self._shared: sqlite3.Connection | None = None

    def _open(self) -> sqlite3.Connection:
        try:
            conn = self._connect()
        except sqlite3.Error as exc:
            folder = os.path.dirname(os.path.abspath(self.path))
            new = not self.in_memory and not os.path.exists(self.path)
            if new and not os.access(folder, os.W_OK):
                raise ReadOnly(read_only_message(self.path, "creating the database")) from exc
            raise from_sqlite(exc, self.path, "opening the database") from exc
        if self._tracer is not None:
            conn.set_trace_callback(self._tracer)
        with self._registry_lock:
            self._all.append(conn)
        return conn

    def _connect(self) -> sqlite3.Connection:
        target = file_uri(self.path, "immutable=1") if self.immutable else self.path
        conn = sqlite3.connect(
            target,
            uri=self.immutable,
            timeout=self._busy_timeout,
            isolation_level=None,
            check_same_thread=False,  # each thread has its own; close() may run anywhere
        )
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout * 1000)}")
            if not self.in_memory and not self.immutable:
                self._use_wal(conn)
                conn.execute(f"PRAGMA synchronous = {self._synchronous}")
            conn.execute("PRAGMA foreign_keys = ON")
        except sqlite3.Error as exc:
            conn.close()
            if self.immutable or not _wal_side_files_refused(exc, self.path):
                raise
            _logger.warning(
                "%s is in a folder this process cannot write, so SQLite cannot make the WAL's "
                "-shm file; opening it immutable (read-only, and blind to other writers)",
                self.path,
            )
            self.immutable = True
            return self._connect()
        return conn

    @staticmethod
    def _use_wal(conn: sqlite3.Connection) -> None:
        try:
            conn.execute("PRAGMA journal_mode = WAL")
        except sqlite3.OperationalError as exc:
            # A read-only file in rollback-journal mode can still be read; a write says so.
            name = getattr(exc, "sqlite_errorname", "")
            if not name.startswith("SQLITE_READONLY") or name == "SQLITE_READONLY_DIRECTORY":
                raise

    def _forget_parent(self) -> None:
        # Never touch a parent's connections (or locks, which a parent thread may hold) in a
        # child; run before taking ``write_lock``.
        if self._pid != os.getpid():
            self._reset()

    def get(self) -> sqlite3.Connection:
        """This thread's connection (opened on first use, and anew in a forked child)."""
        if self._closed:
            raise Closed("this store is closed; open the database again")
        self._forget_parent()
        if self.in_memory:
            if self._shared is None:
                self._shared = self._open()
            return self._shared
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._open()
            self._local.conn = conn
        return conn

    @contextmanager
    def reading(self) -> Iterator[sqlite3.Connection]:
        """A connection to read with; in memory this holds the lock of the single connection.

        Raises:
            MemorySpaceError: SQLite failed (typed by ``memoryspace.store.failures``).
        """
        self._forget_parent()
        try:
            if self.in_memory:
                with self.write_lock:
                    yield self.get()
            else:
                yield self.get()
        except sqlite3.Error as exc:
            raise from_sqlite(exc, self.path, "reading") from exc

    @contextmanager
    def writing(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (``BEGIN IMMEDIATE`` … ``COMMIT``); rolled back on error.

        Raises:
            BackendUnavailable: the database stayed locked by another process for ``lock_wait``.
            DiskFull, ReadOnly, ...: SQLite failed (typed by ``memoryspace.store.failures``);
                the transaction was rolled back.
        """
        self._forget_parent()
        with self.write_lock:
            conn = self.get()
            try:
                if conn.in_transaction:  # nested use: join the outer transaction (a savepoint)
                    conn.execute("SAVEPOINT nested")
                    try:
                        yield conn
                    except BaseException:
                        if conn.in_transaction:
                            conn.execute("ROLLBACK TO nested")
                            conn.execute("RELEASE nested")
                        raise
                    conn.execute("RELEASE nested")
                    return
                self._begin(conn)
                try:
                    yield conn
                    conn.execute("COMMIT")
                except BaseException:
                    _roll_back(conn)
                    raise
            except sqlite3.Error as exc:
                raise from_sqlite(exc, self.path, "writing") from exc

    def _begin(self, conn: sqlite3.Connection) -> None:
        deadline = time.monotonic() + self._lock_wait
        delay = 0.005
        while True:
            try:
                conn.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc):
                    raise
                if time.monotonic() > deadline:
                    raise BackendUnavailable(
                        f"{self.path} stayed locked by another writer for {self._lock_wait:.0f}s; "
                        "check for a stuck process holding it"
                    ) from exc
                time.sleep(delay * (1 + random.random()))
                delay = min(delay * 2, 0.5)

    def close(self) -> None:
        """Close every connection this process opened."""
        if self._closed:
            return
        self._closed = True
        if self._pid != os.getpid():
            return
        with self._registry_lock:
            for conn in self._all:
                conn.close()
            self._all.clear()

    @property
    def closed(self) -> bool:
        return self._closed

    def writable_on_disk(self) -> bool:
        """Whether this process may write the database file and its folder (side files)."""
        if self.in_memory:
            return True
        if self.immutable:
            return False
        folder = os.path.dirname(os.path.abspath(self.path))
        return os.access(self.path, os.W_OK) and os.access(folder, os.W_OK)


def file_uri(path: str, query: str) -> str:
    """An SQLite ``file:`` URI for ``path`` with ``query`` (e.g. ``mode=ro``), escaped so a
    ``?``, ``#`` or ``%`` in a folder name stays part of the path."""
    return f"{Path(os.path.abspath(path)).as_uri()}?{query}"


def check_path(path: str, *, create: bool) -> None:
    """Refuse a path SQLite would misuse, before it creates any file there.

    Raises:
        InvalidInput: ``path`` is a folder, or its parent folder does not exist.
        NotFound: ``create`` is false and no file exists at ``path``.
    """
    if path.startswith("file:"):
        return  # a URI: SQLite parses it
    if os.path.isdir(path):
        raise InvalidInput(
            f"{path} is a folder; give the path of a database file inside it, "
            f"e.g. {os.path.join(path, 'memory.db')}"
        )
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise InvalidInput(
            f"the folder {folder} does not exist; create it first (mkdir -p {folder}) "
            "or fix the path"
        )
    if not create and not os.path.exists(path):
        raise NotFound(
            f"no database at {path}; check the path (or --db), or add a memory to create one"
        )


def _wal_side_files_refused(exc: sqlite3.Error, path: str) -> bool:
    """SQLite could not make the ``-shm``/``-wal`` files of an existing database that has no
    unfinished WAL (so reading the main file alone gives every committed change)."""
    name = getattr(exc, "sqlite_errorname", "")
    if name not in ("SQLITE_READONLY_DIRECTORY", "SQLITE_CANTOPEN"):
        return False
    wal = path + "-wal"
    return os.path.isfile(path) and (not os.path.exists(wal) or os.path.getsize(wal) == 0)


def _roll_back(conn: sqlite3.Connection) -> None:
    """Roll back what is open; SQLite may already have (e.g. after SQLITE_FULL)."""
    if conn.in_transaction:
        try:
            conn.execute("ROLLBACK")
        except sqlite3.Error:
            _logger.debug("rollback failed; SQLite rolled the transaction back itself")


# A child forked while another thread is inside a write transaction inherits that connection's
# SQLite lock state and could never write. So a fork waits for this process's file writes to
# commit (as ``logging`` does for its handlers' locks).
_FILE_DATABASES: weakref.WeakSet[Connections] = weakref.WeakSet()
_HELD_FOR_FORK: list[threading.RLock] = []


def _hold_writers() -> None:
    for connections in list(_FILE_DATABASES):
        if not connections.closed:
            connections.write_lock.acquire()
            _HELD_FOR_FORK.append(connections.write_lock)


def _release_writers() -> None:
    while _HELD_FOR_FORK:
        _HELD_FOR_FORK.pop().release()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(
        before=_hold_writers, after_in_parent=_release_writers, after_in_child=_release_writers
    )
