"""SQLite connections: one per thread, reopened after ``fork``, one writer at a time.

WAL mode lets readers run beside the one writer, across threads and processes. Writes take
``BEGIN IMMEDIATE`` so a writer waits for the lock up front instead of failing at commit; waits
beyond ``busy_timeout`` are retried here, so "database is locked" never reaches the caller unless
the lock is held for longer than ``lock_wait`` seconds.
"""

from __future__ import annotations

import os
import random
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from memoryspace.errors import BackendUnavailable, Closed

Tracer = Callable[[str], None]


class Connections:
    """Per-thread connections to one database (a single shared one for ``:memory:``)."""

    def __init__(
        self,
        path: str,
        *,
        busy_timeout: float = 10.0,
        lock_wait: float = 300.0,
        tracer: Tracer | None = None,
    ) -> None:
        self.path = path
        self.in_memory = path == ":memory:"
        self._busy_timeout = busy_timeout
        self._lock_wait = lock_wait
        self._tracer = tracer
        self._closed = False
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
        conn = sqlite3.connect(
            self.path,
            timeout=self._busy_timeout,
            isolation_level=None,
            check_same_thread=False,  # each thread has its own; close() may run anywhere
        )
        conn.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout * 1000)}")
        if not self.in_memory:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
        if self._tracer is not None:
            conn.set_trace_callback(self._tracer)
        with self._registry_lock:
            self._all.append(conn)
        return conn

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
        """A connection to read with; in memory this holds the lock of the single connection."""
        self._forget_parent()
        if self.in_memory:
            with self.write_lock:
                yield self.get()
        else:
            yield self.get()

    @contextmanager
    def writing(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (``BEGIN IMMEDIATE`` … ``COMMIT``); rolled back on error.

        Raises:
            BackendUnavailable: the database stayed locked by another process for ``lock_wait``.
        """
        self._forget_parent()
        with self.write_lock:
            conn = self.get()
            if conn.in_transaction:  # nested use: join the outer transaction via a savepoint
                conn.execute("SAVEPOINT nested")
                try:
                    yield conn
                except BaseException:
                    conn.execute("ROLLBACK TO nested")
                    conn.execute("RELEASE nested")
                    raise
                conn.execute("RELEASE nested")
                return
            self._begin(conn)
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

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
