"""``DenseIndex``: what the space and the retriever need of a dense (vector) search provider,
and the choice between the two there are.

``SyncedIndex`` (``synced.py``) holds the vectors in this process, following the store's log;
``PgvectorIndex`` (``pgvector.py``) asks PostgreSQL's HNSW index, so a process holds none.
``Settings.vector_index`` picks: ``"memory"``, ``"pgvector"`` (PostgreSQL only) or ``"auto"``
(pgvector on PostgreSQL, in memory elsewhere).
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from memoryspace.errors import InvalidInput
from memoryspace.index.base import Keys, Scores, Vectors
from memoryspace.store.base import Store


class DenseIndex(Protocol):
    @property
    def lsn(self) -> int:
        """The log position the answers reflect."""

    @property
    def rebuilt(self) -> bool:
        """Built from the store at open (no usable saved copy)."""

    @property
    def unsaved(self) -> int:
        """Log entries the index holds that its saved copy lacks (0: nothing to save)."""

    @property
    def kind(self) -> str: ...

    def __len__(self) -> int: ...

    def search(
        self, query: Vectors, k: int, allowed: Keys | None = None
    ) -> tuple[Keys, Scores]: ...

    def sync(self) -> int: ...

    def save(self) -> bool: ...

    def save_in_background(self) -> bool:
        """Start a save that no write waits for; ``False`` when none was started."""
        ...

    def wait_for_save(self) -> None:
        """Wait for a background save, if one runs."""
        ...

    def rebuild(self) -> None:
        """Rebuild from the store's vectors (compact), to be saved anew by the next ``save``."""
        ...

    def wait_for_build(self, timeout: float | None = None) -> bool:
        """Wait for an index being built in the background; ``True`` when none is running."""
        ...

    def cancel_build(self) -> None:
        """Stop a background build (the index stays usable)."""
        ...

    def rebind(self, *, dimension: int, model_id: str) -> None: ...


def make_dense_index(
    store: Store,
    *,
    choice: str,
    dimension: int,
    model_id: str,
    ann_threshold: int,
    ef_search: int,
    path: str | Path | None,
    precision: str = "float32",
) -> DenseIndex:
    """The dense provider ``choice`` names for ``store``.

    Raises:
        InvalidInput: ``"pgvector"`` for a store that is not PostgreSQL.
    """
    from memoryspace.retrieval.synced import SyncedIndex

    nearest = getattr(store, "nearest", None)
    if choice == "pgvector" and nearest is None:
        raise InvalidInput(
            "vector_index='pgvector' needs a PostgreSQL database; use 'memory' (or 'auto') here"
        )
    if choice in ("pgvector", "auto") and nearest is not None:
        from memoryspace.retrieval.pgvector import PgvectorIndex

        return PgvectorIndex(store, dimension=dimension, ef_search=ef_search)
    return SyncedIndex(
        store,
        dimension=dimension,
        model_id=model_id,
        ann_threshold=ann_threshold,
        path=path,
        precision=precision,
    )
