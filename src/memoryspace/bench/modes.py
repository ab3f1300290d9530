"""Retrieval modes compared by the quality benchmarks: MemorySpace itself and its baselines.

A mode ingests records (``MemorySpace.add_many`` dicts whose ``user`` is the scope, e.g. one
LoCoMo conversation, and whose ``meta[ref_key]`` names the item, e.g. a dialogue id), then
answers ``rank(question, k, scope=...)`` with the refs of at most ``k`` items, best first.
Records arrive in time order.

* ``memoryspace``: ``MemorySpace.search`` with the default settings, so the benchmark follows
  whatever retrieval the library ships.
* ``recent``: a sliding window, the last ``k`` items of the scope, newest first.
* ``reservoir``: a uniform reservoir sample (Algorithm R, seeded per scope) of ``capacity``
  items, presented in a seeded random order, so every prefix is itself a uniform sample.
* ``bm25``: the store's FTS5 BM25 over each item's own words (no dialogue-context column),
  with document frequencies counted inside the scope.
* ``dense``: exact cosine similarity with the same embedder alone.
* ``mem0``: the ``mem0ai`` package, see ``memoryspace.bench.mem0_mode``.
* ``memoryos``: the MemoryOS-style ``Conversation``, see ``memoryspace.bench.memoryos_mode``.
* ``notes``: A-MEM linked notes (``notes:expand=0`` ranks without link expansion);
  ``reflect``: ``memoryspace`` after a reflection (see ``memoryspace.bench.notes_mode``).

``memoryspace.bench.mode_factory`` builds a mode by name (``make_mode``).
"""

from __future__ import annotations

import random
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

import numpy as np

from memoryspace.embed import HashingEmbedder
from memoryspace.embed.base import Embedder, Vectors
from memoryspace.errors import InvalidInput, ModeUnavailable
from memoryspace.models import Filter
from memoryspace.retrieval.terms import query_terms
from memoryspace.space import MemorySpace

Record = Mapping[str, Any]


def record_ref(record: Record, ref_key: str) -> str:
    """The item id a record carries in ``meta[ref_key]``.

    Raises:
        InvalidInput: the record has no such meta key.
    """
    try:
        return str(record["meta"][ref_key])
    except (KeyError, TypeError):
        raise InvalidInput(f"a benchmark record needs meta[{ref_key!r}]") from None


def _scope(record: Record) -> str:
    return str(record.get("user") or "")


class RetrievalMode(ABC):
    """One way to remember and recall; ``rank`` is the hook each mode defines."""

    name: ClassVar[str]
    external: ClassVar[bool] = False  # a third-party system: its failures are reported, not raised

    def __init__(self, ref_key: str) -> None:
        self.ref_key = ref_key

    def prepare(self, records: Sequence[Record]) -> None:  # noqa: B027 - an optional hook
        """Do, before ``ingest`` is timed, the work the benchmark keeps off the clock (e.g.
        embed texts the mode derives from ``records`` into the embedding cache)."""

    @abstractmethod
    def ingest(self, records: Sequence[Record]) -> None:
        """Remember ``records`` (in time order; they may span several scopes)."""

    @abstractmethod
    def rank(self, question: str, k: int, *, scope: str) -> list[str]:
        """Refs of at most ``k`` items of ``scope`` for ``question``, best first."""

    def close(self) -> None:  # noqa: B027 - an optional hook: most modes hold nothing
        """Free what the mode holds."""


class MemorySpaceMode(RetrievalMode):
    """MemorySpace's own hybrid search, in a space with default settings: in memory, or in the
    empty database ``db`` names (e.g. ``postgresql://...``, to measure that backend).

    It ranks with ``min_score=0``: recall at a depth measures the ranking, and a threshold
    would only cut the list short (see the README for recall at the default threshold).
    """

    name = "memoryspace"

    def __init__(self, ref_key: str, embedder: Embedder, db: str = ":memory:") -> None:
        super().__init__(ref_key)
        self.space = MemorySpace.open(db, embedder=embedder)
        if self.space.store.last_lsn() != 0:
            self.space.close()
            raise InvalidInput(
                f"the benchmark needs an empty database, and {db} holds memories; "
                "give a new database (or drop and recreate this one)"
            )

    def ingest(self, records: Sequence[Record]) -> None:
        self.space.add_many(records)

    def rank(self, question: str, k: int, *, scope: str) -> list[str]:
        hits = self.space.search(question, k=k, user=scope, min_score=0.0)
        return [str(hit.memory.meta[self.ref_key]) for hit in hits]

    def close(self) -> None:
        self.space.close()


