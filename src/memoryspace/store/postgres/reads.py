"""The reads of ``PostgresStore``: records by id, key, filter and content, counts, full text
and vectors. Each read borrows a pooled connection in autocommit mode, so it sees the latest
commits (inside a write transaction, the transaction's own connection and writes)."""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from memoryspace.errors import NotFound
from memoryspace.fingerprint import ContentKey
from memoryspace.heapview import HeapEntry
from memoryspace.models import Filter, Memory
from memoryspace.store.base import Keys, Vector
from memoryspace.store.codec import memory_from_row
from memoryspace.store.heapscan import heap_entry, heap_query
from memoryspace.store.postgres import vectors
from memoryspace.store.postgres.base import PostgresBase
from memoryspace.store.postgres.connections import Conn
from memoryspace.store.postgres.sql import SELECT_MEMORY, where_clause
from memoryspace.store.postgres.text import PostgresTextIndex


class PostgresReads(PostgresBase):
    """Reading records, text and vectors."""

    text_index: PostgresTextIndex

    def _get_row(self, conn: Conn, id: str) -> tuple[int, Memory]:
        row = conn.execute(f"{SELECT_MEMORY} WHERE m.id = %s", (id,)).fetchone()
        if row is None:
            raise NotFound(f"no memory with id {id!r}; search or list memories to find ids")
        return memory_from_row(row)

    def _with_pending(self, key: int, memory: Memory) -> Memory:
        self._rows_read += 1  # every record a read returns passes here
        return self._access.apply(key, memory)

    def _memories(self, sql: str, params: Sequence[Any]) -> list[tuple[int, Memory]]:
        rows = self._read(lambda conn: conn.execute(sql, params).fetchall())
        return [
            (key, self._with_pending(key, memory)) for key, memory in map(memory_from_row, rows)
        ]

    def get(self, id: str) -> Memory:
        """The memory with ``id``.

        Raises:
            NotFound: no memory has that id.
        """
        key, memory = self._read(lambda conn: self._get_row(conn, id))
        return self._with_pending(key, memory)

    def key_of(self, id: str) -> int:
        row = self._read(
            lambda conn: conn.execute("SELECT key FROM memories WHERE id = %s", (id,)).fetchone()
        )
        if row is None:
            raise NotFound(f"no memory with id {id!r}")
        return int(row[0])

    def get_many(self, ids: Sequence[str]) -> list[Memory]:
        """The memories that exist among ``ids``, in the order asked."""
        found = {
            m.id: m for _, m in self._memories(f"{SELECT_MEMORY} WHERE m.id = ANY(%s)", [list(ids)])
        }
        return [found[i] for i in ids if i in found]

    def get_by_keys(self, keys: Sequence[int]) -> dict[int, Memory]:
        wanted = [int(k) for k in keys]
        return dict(self._memories(f"{SELECT_MEMORY} WHERE m.key = ANY(%s)", [wanted]))

    def find_same_content(
        self, wanted: Sequence[ContentKey], *, now: float
    ) -> dict[ContentKey, Memory]:
        """For each key, the oldest live (not archived, not expired) record it matches."""
        keys = set(wanted)
        found: dict[ContentKey, Memory] = {}
        rows = self._memories(
            f"{SELECT_MEMORY} WHERE m.content_hash = ANY(%s) AND m.archived = 0 "
            "AND (m.expires_at IS NULL OR m.expires_at > %s) ORDER BY m.key",
            [sorted({k.fingerprint for k in keys}), now],
        )
        for _, memory in rows:
            same = ContentKey.of(
                memory.content, memory.kind, memory.user, memory.agent, memory.session
            )
            if same in keys and same not in found:
                found[same] = memory
        return found

    def count(self, flt: Filter | None = None, *, now: float | None = None) -> int:
        where, params = where_clause(flt, now)
        sql = f"SELECT count(*) FROM memories m WHERE {where}"
        row = self._read(lambda conn: conn.execute(sql, params).fetchone())
        return int(row[0]) if row else 0

    def scan(
        self,
        flt: Filter | None = None,
        *,
        now: float | None = None,
        limit: int | None = None,
        offset: int = 0,
        newest_first: bool = False,
    ) -> Iterator[Memory]:
        """Memories matching ``flt`` in creation order (or newest first)."""
        where, params = where_clause(flt, now)
        order = "DESC" if newest_first else "ASC"
        sql = (
            f"{SELECT_MEMORY} WHERE {where} ORDER BY m.created_at {order}, m.key {order} "
            "LIMIT %s OFFSET %s"
        )
        for _, memory in self._memories(sql, [*params, limit, offset]):
            yield memory

    def heap(self) -> list[HeapEntry]:
        """The live records without their contents (see ``memoryspace.heapview``)."""
        return self._read(
            lambda conn: [heap_entry(row) for row in conn.execute(heap_query('"user"')).fetchall()]
        )

    def expired(self, now: float, limit: int) -> list[Memory]:
        """Up to ``limit`` live (unarchived) records whose ``expires_at`` has passed, soonest
        expired first, through the ``memories_expires`` index."""
        rows = self._memories(
            f"{SELECT_MEMORY} WHERE m.expires_at IS NOT NULL AND m.expires_at <= %s "
            "AND m.archived = 0 ORDER BY m.expires_at, m.key LIMIT %s",
            [now, limit],
        )
        return [memory for _, memory in rows]

    def filter_keys(self, flt: Filter, *, now: float) -> Keys:
        where, params = where_clause(flt, now)
        sql = f"SELECT m.key FROM memories m WHERE {where}"
        rows = self._read(lambda conn: conn.execute(sql, params).fetchall())
        return np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))

    def text_search(
        self,
        terms: Sequence[str],
        k: int,
        flt: Filter | None = None,
        *,
        now: float | None = None,
        with_context: bool = True,
    ) -> list[tuple[int, float]]:
        """Top ``k`` (key, BM25 score) for memories holding any of ``terms``, best first (see
        ``memoryspace.store.postgres.text``)."""
        return self.text_index.search(terms, k, flt or Filter(), now, with_context=with_context)

    def text_bound(self, terms: Sequence[str], flt: Filter | None = None) -> float:
        return self.text_index.bound(terms, flt or Filter())

    def vectors(self, keys: Sequence[int]) -> Mapping[int, Vector]:
        return self._read(lambda conn: vectors.of_keys(conn, keys))

    def iter_vectors(self, batch: int = 4096) -> Iterator[tuple[Keys, Vector]]:
        """Every stored vector, ``batch`` at a time, as (keys, matrix)."""
        last = -1
        while True:
            found = self._read(functools.partial(vectors.batch_after, last=last, batch=batch))
            if found is None:
                return
            yield found
            last = int(found[0][-1])

    def io_stats(self) -> dict[str, int]:
        """Records this object has read (decoded for a caller) and written (inserted, updated
        or deleted) since it was opened."""
        return {"rows_read": self._rows_read, "rows_written": self._rows_written}

    def nearest(
        self, query: Vector, k: int, allowed: Keys | None = None, *, ef_search: int = 100
    ) -> tuple[Keys, Vector]:
        """The ``k`` keys whose vectors are nearest ``query`` (cosine, by pgvector's HNSW
        index), and their cosine similarities, best first; only ``allowed`` keys when given."""
        return self._read(
            lambda conn: vectors.nearest(conn, query, k, allowed, ef_search=ef_search),
            "searching vectors",
        )

    def vector_count(self, dimension: int) -> int:
        """How many stored vectors have ``dimension`` components."""
        return self._read(lambda conn: vectors.count(conn, dimension))
