"""What every part of ``PostgresStore`` shares: its connections, its clock, its read-only flag,
the batched access counters and the vectors' HNSW bookkeeping (``store.py`` sets them up)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import TypeVar

from memoryspace.errors import MemorySpaceError, ReadOnly
from memoryspace.store.access import AccessCounts
from memoryspace.store.base import Vector
from memoryspace.store.postgres import hnsw, vectors
from memoryspace.store.postgres.connections import Conn, Connections

T = TypeVar("T")
log = logging.getLogger("memoryspace.store.postgres")
READ_ONLY = (
    "this PostgreSQL database was opened read-only (read_only=True, or a replica); "
    "write through a store opened on the primary"
)


class PostgresBase:
    """The state the store's reads, writes, log and checkpoints share."""

    _url: str
    _clock: Callable[[], float]
    _read_only: bool
    _db: Connections
    _access: AccessCounts
    _hnsw_dimensions: set[int]  # dimensions known to have a valid HNSW index
    _hnsw_written: set[int]  # dimensions written without one, checked after the commit
    _hnsw_threshold: int
    _hnsw_memory: str | None
    _hnsw_deferred: int  # open ``bulk_load`` blocks: no build until the last ends
    _rows_read: int
    _rows_written: int

    def _reading(self, doing: str = "reading") -> AbstractContextManager[Conn]:
        return self._db.reading(doing)

    def _writing(self, doing: str = "writing") -> AbstractContextManager[Conn]:
        if self._read_only:
            raise ReadOnly(READ_ONLY)
        return self._db.writing(doing)

    def _read(self, body: Callable[[Conn], T], doing: str = "reading") -> T:
        """``body(conn)``, run again when the connection drops (``Connections.read``)."""
        return self._db.read(doing, body)

    def _write(self, doing: str, body: Callable[[Conn], T]) -> T:
        """``body(conn)`` in one write transaction, run again when the connection drops but
        never applied twice (``Connections.write``); then any HNSW index it made due is built."""
        if self._read_only:
            raise ReadOnly(READ_ONLY)
        outermost = not self._db.in_transaction()
        result = self._db.write(doing, body)
        if outermost:
            self._build_due_indexes()
        return result

    def _put_vector(self, conn: Conn, key: int, vector: Vector) -> None:
        self._wrote_vectors({vectors.put(conn, key, vector)})

    def _wrote_vectors(self, dimensions: set[int]) -> None:
        """Note dimensions written in this transaction (checked after it commits)."""
        self._hnsw_written.update(dimensions - self._hnsw_dimensions)

    def _build_due_indexes(self) -> None:
        """After a commit, outside any transaction: create the HNSW index of each dimension
        written that holds ``_hnsw_threshold`` vectors and has none (``hnsw.py``)."""
        if self._hnsw_deferred or not self._hnsw_written or self._db.in_transaction():
            return
        written, self._hnsw_written = self._hnsw_written, set()
        for dimension in sorted(written):
            try:
                self.build_vector_index(dimension, force=False)
            except MemorySpaceError as exc:  # the write committed: report, never raise
                self._hnsw_written.add(dimension)  # tried again after the next write
                log.warning("the HNSW index of dimension %d was not built: %s", dimension, exc)

    def build_vector_index(self, dimension: int, *, force: bool = True) -> bool:
        """Create the HNSW index of ``dimension`` now (``force``), or only once it holds the
        threshold's vectors; True when it exists and is valid, False when it is not due, or
        another process is building it.

        Raises:
            ReadOnly: a read-only store.
            BackendUnavailable: the server failed (an index left invalid is built again later).
        """
        if self._read_only:
            raise ReadOnly(READ_ONLY)
        if dimension in self._hnsw_dimensions:
            return True
        with self._db.autocommit("building the vector index") as conn:
            valid = hnsw.state(conn, dimension)
            if not valid and (force or hnsw.due(conn, dimension, self._hnsw_threshold)):
                valid = hnsw.build(conn, dimension, memory=self._hnsw_memory)
        if valid:
            self._hnsw_dimensions.add(dimension)
        return bool(valid)

    def has_vector_index(self, dimension: int) -> bool:
        """Whether the vectors of ``dimension`` have a valid HNSW index (else searches of
        them are exact scans)."""
        if dimension in self._hnsw_dimensions:
            return True
        valid = self._read(lambda conn: hnsw.state(conn, dimension))
        if valid:
            self._hnsw_dimensions.add(dimension)
        return bool(valid)

    @contextmanager
    def bulk_load(self) -> Iterator[None]:
        """Writes inside add vectors with no HNSW index to keep up (none is created while the
        block is open, in this process); at its end each dimension written that holds the
        threshold's vectors is indexed, in one build. ``memoryspace migrate`` loads this way."""
        self._hnsw_deferred += 1
        try:
            yield
        finally:
            self._hnsw_deferred -= 1
        self._build_due_indexes()

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
