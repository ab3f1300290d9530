"""Pooled PostgreSQL connections: reads in autocommit, writes one at a time, typed errors.

A read borrows a pooled connection in autocommit mode, so each statement sees the latest
commits; inside a write transaction the thread's reads use the transaction's connection and
so see its own writes. A write transaction takes a transaction-scoped advisory lock
(``schema.WRITE_LOCK``) first: writers on every host commit one at a time, as on SQLite, which
is what makes the op log's LSNs follow commit order (see ``store.py``). A nested write joins
the outer transaction as a savepoint. A forked child opens its own pool.

This is the store's error boundary: psycopg errors become typed ``MemorySpaceError``\\s that
name the server (never its password).

Dropped connections. A pooled connection is checked before it is lent, so one the server has
closed (``pg_terminate_backend``, a restart) is replaced rather than failing a call. A call that
still loses its connection (or cannot get one) is retried ``retries`` times with a doubling
``backoff`` when it can be run again as a whole: ``read`` (reads are idempotent) and ``write``
(the body runs again in a new transaction; the failed one was rolled back by the server). When
the connection drops while the transaction commits, the outcome is unknown: the write then
checks its ``proof`` (``expect``: normally its first log entry, by LSN, time and id) on a new
connection, under the write lock (which the old transaction holds until the server has
committed or rolled it back), and returns if it committed, runs again if it did not, and raises
``BackendUnavailable`` if that cannot be told, so a write is never applied twice. After the
last retry ``BackendUnavailable`` says what to check. Blocks under ``writing`` (a caller's
``transaction``) are not retried: their body is the caller's; a failure there raises
``BackendUnavailable`` (after the proof check, when it happened at commit).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

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
T = TypeVar("T")
Proof = Callable[[Conn], bool]  # on a new connection: did the transaction commit?

# Failures of the connection (or of getting one) rather than of the statement: worth a retry.
DROPPED = (psycopg.OperationalError, psycopg.InterfaceError, PoolTimeout)


class _CommitUnknown(Exception):
    """The connection dropped while the transaction was committing."""


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
    if isinstance(exc, psycopg.errors.InsufficientPrivilege):
        return ReadOnly(
            f"the role of {redact(url)} may not write here ({exc}) while {doing}; open it with "
            "read_only=True, or as a role that may write"
        )
    if isinstance(exc, psycopg.errors.IntegrityError):
        return Conflict(f"PostgreSQL refused a change while {doing}: {exc}")
    return BackendUnavailable(
        f"PostgreSQL at {redact(url)} failed while {doing}: {exc}; check that the server is "
        "running and reachable, then retry"
    )


class Connections:
    """A connection pool to one database, with this thread's open write transaction."""

    def __init__(
        self,
        url: str,
        *,
        size: int = 4,
        timeout: float = 10.0,
        retries: int = 4,
        backoff: float = 0.25,
    ) -> None:
        """Connect (at least one connection, within ``timeout`` seconds). A call that loses its
        connection is retried ``retries`` times, waiting ``backoff`` seconds, doubled each time.

        Raises:
            BackendUnavailable: the server cannot be reached or refuses the connection.
        """
        self.url = url
        self._size = size
        self._timeout = timeout
        self._retries = retries
        self._backoff = backoff
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
            check=ConnectionPool.check_connection,  # replace connections the server dropped
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

    def in_transaction(self) -> bool:
        """Whether this thread is inside a write transaction."""
        return getattr(self._local, "conn", None) is not None

    @contextmanager
    def autocommit(self, doing: str) -> Iterator[Conn]:
        """A pooled connection outside any transaction (for ``CREATE INDEX CONCURRENTLY``).

        Raises:
            BackendUnavailable, ReadOnly: the server failed or refused.
        """
        self.check()
        try:
            with self._pool.connection() as conn:
                yield conn
        except psycopg.Error as exc:
            raise translate(exc, self.url, doing) from exc

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
        self._local.proof = None
        committing = False
        try:
            with self._pool.connection() as conn:
                self._local.conn = conn
                try:
                    with conn.transaction():
                        conn.execute("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK,))
                        yield conn
                        committing = True  # leaving the block commits
                finally:
                    self._local.conn = None
        except DROPPED as exc:
            proof: Proof | None = self._local.proof
            if committing and proof is None:
                raise BackendUnavailable(
                    f"the connection to PostgreSQL at {redact(self.url)} dropped while "
                    f"committing ({exc}); the transaction may or may not have been written: "
                    "read changes() once the server is back, before running it again"
                ) from exc
            if committing and proof is not None and self._committed(proof, doing, exc):
                return  # it committed
            raise BackendUnavailable(
                f"the connection to PostgreSQL at {redact(self.url)} dropped while {doing} "
                f"({exc}); nothing in the transaction was written: check that the server is "
                "running and reachable, then run it again"
            ) from exc
        except psycopg.Error as exc:
            raise translate(exc, self.url, doing) from exc
        finally:
            self._local.proof = None

    # -- calls retried when the connection drops

    def expect(self, proof: Proof) -> None:
        """Inside ``write``: how to tell, on a new connection, that this transaction committed
        (the first proof given counts: a transaction commits whole or not at all)."""
        if getattr(self._local, "proof", None) is None:
            self._local.proof = proof

    def read(self, doing: str, body: Callable[[Conn], T]) -> T:
        """``body(conn)`` on a pooled connection, run again on a new one when the connection
        drops (inside a write transaction: on its connection, once).

        Raises:
            BackendUnavailable: the connection dropped on every attempt, or another failure.
        """
        self.check()
        current: Conn | None = getattr(self._local, "conn", None)
        if current is not None:
            return self._once(doing, body, current)
        return self._retrying(doing, lambda: self._read_once(body))

    def write(self, doing: str, body: Callable[[Conn], T]) -> T:
        """``body(conn)`` in one write transaction, run again in a new one when the connection
        drops, never applied twice (see the module's docstring); inside another write it joins
        that transaction (a savepoint) and is not retried on its own.

        Raises:
            BackendUnavailable: the connection dropped on every attempt, or the outcome of a
                commit could not be told.
        """
        self.check()
        current: Conn | None = getattr(self._local, "conn", None)
        if current is not None:
            with current.transaction():
                return self._once(doing, body, current)
        return self._retrying(doing, lambda: self._write_once(doing, body))

    def _once(self, doing: str, body: Callable[[Conn], T], conn: Conn) -> T:
        try:
            return body(conn)
        except psycopg.Error as exc:
            raise translate(exc, self.url, doing) from exc

    def _read_once(self, body: Callable[[Conn], T]) -> T:
        with self._pool.connection() as conn:
            return body(conn)

    def _write_once(self, doing: str, body: Callable[[Conn], T]) -> T:
        self._local.proof = None
        committing = False
        try:
            with self._pool.connection() as conn:
                self._local.conn = conn
                try:
                    with conn.transaction():
                        conn.execute("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK,))
                        result = body(conn)
                        committing = True  # leaving the block commits
                finally:
                    self._local.conn = None
            return result
        except DROPPED as exc:
            if not committing:
                raise  # rolled back by the server: safe to run again
            proof: Proof | None = self._local.proof
            if proof is None or self._committed(proof, doing, exc):
                return result  # committed (without a proof it is taken as done: never twice)
            raise  # not committed: run again
        finally:
            self._local.proof = None

    def _check_once(self, proof: Proof) -> bool:
        # Under the write lock: the dropped transaction holds it until the server has committed
        # or rolled it back, so the proof is read after the outcome, never before.
        with self._pool.connection() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK,))
            return proof(conn)

    def _committed(self, proof: Proof, doing: str, dropped: BaseException) -> bool:
        """Whether the transaction whose commit lost its connection committed, asked on new
        connections (retried); raises when no attempt can tell."""
        try:
            return self._retrying(doing, lambda: self._check_once(proof))
        except BackendUnavailable as exc:
            raise BackendUnavailable(
                f"the connection to PostgreSQL at {redact(self.url)} dropped while committing "
                f"({dropped}) and whether the change was committed cannot be told: {exc}. Once "
                "the server is back, read changes() or history(id) before repeating the write"
            ) from exc

    def _retrying(self, doing: str, attempt: Callable[[], T]) -> T:
        """``attempt()``, again after a dropped connection, ``retries`` times with backoff."""
        started = time.monotonic()
        for number in range(self._retries + 1):
            try:
                return attempt()
            except DROPPED as exc:
                if number == self._retries or self.closed:
                    raise BackendUnavailable(
                        f"PostgreSQL at {redact(self.url)} failed while {doing}, "
                        f"{number + 1} times in {time.monotonic() - started:.1f} s ({exc}); "
                        "check that the server is running and reachable from this host "
                        "(pg_isready), that it accepts more connections (max_connections), "
                        "then retry"
                    ) from exc
                time.sleep(self._backoff * 2**number)
                if self._pid != os.getpid():
                    self._pool = self._make_pool()
            except psycopg.Error as exc:
                raise translate(exc, self.url, doing) from exc
        raise AssertionError("unreachable")  # pragma: no cover
