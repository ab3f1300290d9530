"""Pooled PostgreSQL connections: reads in autocommit, writes one at a time, typed errors.

A read borrows a pooled connection in autocommit mode, so each statement sees the latest
commits; inside a write transaction the thread's reads use the transaction's connection and
so see its own writes. A write transaction takes a transaction-scoped advisory lock
(``schema.WRITE_LOCK``) first: writers on every host commit one at a time, as on SQLite, which
is what makes the op log's LSNs follow commit order (see ``store.py``). A nested write joins
the outer transaction as a savepoint. A forked child opens its own pool.

This is the store's error boundary: psycopg errors become typed ``MemorySpaceError``\\s that
name the server (never its password).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg_pool import ConnectionPool

from memoryspace.errors import (
    BackendUnavailable,
    Closed,
    Conflict,
    InvalidInput,
    MemorySpaceError,
    ReadOnly,
)
from memoryspace.store.postgres.schema import WRITE_LOCK

Conn = psycopg.Connection[Any]


def redact(url: str) -> str:
    """``url`` without its password, for messages and ``summary()``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def translate(exc: psycopg.Error, url: str, doing: str) -> MemorySpaceError:
    """A typed error for a psycopg failure."""
    if isinstance(exc, psycopg.errors.DataError):
        return InvalidInput(f"PostgreSQL refused the data while {doing}: {exc}")
    if isinstance(exc, psycopg.errors.ReadOnlySqlTransaction):
        return ReadOnly(f"{redact(url)} is read-only (a replica?) while {doing}: {exc}")
    if isinstance(exc, psycopg.errors.IntegrityError):
        return Conflict(f"PostgreSQL refused a change while {doing}: {exc}")
    return BackendUnavailable(
        f"PostgreSQL at {redact(url)} failed while {doing}: {exc}; check that the server is "
        "running and reachable, then retry"
    )


class Connections:
    """A connection pool to one database, with this thread's open write transaction."""

    def __init__(self, url: str, *, size: int = 4, timeout: float = 10.0) -> None:
        """Connect (at least one connection, within ``timeout`` seconds).

        Raises:
            BackendUnavailable: the server cannot be reached or refuses the connection.
        """
        self.url = url
        self._size = size
        self._timeout = timeout
        self.closed = False
        self._pool = self._make_pool()

    def _make_pool(self) -> ConnectionPool[Conn]:
        self._pid = os.getpid()
        self._local = threading.local()
        pool: ConnectionPool[Conn] = ConnectionPool(
            self.url,
            min_size=1,
            max_size=self._size,
            kwargs={"autocommit": True},
            open=False,
            timeout=self._timeout,
        )
        try:
            pool.open(wait=True, timeout=self._timeout)
        except Exception as exc:
            pool.close()
            raise BackendUnavailable(
                f"cannot connect to PostgreSQL at {redact(self.url)} ({exc}); check the URL "
                "and that the server is running"
            ) from exc
        return pool

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self._pid == os.getpid():  # a child never closes its parent's connections
            self._pool.close()

    def check(self) -> None:
        """Raises ``Closed`` after ``close``; opens a new pool in a forked child."""
        if self.closed:
            raise Closed("this store is closed; open the database again")
        if self._pid != os.getpid():
            self._pool = self._make_pool()

    @contextmanager
    def reading(self, doing: str = "reading") -> Iterator[Conn]:
        """A connection to read with (this thread's write transaction's, inside one)."""
        self.check()
        current: Conn | None = getattr(self._local, "conn", None)
        if current is not None:
            yield current
            return
        try:
            with self._pool.connection() as conn:
                yield conn
        except psycopg.Error as exc:
            raise translate(exc, self.url, doing) from exc

    @contextmanager
    def writing(self, doing: str = "writing") -> Iterator[Conn]:
        """One write transaction under the write lock; rolled back when the block raises."""
        self.check()
        current: Conn | None = getattr(self._local, "conn", None)
        if current is not None:  # nested: join the outer transaction (a savepoint)
            with current.transaction():
                yield current
            return
        try:
            with self._pool.connection() as conn:
                self._local.conn = conn
                try:
                    with conn.transaction():
                        conn.execute("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK,))
                        yield conn
                finally:
                    self._local.conn = None
        except psycopg.Error as exc:
            raise translate(exc, self.url, doing) from exc
