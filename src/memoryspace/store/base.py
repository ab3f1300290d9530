"""The ``Store`` protocol: the durable tier every backend implements.

A store keeps memory records, their vectors, a full-text index and the operation log in one
transactional database. Every mutation appends to the log in the same transaction, so the log
can rebuild any past state. Records carry a string ``id`` for users and an integer ``key`` that
the full-text and vector indexes use.

The contract tests in ``tests/store_contract.py`` run against every implementation.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from memoryspace.fingerprint import ContentKey
from memoryspace.heapview import HeapEntry
from memoryspace.models import Change, Checkpoint, Filter, Memory, Op
from memoryspace.store.erasure import PurgeReport

Vector = npt.NDArray[np.float32]
Keys = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class IndexDelta:
    """What a vector index must do to follow one log entry."""

    lsn: int
    op: Op
    key: int
    vector: Vector | None  # None for deletes and for updates that kept the vector


class TextIndex(Protocol):
    """A store's full-text provider. Its ranking is its own (BM25 with per-scope statistics and
    a dialogue-context column on both backends today: ``memoryspace.store.fts`` for SQLite's
    FTS5, ``memoryspace.store.postgres.text`` for PostgreSQL); what every provider must show
    is the behaviour the store contract tests, and its quality is measured on LoCoMo."""

    def search(
        self,
        terms: Sequence[str],
        k: int,
        flt: Filter,
        now: float | None,
        *,
        with_context: bool = True,
    ) -> list[tuple[int, float]]:
        """Top ``k`` (key, score) for records holding any of ``terms``, best first."""
        ...

    def bound(self, terms: Sequence[str], flt: Filter) -> float:
        """An upper bound of ``search``'s scores for ``terms`` in the filter's scope."""
        ...


class Store(Protocol):
    """Durable storage of memories, their log, vectors and full text."""

    @property
    def path(self) -> str | None: ...

    @property
    def read_only(self) -> bool: ...

    @property
    def as_of_lsn(self) -> int | None:
        """The LSN a read-only view of the past shows (``None`` for the live database)."""
        ...

    @property
    def database_id(self) -> str | None:
        """The random id the database got at creation; checkpoints and saved indexes carry it."""
        ...

    def writable_on_disk(self) -> bool:
        """Whether this process may write the database (and, for a file, its folder)."""
        ...

    def close(self) -> None: ...

    # -- settings that must survive a restart (embedder id, dimension, ...)
    def get_setting(self, key: str) -> str | None: ...

    def set_setting(self, key: str, value: str) -> None: ...

    # -- writes: each call is one transaction, logged
    def transaction(self) -> AbstractContextManager[None]:
        """Writes made inside commit together, or none does when the block raises; a
        ``transaction`` inside another joins it."""
        ...

    def insert(
        self, items: Sequence[tuple[Memory, Vector | None]], *, actor: str | None = None
    ) -> list[Change]: ...

    def update(
        self,
        id: str,
        patch: Mapping[str, Any],
        *,
        vector: Vector | None = None,
        actor: str | None = None,
        if_version: int | None = None,
    ) -> Change:
        """Apply ``patch`` (field -> value) to the record as it is inside the transaction;
        ``if_version`` makes it conditional on the record's version (``Conflict`` otherwise)."""
        ...

    def delete(self, ids: Sequence[str], *, actor: str | None = None) -> list[Change]: ...

    def touch(self, keys: Sequence[int], when: float) -> None:
        """Count an access to each key; batched, not logged (like atime)."""

    def flush(self) -> None:
        """Write buffered access counts."""

    # -- reads
    def get(self, id: str) -> Memory: ...

    def get_many(self, ids: Sequence[str]) -> list[Memory]: ...

    def find_same_content(
        self, wanted: Sequence[ContentKey], *, now: float
    ) -> dict[ContentKey, Memory]:
        """For each key, the oldest live (not archived, not expired) record it matches."""
        ...

    def get_by_keys(self, keys: Sequence[int]) -> dict[int, Memory]: ...

    def key_of(self, id: str) -> int: ...

    def count(self, flt: Filter | None = None, *, now: float | None = None) -> int: ...

    def scan(
        self,
        flt: Filter | None = None,
        *,
        now: float | None = None,
        limit: int | None = None,
        offset: int = 0,
        newest_first: bool = False,
    ) -> Iterator[Memory]: ...

    def heap(self) -> list[HeapEntry]:
        """Every live (unarchived) record, expired ones included, in creation order, without
        content or vector: what a garbage collection plans from (access counts as last
        flushed; not counted in ``io_stats``)."""
        ...

    def expired(self, now: float, limit: int) -> list[Memory]:
        """Up to ``limit`` live records whose ``expires_at`` is at or before ``now``, found
        through an index (soonest expired first)."""
        ...

    def filter_keys(self, flt: Filter, *, now: float) -> Keys: ...

    def text_search(
        self,
        terms: Sequence[str],
        k: int,
        flt: Filter | None = None,
        *,
        now: float | None = None,
        with_context: bool = True,
    ) -> list[tuple[int, float]]:
        """Top ``k`` (key, score) by BM25 over ``terms`` (any may match), higher score first.

        Document frequencies are counted inside the filter's scope; ``with_context`` also
        searches each memory's dialogue context (its session neighbours) at a lower weight.
        """

    def text_bound(self, terms: Sequence[str], flt: Filter | None = None) -> float:
        """An upper bound of ``text_search``'s scores for ``terms`` in the filter's scope, so
        that a score divided by it is in [0, 1] (0 when the scope holds no memory)."""

    def vectors(self, keys: Sequence[int]) -> Mapping[int, Vector]: ...

    def iter_vectors(self, batch: int = 4096) -> Iterator[tuple[Keys, npt.NDArray[np.float32]]]: ...

    def io_stats(self) -> dict[str, int]:
        """``rows_read`` and ``rows_written``: records this object has read for its callers and
        written, since it was opened (what a cache in front of it saves is visible here)."""
        ...

    def summary(self) -> dict[str, Any]:
        """Counts by kind, pinned, archived and generation, the LSN, checkpoints and bytes."""

    # -- the log
    def last_lsn(self) -> int: ...

    def changes(self, since_lsn: int = 0, limit: int | None = None) -> list[Change]: ...

    def history(self, id: str) -> list[Change]: ...

    def index_deltas(self, since_lsn: int) -> Iterator[IndexDelta]: ...

    # -- erasure (memoryspace.store.erasure)
    def ever_stored(
        self, user: str | None = None, agent: str | None = None, session: str | None = None
    ) -> list[str]:
        """Ids of every record ever stored in the scope, live or deleted (found through the
        log), oldest first."""
        ...

    def purge(
        self, ids: Sequence[str], *, texts: Sequence[str] = (), actor: str | None = None
    ) -> PurgeReport:
        """Erase records everywhere the backend keeps them: live rows, indexes, log payloads
        (tombstoned, a ``purge`` entry appended), checkpoints; ``texts`` are the contents they
        ever had, to check rewritten copies against."""
        ...

    # -- snapshots and time travel
    def checkpoint(self, name: str, *, overwrite: bool = False) -> Checkpoint: ...

    def checkpoints(self) -> list[Checkpoint]: ...

    def delete_checkpoint(self, name: str) -> None: ...

    def restore(
        self, name: str | None, to_lsn: int | None = None, *, actor: str | None = None
    ) -> list[Change]: ...

    def as_of(self, lsn: int) -> Store: ...
