"""``MemorySpace``: the facade every shell (CLI, server, adapters) goes through.

One space is one database (one address space, in OS terms). It owns the store, the embedder and
the vector index that follows the store's log; it validates input, logs every change, and answers
searches with hybrid retrieval.

With ``Settings(hot_tier_records=N)`` (and/or ``hot_tier_tokens=T``) a ``HotTier`` (L2) of N
records (T tokens) sits in front of the store (L3) as a ``TieredStore``
(``memoryspace.tiers.store``), and ``space.store`` is that tiered store: the facade, retrieval, GC
and agent structures all read and write through it, so it stays coherent by construction. Reads
by id are hits or page faults; a search reads resident candidates from RAM and pages its hits in;
queries the database answers (search, scan, count, history, checkpoints, ...) see every pending
edit first. Content edits and ``if_version`` edits are logged before they return; in write-back
mode other edits (pinned, importance, tags, meta, valid_to, ...) stay dirty in RAM until a query,
an eviction, ``flush()`` or ``close()`` writes them back, so a crash loses only those. The tier
does not see other handles' writes; ``stats()["store"]`` counts the rows the database read and
wrote, so what the tier saves is visible. ``space.backing`` is the database itself.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from memoryspace import validate
from memoryspace.context import ContextWindow
from memoryspace.context.tokenizer import default_token_counter
from memoryspace.conversation.pages import gc_roots as conversation_roots
from memoryspace.embed.base import Embedder
from memoryspace.embed.queries import QueryVectors
from memoryspace.embed.resolve import resolve_embedder
from memoryspace.errors import Conflict, InvalidInput
from memoryspace.facade.erasure import ErasureMixin
from memoryspace.facade.history import HistoryMixin
from memoryspace.facade.logcare import LogCareMixin
from memoryspace.facade.maintenance import MaintenanceMixin
from memoryspace.facade.reads import ReadsMixin
from memoryspace.facade.structures import StructuresMixin
from memoryspace.facade.writes import WritesMixin
from memoryspace.gc import (
    Roots,
    make_collector,
)
from memoryspace.gc.auto import make_trigger
from memoryspace.gc.runner import gc_totals
from memoryspace.maintenance.reembed import check_unfinished
from memoryspace.profiler import MemoryProfiler
from memoryspace.retrieval.dense import DenseIndex, make_dense_index
from memoryspace.retrieval.hybrid import HybridRetriever, RetrievalConfig
from memoryspace.retrieval.pgvector import PgvectorIndex
from memoryspace.settings import Settings, merge_stored, setting_key, shared_changes
from memoryspace.store.base import Store
from memoryspace.store.locate import open_store, vector_index_path
from memoryspace.tiers.hot import WRITE_POLICIES, HotTier
from memoryspace.tiers.policies import POLICY_NAMES
from memoryspace.tiers.store import TieredStore

if TYPE_CHECKING:
    from memoryspace.llm.processors import Processors

log = logging.getLogger("memoryspace")


class MemorySpace(
    WritesMixin,
    ReadsMixin,
    HistoryMixin,
    MaintenanceMixin,
    StructuresMixin,
    ErasureMixin,
    LogCareMixin,
):
    """A memory space: add, search, edit, forget and time-travel memories.

    Open one with ``MemorySpace.open(path)`` and use it as a context manager. Safe to share
    between threads, and between processes on one file.
    """

    def __init__(
        self,
        store: Store,
        embedder: Embedder,
        *,
        settings: Settings | None = None,
        clock: Callable[[], float] = time.time,
        index_path: str | Path | None = None,
        profiler: MemoryProfiler | None = None,
    ) -> None:
        self.settings = _merge_shared(settings or Settings(), store)
        self.profiler = profiler
        self.count_tokens = self.settings.token_counter or default_token_counter()
        self._windows: dict[tuple[str | None, ...], ContextWindow] = {}
        self._windows_lock = threading.Lock()
        self.backing = store  # the database itself; ``store`` may put the hot tier in front
        self.store: Store = store
        self.embedder = embedder
        self._clock = clock
        self._closed = False
        self._counters: dict[str, int] = {"searches": 0, "adds": 0, "deduplicated": 0}
        self._counter_lock = threading.Lock()
        self._bounded_estimate = (0, 64)  # (live records, adds since counted): count at first
        self._adds_since_reflect = 0
        self._processors: Processors | None = None
        self._processors_lock = threading.Lock()
        self._bind_embedder()
        # What agent structures keep alive; a collection never takes it (see gc.roots).
        self.gc_roots = Roots()
        self.gc_roots.register("conversation", conversation_roots)
        self.hot_tier = self._make_hot_tier()
        self.tiered = None if self.hot_tier is None else TieredStore(store, self.hot_tier)
        if self.tiered is not None:
            self.store = self.tiered  # everything above reads and writes through the tier
        self.auto_gc = self._make_auto_gc()
        self._index_path = index_path
        self.index = self._make_index(self.settings)
        self._retriever = self._make_retriever()

    def _make_index(self, settings: Settings) -> DenseIndex:
        """The dense provider ``settings.vector_index`` names (raises ``InvalidInput`` for
        ``"pgvector"`` on a database that is not PostgreSQL)."""
        return make_dense_index(
            self.backing,  # follows the log (or is the database): vectors never wait in the tier
            choice=settings.vector_index,
            dimension=self.embedder.dimension,
            model_id=self.embedder.model_id,
            ann_threshold=settings.ann_threshold,
            ef_search=settings.pgvector_ef_search,
            path=self._index_path,
            precision=settings.vector_precision,
        )

    def _make_retriever(self) -> HybridRetriever:
        return HybridRetriever(
            self.store,
            self.index,
            QueryVectors(self.embedder),  # repeated queries skip the embedder
            RetrievalConfig.from_settings(self.settings),
        )

    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str] | Store = ":memory:",
        *,
        embedder: Embedder | str | None = "auto",
        settings: Settings | None = None,
        clock: Callable[[], float] = time.time,
        profiler: MemoryProfiler | None = None,
        create: bool = True,
        read_only: bool = False,
    ) -> MemorySpace:
        """Open (or create) the space stored at ``path``: a SQLite file, ``":memory:"`` (in
        RAM), a URL (``sqlite:///file.db``, ``postgresql://user:pw@host/db``) or an already-built
        store, which the space then owns and closes (see ``memoryspace.store.locate``).

        ``create=False`` opens only an existing database. ``read_only=True`` opens an existing
        database without writing to it, even on opening (a PostgreSQL read replica: a server
        whose sessions are read-only is opened so without asking); every write then raises
        ``ReadOnly``. ``profiler`` (off by default) records allocations, retrievals and GC
        events.

        Raises:
            NotFound: ``create`` is false (or ``read_only`` true) and there is no database at
                ``path``.
            InvalidInput: ``path`` is a folder, in a missing folder, or not a database; a path,
                embedder, settings or clock of the wrong type.
            Conflict: the database was embedded by another model, or by a newer MemorySpace.
            ReadOnly, DiskFull, BackendUnavailable: the file cannot be opened or prepared.
        """
        _check_open_arguments(embedder, settings, clock, profiler)
        create = validate.flag("create", create)
        read_only = validate.flag("read_only", read_only)
        settings = settings or Settings()
        _check_setting_names(settings)
        store = open_store(
            path,
            clock=clock,
            access_flush_every=settings.access_flush_every,
            durability=settings.durability,
            create=create and not read_only,
            read_only=read_only,
            ann_threshold=settings.ann_threshold,
        )
        try:
            return cls(
                store,
                resolve_embedder(embedder),
                settings=settings,
                clock=clock,
                index_path=vector_index_path(store),
                profiler=profiler,
            )
        except BaseException:
            store.close()
            raise

    def configure(self, **changes: Any) -> Settings:
        """Change shared settings (``memoryspace.settings.SHARED_SETTINGS``: retrieval weights,
        ``min_score``, ``dedupe``, ``max_records``, the GC trigger...) in the database, so every
        process that opens it from now on uses them; this handle uses them at once (a new
        ``vector_index`` replaces its dense index; one kept in memory is then built from the
        store on first use). Returns the settings now in force.

        Raises:
            InvalidInput: a setting that is not shared, or a bad value; nothing changes.
            ReadOnly: a read-only view.
        """
        self._writable()
        changed = shared_changes(self.settings, changes)
        _check_setting_names(changed)
        index = self._make_index(changed) if "vector_index" in changes else None
        with self.store.transaction():
            for name in changes:
                self.store.set_setting(setting_key(name), json.dumps(getattr(changed, name)))
        self.settings = changed
        if index is not None and type(index) is not type(self.index):
            old, self.index = self.index, index
            old.cancel_build()
        if isinstance(self.index, PgvectorIndex):
            self.index.ef_search = changed.pgvector_ef_search
        self._retriever = self._make_retriever()
        self.auto_gc = self._make_auto_gc()
        return changed

    def _bind_embedder(self) -> None:
        """Record the embedder in a new database; refuse another one's vectors."""
        model, dimension = self.store.get_setting("embedder.model_id"), self.embedder.dimension
        if model is None:
            if not self.store.read_only:
                self.store.set_setting("embedder.model_id", self.embedder.model_id)
                self.store.set_setting("embedder.dimension", str(dimension))
            return
        check_unfinished(self.store, self.embedder)  # a re-embedding killed half-way
        if model != self.embedder.model_id:
            raise Conflict(
                f"this database holds vectors of {model!r}, not {self.embedder.model_id!r}; "
                f"open it with that embedder (e.g. embedder='minilm' or 'hashing'), or "
                f"re-embed it: memoryspace reembed --embedder NAME --db PATH"
            )

    def _make_hot_tier(self) -> HotTier | None:
        """The L2 tier the settings ask for; none on read-only views (``as_of``)."""
        wanted = (self.settings.hot_tier_records, self.settings.hot_tier_tokens)
        if wanted == (None, None) or self.store.read_only:
            return None
        return HotTier(
            self.backing,
            capacity_records=self.settings.hot_tier_records,
            capacity_tokens=self.settings.hot_tier_tokens,
            policy=self.settings.hot_tier_policy,
            write_policy=self.settings.hot_tier_write_policy,
            promotion_batch=self.settings.hot_tier_promotion_batch,
            clock=self._clock,
            on_event=self.profiler.record if self.profiler is not None else None,
        )

    def flush(self) -> int:
        """Write the hot tier's dirty records and the batched access counters to the store;
        returns how many dirty records were written (0 without a write-back tier)."""
        self._usable()
        written = 0 if self.tiered is None else self.tiered.write_back()
        self.store.flush()  # and the batched access counters
        return written

    # -- lifecycle

    def close(self) -> None:
        """Flush the hot tier and counters, catch the vector index up with the log and save it,
        and close the database. A second call does nothing.

        Every file is released even when a step fails (a full disk, a read-only folder, a
        folder where the index file should be); the first failure is raised after that. The
        index is derived state, so a failed save loses nothing: the next open rebuilds or
        catches up. On a database this process cannot write, the save is skipped.

        Raises:
            MemorySpaceError: writing back the hot tier failed; the space stays open.
            DiskFull, ReadOnly, InvalidInput, BackendUnavailable: saving the index or the
                access counters failed; the space is closed all the same.
        """
        if self._closed:
            return
        if self.hot_tier is not None:
            self.hot_tier.close()
        self._closed = True
        failure: BaseException | None = None
        close_llm = getattr(getattr(self._processors, "llm", None), "close", None)
        try:
            if close_llm is not None:
                close_llm()
            if not self.store.read_only and self.backing.writable_on_disk():
                self.index.wait_for_build()  # save the HNSW graph being built, not build it again
                self.index.sync()
                self.index.save()
            self.index.cancel_build()
        except Exception as exc:
            failure = exc
        self.index.wait_for_save()  # a background save finishes before the files close
        try:
            self.store.close()
        except Exception as exc:
            failure = failure or exc
        if failure is not None:
            raise failure

    def __enter__(self) -> MemorySpace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writes

    # -- reads

    # -- garbage collection

    # -- the log, checkpoints and time travel

    def as_of(self, lsn: int) -> MemorySpace:
        """A read-only space holding the state right after ``lsn``; close it when done.

        Built from the newest sound checkpoint at or before ``lsn`` (damaged or foreign ones
        are skipped with a warning) plus the log.

        Raises:
            InvalidInput: ``lsn`` is negative or after the end of the log.
            BackendUnavailable: the checkpoint it starts from fails its page check.
        """
        self._usable()
        lsn = validate.integer("lsn", lsn, low=0, high=validate.MAX_LSN)
        past = self.store.as_of(lsn)
        return MemorySpace(past, self.embedder, settings=self.settings, clock=self._clock)

    # -- the narrow interface agent structures use (memoryspace.structures.MemoryInterface)

    # -- notes and reflection (memoryspace.notes, memoryspace.reflect)

    def stats(self) -> dict[str, Any]:
        """Sizes, counters and configuration, for humans and dashboards."""
        self._usable()
        out: dict[str, Any] = {
            **self.store.summary(),
            "gc": gc_totals(self.store),
            "embedder": self.embedder.model_id,
            "dimension": self.embedder.dimension,
            "index": {"kind": self.index.kind, "vectors": len(self.index), "lsn": self.index.lsn},
            "counters": dict(self._counters),
            "store": self.store.io_stats(),
        }
        cache = getattr(self.embedder, "cache", None)
        if cache is not None and hasattr(cache, "stats"):
            out["embedding_cache"] = dataclasses.asdict(cache.stats())
        if self.hot_tier is not None:
            out["hot_tier"] = self.hot_tier.stats()
        if self.auto_gc is not None:
            out["auto_gc"] = self.auto_gc.stats()
        llm = getattr(self._processors, "llm", None)
        if llm is not None:
            out["llm"] = {
                **dataclasses.asdict(llm.stats()),
                "fallbacks": getattr(self._processors, "fallbacks", {}),
            }
        if self.profiler is not None:
            out["profile"] = self.profiler.summary()
        return out


def _check_open_arguments(
    embedder: object, settings: object, clock: object, profiler: object
) -> None:
    """Types of ``MemorySpace.open``'s keyword arguments (the path is ``validate.path``).

    Raises:
        InvalidInput: one of the wrong type.
    """
    if embedder is not None and not isinstance(embedder, str | Embedder):
        raise InvalidInput(
            "embedder must be a name ('auto', 'hashing', 'minilm'), an Embedder or None"
        )
    if settings is not None and not isinstance(settings, Settings):
        raise InvalidInput("settings must be a Settings or None")
    if not callable(clock):
        raise InvalidInput("clock must be a function returning Unix seconds, e.g. time.time")
    if profiler is not None and not isinstance(profiler, MemoryProfiler):
        raise InvalidInput("profiler must be a MemoryProfiler or None")


def _merge_shared(given: Settings, store: Store) -> Settings:
    """``given`` merged with the shared settings ``store`` holds; a new database stores the
    non-default ones (see ``memoryspace.settings``).

    Raises:
        Conflict: ``given`` passes a shared value other than the stored one.
    """
    merged, to_store = merge_stored(given, store.get_setting)
    if not to_store or store.read_only:
        return merged
    with store.transaction():  # look again under the write lock: another process may have won
        merged, to_store = merge_stored(given, store.get_setting)
        for key, value in to_store.items():
            store.set_setting(key, value)
    return merged


def _check_setting_names(settings: Settings) -> None:
    """The policy, trigger and collector names of ``settings`` (the lower layer that holds
    ``Settings`` cannot know them), checked before any file is opened.

    Raises:
        InvalidInput: an unknown name.
    """
    if settings.hot_tier_policy not in POLICY_NAMES:
        raise InvalidInput(
            f"unknown hot_tier_policy {settings.hot_tier_policy!r}; use one of: "
            f"{', '.join(POLICY_NAMES)}"
        )
    if settings.hot_tier_write_policy not in WRITE_POLICIES:
        raise InvalidInput(
            f"unknown hot_tier_write_policy {settings.hot_tier_write_policy!r}; use one of: "
            f"{', '.join(WRITE_POLICIES)}"
        )
    make_collector(settings.gc_collector)
    if settings.gc_trigger is not None:
        make_trigger(settings)
