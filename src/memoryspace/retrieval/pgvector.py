"""``PgvectorIndex``: dense search answered by PostgreSQL (pgvector's HNSW index, cosine).

The vectors stay in the database, indexed there (``store.postgres.hnsw``: once a dimension holds
enough of them; exact scans until then),
so a process holds no copy, builds nothing when it opens, and sees every commit of every host
at once: there is nothing to follow, save or rebuild. ``ef_search`` (pgvector's
``hnsw.ef_search``, set per query) trades speed for recall; a filtered search of few allowed
keys is ranked exactly.
"""

from __future__ import annotations

from typing import Any

from memoryspace.index.base import Keys, Scores, Vectors


class PgvectorIndex:
    """A ``DenseIndex`` over a ``PostgresStore``'s vectors."""

    rebuilt = False

    def __init__(self, store: Any, *, dimension: int, ef_search: int = 100) -> None:
        self._store = store  # a PostgresStore (``nearest``, ``vector_count``, ``last_lsn``)
        self._dimension = dimension
        self.ef_search = ef_search

    @property
    def lsn(self) -> int:
        """Always the end of the log: the database is the index."""
        return int(self._store.last_lsn())

    @property
    def kind(self) -> str:
        """``pgvector-hnsw``, or ``pgvector-exact`` while the vectors have no HNSW index."""
        indexed = self._store.has_vector_index(self._dimension)
        return "pgvector-hnsw" if indexed else "pgvector-exact"

    def __len__(self) -> int:
        return int(self._store.vector_count(self._dimension))

    def search(self, query: Vectors, k: int, allowed: Keys | None = None) -> tuple[Keys, Scores]:
        keys, scores = self._store.nearest(query, k, allowed, ef_search=self.ef_search)
        return keys, scores

    def sync(self) -> int:
        return 0  # nothing to follow

    @property
    def unsaved(self) -> int:
        return 0  # the server's index is the table's

    def save(self) -> bool:
        return False  # nothing to save

    def save_in_background(self) -> bool:
        return False

    def wait_for_save(self) -> None:
        return None

    def rebuild(self) -> None:
        pass  # the server's index is the table's: nothing held here

    def wait_for_build(self, timeout: float | None = None) -> bool:
        return True  # the server's index is built by the writer that made it due

    def cancel_build(self) -> None:
        pass

    def rebind(self, *, dimension: int, model_id: str) -> None:
        """Search vectors of another dimension (after a re-embedding)."""
        self._dimension = dimension