class RecentMode(RetrievalMode):
    """A sliding window: the newest items of the scope, newest first."""

    name = "recent"

    def __init__(self, ref_key: str) -> None:
        super().__init__(ref_key)
        self._items: dict[str, list[tuple[float, int, str]]] = {}
        self._seen = 0

    def ingest(self, records: Sequence[Record]) -> None:
        for record in records:
            self._seen += 1
            when = float(record.get("timestamp") or 0.0)
            self._items.setdefault(_scope(record), []).append(
                (when, self._seen, record_ref(record, self.ref_key))
            )

    def rank(self, question: str, k: int, *, scope: str) -> list[str]:
        newest = sorted(self._items.get(scope, []), reverse=True)
        return [ref for _, _, ref in newest[:k]]


class ReservoirMode(RetrievalMode):
    """A seeded uniform sample of ``capacity`` items per scope (Algorithm R)."""

    name = "reservoir"

    def __init__(self, ref_key: str, capacity: int, seed: int = 0) -> None:
        super().__init__(ref_key)
        if capacity < 1:
            raise InvalidInput(f"reservoir capacity must be at least 1, got {capacity}")
        self.capacity = capacity
        self.seed = seed
        self._samples: dict[str, list[str]] = {}
        self._counts: dict[str, int] = {}
        self._rngs: dict[str, random.Random] = {}
        self._orders: dict[str, list[str]] = {}

    def ingest(self, records: Sequence[Record]) -> None:
        for record in records:
            scope, ref = _scope(record), record_ref(record, self.ref_key)
            rng = self._rngs.setdefault(scope, random.Random(f"{self.seed}/{scope}"))
            sample = self._samples.setdefault(scope, [])
            seen = self._counts.get(scope, 0)
            if seen < self.capacity:
                sample.append(ref)
            else:
                slot = rng.randrange(seen + 1)
                if slot < self.capacity:
                    sample[slot] = ref
            self._counts[scope] = seen + 1
            self._orders.pop(scope, None)

    def rank(self, question: str, k: int, *, scope: str) -> list[str]:
        order = self._orders.get(scope)
        if order is None:
            order = list(self._samples.get(scope, []))
            random.Random(f"{self.seed}/{scope}/order").shuffle(order)
            self._orders[scope] = order
        return order[:k]


class BM25Mode(RetrievalMode):
    """FTS5 BM25 of MemorySpace's store alone (the sparse half of hybrid search)."""

    name = "bm25"

    def __init__(self, ref_key: str) -> None:
        super().__init__(ref_key)
        # The vectors are never searched: the cheap hashing embedder only fills the column.
        self.space = MemorySpace.open(":memory:", embedder=HashingEmbedder())

    def ingest(self, records: Sequence[Record]) -> None:
        self.space.add_many(records)

    def rank(self, question: str, k: int, *, scope: str) -> list[str]:
        store = self.space.store
        # BM25 alone over each item's own text: no dialogue-context column (that is ours).
        found = store.text_search(
            query_terms(question), k, Filter.build(user=scope), now=time.time(), with_context=False
        )
        memories = store.get_by_keys([key for key, _ in found])
        return [str(memories[key].meta[self.ref_key]) for key, _ in found if key in memories]

    def close(self) -> None:
        self.space.close()


class DenseMode(RetrievalMode):
    """Exact cosine similarity between the question's and the items' embeddings."""

    name = "dense"

    def __init__(self, ref_key: str, embedder: Embedder) -> None:
        super().__init__(ref_key)
        self.embedder = embedder
        self._refs: dict[str, list[str]] = {}
        self._matrices: dict[str, Vectors] = {}

    def ingest(self, records: Sequence[Record]) -> None:
        by_scope: dict[str, list[Record]] = {}
        for record in records:
            by_scope.setdefault(_scope(record), []).append(record)
        for scope, group in by_scope.items():
            vectors = self.embedder.embed([str(r["content"]) for r in group])
            previous = self._matrices.get(scope)
            self._matrices[scope] = vectors if previous is None else np.vstack([previous, vectors])
            self._refs.setdefault(scope, []).extend(record_ref(r, self.ref_key) for r in group)

    def rank(self, question: str, k: int, *, scope: str) -> list[str]:
        matrix = self._matrices.get(scope)
        if matrix is None:
            return []
        scores = matrix @ self.embedder.embed([question])[0]
        order = np.argsort(-scores, kind="stable")[:k]
        refs = self._refs[scope]
        return [refs[int(i)] for i in order]


def run_each(
    names: Sequence[str],
    build: Callable[[str], RetrievalMode],
    measure: Callable[[RetrievalMode], dict[str, Any]],
) -> dict[str, dict[str, Any]]:
    """``measure(mode)`` for each named mode, closing each; a mode that cannot run, or an
    external one that fails, maps to ``{"unavailable": why}`` instead."""
    results: dict[str, dict[str, Any]] = {}
    for name in names:
        try:
            mode = build(name)
        except ModeUnavailable as exc:
            results[name] = {"unavailable": str(exc)}
            continue
        try:
            results[name] = measure(mode)
        except Exception as exc:
            if not mode.external:
                raise
            results[name] = {"unavailable": f"failed while running: {type(exc).__name__}: {exc}"}
        finally:
            mode.close()
    return results
