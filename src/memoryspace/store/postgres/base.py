"""What every part of ``PostgresStore`` shares: its connections, its clock, its read-only flag,
the batched access counters and the vectors' HNSW bookkeeping (``store.py`` sets them up)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import TypeVar

from memoryspace.errors import ReadOnly
from memoryspace.store.access import AccessCounts
from memoryspace.store.base import Vector
from memoryspace.store.postgres import vectors
from memoryspace.store.postgres.connections import Conn, Connections

T = TypeVar("T")


class PostgresBase:
    """The state the store's reads, writes, log and checkpoints share."""

    _url: str
    _clock: Callable[[], float]
    _read_only: bool
    _db: Connections
    _access: AccessCounts
    _hnsw_dimensions: set[int]
    _rows_read: int
    _rows_written: int

    def _reading(self, doing: str = "reading") -> AbstractContextManager[Conn]:
        return self._db.reading(doing)

    def _writing(self, doing: str = "writing") -> AbstractContextManager[Conn]:
        if self._read_only:
            raise ReadOnly("this is a read-only view; restore it to make it current")
        return self._db.writing(doing)

    def _read(self, body: Callable[[Conn], T], doing: str = "reading") -> T:
        """``body(conn)``, run again when the connection drops (``Connections.read``)."""
        return self._db.read(doing, body)

    def _write(self, doing: str, body: Callable[[Conn], T]) -> T:
        """``body(conn)`` in one write transaction, run again when the connection drops but
        never applied twice (``Connections.write``)."""
        if self._read_only:
            raise ReadOnly("this is a read-only view; restore it to make it current")
        try:
            return self._db.write(doing, body)
        except BaseException:
            self._hnsw_dimensions.clear()  # an index created in a rolled-back transaction
            raise

    def _put_vector(self, conn: Conn, key: int, vector: Vector) -> None:
        vectors.put(conn, key, vector, self._hnsw_dimensions)

    def touch(self, keys: Sequence[int], when: float) -> None:
        """Count one access to each key; written in batches by ``flush``, never logged."""
        if self._read_only:
            return
        if self._access.add(keys, when):
            self.flush()

    def flush(self) -> None:
        """Write buffered access counts (skipping keys deleted meanwhile) in one statement."""
        pending = self._access.take()
        if not pending or self._read_only or self._db.closed:
            return
        keys = sorted(pending)  # one order for every writer: no deadlock between flushes
        with self._reading("writing access counts") as conn:
            conn.execute(
                "INSERT INTO access(key, count, last) SELECT v.key, v.count, v.last "
                "FROM unnest(%s::bigint[], %s::bigint[], %s::float8[]) AS v(key, count, last) "
                "WHERE EXISTS (SELECT 1 FROM memories m WHERE m.key = v.key) "
                "ON CONFLICT (key) DO UPDATE SET count = access.count + EXCLUDED.count, "
                "last = GREATEST(access.last, EXCLUDED.last)",
                (keys, [pending[k][0] for k in keys], [pending[k][1] for k in keys]),
            )
