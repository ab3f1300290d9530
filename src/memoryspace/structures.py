"""``MemoryInterface``: the narrow memory interface that agent structures are written against.

An agent structure (the MemoryOS-style ``Conversation``, the streaming reader's ``save``, and
later notes and reflection) keeps its state in ordinary records of a space. It needs a few
things only: add records, patch them (compare-and-set with ``if_version``), read them by id, by
filter and by relevance, count a use of a record (its access counters, which GC and the
replacement policies read), the space's clock, its embedder's vectors and token counter. It
never needs the store, the index or the hot tier, so a structure written against this protocol
runs over any space whatever sits below (a ``TieredStore``, another backend, a remote space).

``MemorySpace`` satisfies it; ``tests/test_structures.py`` runs a conversation over a minimal
implementation that only forwards these methods, and checks that ``memoryspace.conversation``
and ``memoryspace.reader`` import no store, tier, index or facade module.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from memoryspace.models import Memory, SearchHit
from memoryspace.settings import Settings

Vector = npt.NDArray[np.float32]
Vectors = npt.NDArray[np.float32]


@runtime_checkable
class MemoryInterface(Protocol):
    """What an agent structure may do with a memory space (see the module docstring).

    The semantics are ``MemorySpace``'s: ``update`` applies only the fields named, as a patch
    inside the store's transaction (``if_version`` raises ``Conflict`` if the record changed
    since); ``get_many`` and ``search`` see pending write-back edits; ``search(touch=False)``
    looks without counting a use, ``record_use`` counts one without searching.
    """

    @property
    def settings(self) -> Settings: ...

    def now(self) -> float:
        """The space's clock (Unix seconds); structures age their state by it, never by
        ``time.time``, so a test can drive them with a fake clock."""
        ...

    def add(self, content: str, *, dedupe: bool | None = None, **fields: Any) -> Memory: ...

    def add_many(
        self,
        items: Iterable[Mapping[str, Any] | str],
        *,
        actor: str | None = None,
        dedupe: bool | None = None,
    ) -> list[Memory]: ...

    def update(
        self, id: str, *, actor: str | None = None, if_version: int | None = None, **fields: Any
    ) -> Memory: ...

    def get(self, id: str) -> Memory: ...

    def get_many(self, ids: Sequence[str]) -> list[Memory]: ...

    def search(
        self,
        query: str,
        *,
        k: int = 10,
        min_score: float | None = None,
        touch: bool = True,
        **filters: Any,
    ) -> list[SearchHit]: ...

    def scan(
        self,
        *,
        limit: int | None = None,
        offset: int = 0,
        newest_first: bool = False,
        **filters: Any,
    ) -> Iterator[Memory]: ...

    def record_use(self, ids: Sequence[str], *, when: float | None = None) -> None:
        """Count one use (access) of each existing record among ``ids`` at ``when``
        (default now); batched like a search's, never logged."""
        ...

    def flush(self) -> int:
        """Write pending edits and batched access counters to the store."""
        ...

    def embed(self, texts: Sequence[str]) -> Vectors:
        """The space's embedder's unit vectors for ``texts``, shape ``(len(texts), dim)``."""
        ...

    def stored_vectors(self, ids: Sequence[str]) -> dict[str, Vector]:
        """The vectors stored with the records among ``ids`` (records without one left out)."""
        ...

    def count_tokens(self, text: str) -> int: ...
