"""``SpaceState``: what every part of ``MemorySpace`` shares.

``MemorySpace`` (``memoryspace.space``) is one class assembled from parts, each a module small
enough to read in one sitting: writes, reads, history, maintenance and structures
(``memoryspace.facade``). This base declares the state ``MemorySpace.__init__`` sets up, the
checks every call starts with, and (for the type checker only) the methods one part calls on
another.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, cast

from memoryspace.context import ContextWindow
from memoryspace.embed.base import Embedder
from memoryspace.errors import Closed, ReadOnly
from memoryspace.gc import Roots
from memoryspace.gc.auto import AutoCollector
from memoryspace.models import Change, SearchHit
from memoryspace.profiler import MemoryProfiler
from memoryspace.retrieval.dense import DenseIndex
from memoryspace.retrieval.hybrid import HybridRetriever
from memoryspace.settings import Settings
from memoryspace.store.base import Store
from memoryspace.tiers.hot import HotTier
from memoryspace.tiers.store import TieredStore
from memoryspace.tokens import TokenCounter

if TYPE_CHECKING:
    from memoryspace.gc import ActionPolicy, Collector, GCEvent
    from memoryspace.llm.processors import Processors
    from memoryspace.space import MemorySpace


class SpaceState:
    """The state of a ``MemorySpace`` and the checks its calls share."""

    settings: Settings
    profiler: MemoryProfiler | None
    count_tokens: TokenCounter
    backing: Store  # the database itself
    store: Store  # what everything reads and writes through: ``backing``, or the tier over it
    embedder: Embedder
    index: DenseIndex
    gc_roots: Roots
    hot_tier: HotTier | None
    tiered: TieredStore | None
    auto_gc: AutoCollector | None
    _retriever: HybridRetriever
    _clock: Callable[[], float]
    _closed: bool
    _windows: dict[tuple[str | None, ...], ContextWindow]
    _windows_lock: threading.Lock
    _counters: dict[str, int]
    _counter_lock: threading.Lock
    _bounded_estimate: tuple[int, int]
    _adds_since_reflect: int
    _processors: Processors | None
    _processors_lock: threading.Lock

    def _usable(self) -> None:
        if self._closed:
            raise Closed("this MemorySpace is closed; open it again with MemorySpace.open()")

    def _writable(self) -> None:
        self._usable()
        if self.store.read_only and self.backing.as_of_lsn is None:
            raise ReadOnly(
                "this space was opened read-only (read_only=True, or a read-only replica); "
                "write through a space opened for writing (on the primary)"
            )
        if self.store.read_only:
            raise ReadOnly(
                f"this is a read-only view of LSN {self.backing.as_of_lsn}; "
                "call restore(None, to_lsn=...) on the live space to bring it back"
            )

    def _count(self, name: str, n: int = 1) -> None:
        with self._counter_lock:
            self._counters[name] = self._counters.get(name, 0) + n

    @property
    def _facade(self) -> MemorySpace:
        """This object as the ``MemorySpace`` it is a part of, for calls that take one."""
        return cast("MemorySpace", self)

    if TYPE_CHECKING:  # what one part calls on another; each is defined in its own part

        def _make_retriever(self) -> HybridRetriever: ...

        @property
        def lsn(self) -> int: ...

        def flush(self) -> int: ...

        def processors(self) -> Processors: ...

        def search(
            self,
            query: str,
            *,
            k: int = 10,
            min_score: float | None = None,
            touch: bool = True,
            expand: int = 0,
            **filters: Any,
        ) -> list[SearchHit]: ...

        def delete(self, ids: str | Sequence[str], *, actor: str | None = None) -> list[Change]: ...

        def gc(
            self,
            collector: str | Collector = "generational",
            *,
            dry_run: bool = False,
            policy: ActionPolicy | None = None,
            **options: Any,
        ) -> GCEvent: ...

        def _free_windows(self, ids: Any) -> None: ...

        def _maybe_reflect(self, added: int) -> None: ...

        def _save_index_quietly(self) -> None: ...
