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
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from memoryspace import validate
from memoryspace.context import AssembledContext, ContextWindow, assemble_context
from memoryspace.context.tokenizer import default_token_counter
from memoryspace.conversation.pages import gc_roots as conversation_roots
from memoryspace.dedupe import plan_batch
from memoryspace.embed.base import Embedder
from memoryspace.embed.resolve import resolve_embedder
from memoryspace.errors import Closed, Conflict, InvalidInput, MemorySpaceError, NotFound, ReadOnly
from memoryspace.fingerprint import ContentKey
from memoryspace.gc import (
    ActionPolicy,
    Collector,
    GCEvent,
    Roots,
    make_collector,
    run_collection,
    with_roots,
)
from memoryspace.gc.auto import AutoCollector, make_trigger
from memoryspace.gc.runner import add_to_totals, gc_totals
from memoryspace.maintenance.reembed import ReembedResult, check_unfinished, reembed_store
from memoryspace.models import Change, Checkpoint, Filter, Memory, Op, SearchHit
from memoryspace.profiler import ALLOCATION, GC, READ, RETRIEVAL, MemoryProfiler
from memoryspace.records import build_memory, edit_patch
from memoryspace.retrieval.expand import expand_hits, visible
from memoryspace.retrieval.hybrid import HybridRetriever, RetrievalConfig
from memoryspace.retrieval.synced import SyncedIndex
from memoryspace.settings import Settings, merge_stored, setting_key, shared_changes
from memoryspace.store.base import Store
from memoryspace.store.locate import open_store, vector_index_path
from memoryspace.tiers.hot import WRITE_POLICIES, HotTier
from memoryspace.tiers.policies import POLICY_NAMES
from memoryspace.tiers.store import TieredStore
from memoryspace.validate import Vector

if TYPE_CHECKING:
    from memoryspace.conversation import Conversation, ConversationSettings
    from memoryspace.llm.processors import Processors
    from memoryspace.notes import Notes
    from memoryspace.reader import ChunkStats, Reading, ReadingPolicy
    from memoryspace.reflect import Reflection, ReflectOptions
    from memoryspace.transfer import ImportResult, OnConflict

log = logging.getLogger("memoryspace")


class MemorySpace:
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
        self.index = SyncedIndex(
            store,  # follows the log: vectors never wait in the tier
            dimension=embedder.dimension,
            model_id=embedder.model_id,
            ann_threshold=self.settings.ann_threshold,
            path=index_path,
        )
        self._retriever = self._make_retriever()

    def _make_retriever(self) -> HybridRetriever:
        return HybridRetriever(
            self.store,
            self.index,
            self.embedder,
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
    ) -> MemorySpace:
        """Open (or create) the space stored at ``path``: a SQLite file, ``":memory:"`` (in
        RAM), a URL (``sqlite:///file.db``, ``postgresql://user:pw@host/db``) or an already-built
        store, which the space then owns and closes (see ``memoryspace.store.locate``).

        ``create=False`` opens only an existing database. ``profiler`` (off by default) records
        allocations, retrievals and GC events.

        Raises:
            NotFound: ``create`` is false and there is no database at ``path``.
            InvalidInput: ``path`` is a folder, in a missing folder, or not a database; a path,
                embedder, settings or clock of the wrong type.
            Conflict: the database was embedded by another model, or by a newer MemorySpace.
            ReadOnly, DiskFull, BackendUnavailable: the file cannot be opened or prepared.
        """
        _check_open_arguments(embedder, settings, clock, profiler)
        create = validate.flag("create", create)
        settings = settings or Settings()
        _check_setting_names(settings)
        store = open_store(
            path,
            clock=clock,
            access_flush_every=settings.access_flush_every,
            durability=settings.durability,
            create=create,
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
        process that opens it from now on uses them; this handle uses them at once. Returns the
        settings now in force.

        Raises:
            InvalidInput: a setting that is not shared, or a bad value; nothing changes.
            ReadOnly: a read-only view.
        """
        self._writable()
        changed = shared_changes(self.settings, changes)
        _check_setting_names(changed)
        with self.store.transaction():
            for name in changes:
                self.store.set_setting(setting_key(name), json.dumps(getattr(changed, name)))
        self.settings = changed
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

    def _make_auto_gc(self) -> AutoCollector | None:
        """Automatic collection when the settings name a trigger; none on read-only views."""
        if self.settings.gc_trigger is None or self.store.read_only:
            return None

        def lookups() -> tuple[int, int]:
            if self.hot_tier is None:
                return 0, 0
            counters = self.hot_tier.stats()
            return int(counters["hits"]), int(counters["hits"] + counters["misses"])

        def fragmentation() -> float:
            with self._windows_lock:
                return max((w.fragmentation() for w in self._windows.values()), default=0.0)

        return AutoCollector(
            make_trigger(self.settings),
            collect=lambda: self.gc(self.settings.gc_collector),
            live=lambda: self.store.count(Filter(), now=self._clock()),
            fragmentation=fragmentation,
            lookups=lookups,
            clock=self._clock,
            check_every=self.settings.gc_check_every,
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
                self.index.sync()
                self.index.save()
        except Exception as exc:
            failure = exc
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

    def _usable(self) -> None:
        if self._closed:
            raise Closed("this MemorySpace is closed; open it again with MemorySpace.open()")

    def _writable(self) -> None:
        self._usable()
        if self.store.read_only:
            raise ReadOnly(
                f"this is a read-only view of LSN {self.backing.as_of_lsn}; "
                "call restore(None, to_lsn=...) on the live space to bring it back"
            )

    def _count(self, name: str, n: int = 1) -> None:
        with self._counter_lock:
            self._counters[name] = self._counters.get(name, 0) + n

    # -- writes

    def _build(self, item: Mapping[str, Any], now: float) -> tuple[Memory, Vector | None]:
        return build_memory(
            item,
            now=now,
            settings=self.settings,
            count_tokens=self.count_tokens,
            dimension=self.embedder.dimension,
        )

    def add(self, content: str, *, dedupe: bool | None = None, **fields: Any) -> Memory:
        """Store one memory and return it (or, with ``Settings.dedupe="exact"``, the live memory
        of the same scope and kind that already says it, renewed; see ``memoryspace.dedupe``).

        Fields: ``user``, ``agent``, ``session`` (the scope), ``kind`` (default ``"turn"``),
        ``meta``, ``tags``, ``links``, ``pinned``, ``ttl`` (seconds), ``timestamp`` (Unix time the
        memory is about; default now), ``importance`` (0..1), ``id``, ``valid_from``,
        ``valid_to``, ``vector`` (a precomputed embedding).

        Raises:
            InvalidInput: bad content or field; nothing is stored.
            Conflict: the id is taken.
        """
        return self.add_many([{"content": content, **fields}], dedupe=dedupe)[0]

    def add_many(
        self,
        items: Iterable[Mapping[str, Any] | str],
        *,
        actor: str | None = None,
        dedupe: bool | None = None,
    ) -> list[Memory]:
        """Store many memories in one transaction, embedding them in one batch.

        Each item is a string or a dict of ``add``'s fields with ``content``. All or nothing.
        With ``Settings.dedupe="exact"`` an item that a live memory of its scope and kind already
        says (or an earlier item of the batch) is not stored again: its place in the result holds
        that memory, renewed (see ``memoryspace.dedupe``). ``dedupe=False`` stores every item
        whatever the setting: agent structures that manage their records' identity pass it.

        Raises:
            InvalidInput: any item is bad; nothing is stored.
        """
        self._writable()
        checked = validate.iterable_items(items)
        actor = validate.actor(actor)
        started = self.profiler.clock() if self.profiler is not None else 0.0
        now = self._clock()
        built = []
        explicit_ids = []
        for position, item in enumerate(checked):
            fields = {"content": item} if isinstance(item, str | bytes) else item
            if not isinstance(fields, Mapping):
                raise InvalidInput(f"item {position} must be a string or a dict with 'content'")
            try:
                built.append(self._build(fields, now))
            except InvalidInput as exc:
                raise InvalidInput(f"item {position}: {exc}") from None
            explicit_ids.append(bool(fields.get("id")))
        if dedupe is None:
            dedupe = self.settings.dedupe == "exact"
        plan = plan_batch([m for m, _ in built], [e or not dedupe for e in explicit_ids])
        existing: dict[ContentKey, Memory] = {}
        if plan.keyed():
            existing = self.store.find_same_content(plan.keyed(), now=now)
        self._embed_missing(built, plan.to_store(existing))
        with self.store.transaction():
            if plan.keyed():  # look again inside the transaction: another writer may have won
                existing = self.store.find_same_content(plan.keyed(), now=now)
            inserted = plan.to_store(existing)
            self._embed_missing(built, inserted)  # only after such a race
            changes = self.store.insert([built[i] for i in inserted], actor=actor)
            wanted = set(plan.keys)
            renewed = {
                key: self._renew(memory, now=now, actor=actor)
                for key, memory in existing.items()
                if key in wanted
            }
        results = {
            i: built[i][0].evolve(version=change.lsn)
            for i, change in zip(inserted, changes, strict=True)
        }
        self._count("adds", len(inserted))
        self._count("deduplicated", len(built) - len(inserted))
        if self.profiler is not None:
            self.profiler.record(
                ALLOCATION,
                self.profiler.clock() - started,
                count=len(inserted),
                tokens=sum(built[i][0].tokens for i in inserted),
            )
        self._maybe_save_index()
        if self.auto_gc is not None:
            self.auto_gc.wrote(len(inserted))
        if self.settings.max_records is not None:
            self._keep_bounded(self.settings.max_records, len(inserted))
        self._maybe_reflect(len(inserted))
        return [
            results[leader] if leader in results else renewed[key]  # type: ignore[index]
            for leader, key in zip(plan.leaders, plan.keys, strict=True)
        ]

    def _keep_bounded(self, limit: int, added: int) -> None:
        """``Settings.max_records``: collect least recently used memories when over the bound.

        The live count is estimated from this handle's adds and counted again (one SQL count)
        when the estimate passes the bound or every 64 adds, which catches other writers' adds.
        """
        with self._counter_lock:
            live, since = self._bounded_estimate
            live, since = live + added, since + added
            self._bounded_estimate = (live, since)
        if live <= limit and since < 64:
            return
        live = self.store.count(Filter(include_expired=True), now=self._clock())
        if live > limit:
            target = max(0, limit - max(1, limit // 16))
            event = self.gc("bounded", max_records=limit, target=target)
            live -= event.collected
        with self._counter_lock:
            self._bounded_estimate = (live, 0)

    def _embed_missing(
        self, built: list[tuple[Memory, Vector | None]], positions: list[int]
    ) -> None:
        """Embed, in one batch, the memories at ``positions`` that came without a vector."""
        todo = [i for i in positions if built[i][1] is None]
        if todo:
            vectors = self.embedder.embed([built[i][0].content for i in todo])
            for i, vector in zip(todo, vectors, strict=True):
                built[i] = (built[i][0], vector)

    def _renew(self, memory: Memory, *, now: float, actor: str | None) -> Memory:
        """Adding what a memory already says renews it: a logged patch of ``updated_at``
        (which an idle time to live reads). The one place a duplicate ``add`` writes."""
        change = self.store.update(memory.id, {"updated_at": now}, actor=actor)
        assert change.after is not None
        return change.after.evolve(access_count=memory.access_count, last_access=memory.last_access)

    def _maybe_save_index(self) -> None:
        if self.index.lsn + self.settings.index_save_every < self.store.last_lsn():
            self._save_index_quietly()

    def _save_index_quietly(self) -> None:
        """Catch the index up and save it; a failure is logged, not raised, because the
        write that led here is already committed (and the index can always be rebuilt)."""
        try:
            self.index.sync()
            self.index.save()
        except MemorySpaceError as exc:
            log.warning("the vector index was not saved (%s); it is caught up on next open", exc)

    def update(
        self,
        id: str,
        *,
        actor: str | None = None,
        if_version: int | None = None,
        **fields: Any,
    ) -> Memory:
        """Change fields of a memory (content is re-embedded); returns the new version.

        Editable: ``content``, ``kind``, ``meta``, ``tags``, ``links``, ``importance``,
        ``pinned``, ``valid_from``, ``valid_to``, ``ttl``, ``user``, ``agent``, ``session``.
        Only the fields named change: the edit is applied as a patch inside the store's
        transaction, so a concurrent edit of other fields (by another thread, process or a
        garbage collection) is kept. ``if_version`` (a ``Memory.version`` you read) makes the
        update conditional: it raises ``Conflict`` if the memory changed since.

        Raises:
            NotFound: no memory has that id.
            Conflict: ``if_version`` is not the memory's current version.
            InvalidInput: a bad value or an unknown field; nothing changes.
        """
        self._writable()
        id, actor = validate.memory_id(id), validate.actor(actor)
        if_version = validate.optional_integer(
            "if_version", if_version, low=0, high=validate.MAX_LSN
        )
        patch = edit_patch(
            fields, now=self._clock(), settings=self.settings, count_tokens=self.count_tokens
        )
        # Embedded before the transaction: the write lock is never held while a model runs.
        # Content and its vector travel in one patch, so they always match in the store.
        vector = self.embedder.embed([patch["content"]])[0] if "content" in patch else None
        if self.tiered is not None:  # by the tier's write policy where it can be lazy
            return self.tiered.edit(id, patch, vector=vector, actor=actor, if_version=if_version)
        change = self.store.update(id, patch, vector=vector, actor=actor, if_version=if_version)
        assert change.after is not None
        current = self.store.get(id)  # the same version, with its access counters
        return current if current.version == change.lsn else change.after

    def pin(self, id: str, *, actor: str | None = None) -> Memory:
        """Pin a memory: pinned memories are never evicted or collected."""
        return self.update(id, pinned=True, actor=actor)

    def unpin(self, id: str, *, actor: str | None = None) -> Memory:
        return self.update(id, pinned=False, actor=actor)

    def delete(self, ids: str | Sequence[str], *, actor: str | None = None) -> list[Change]:
        """Delete memories by id, all or nothing. The log keeps their history.

        Raises:
            NotFound: an id does not exist; nothing is deleted.
        """
        self._writable()
        unique, actor = validate.ids(ids), validate.actor(actor)
        return self.store.delete(unique, actor=actor)

    def forget(
        self,
        query: str | None = None,
        *,
        k: int = 1,
        all: bool = False,
        min_score: float | None = None,
        dry_run: bool = False,
        actor: str | None = None,
        **filters: Any,
    ) -> list[str]:
        """Delete what matches: those of the top ``k`` hits of ``query`` whose score is at least
        ``min_score`` (default ``settings.min_score``), or every memory matching the filters.
        Returns the deleted ids; ``dry_run=True`` returns the ids it would delete and deletes
        nothing. A query that matches nothing well enough forgets nothing.

        A filter that does not narrow the selection (none, or only ``include_expired`` /
        ``include_archived``) would forget everything, so it needs ``all=True``.

        Raises:
            InvalidInput: no query and no narrowing filter without ``all=True``; a bad value
                (including ``min_score`` and ``dry_run``).
        """
        self._writable()
        dry_run = validate.flag("dry_run", dry_run)
        k, actor = validate.k(k), validate.actor(actor)
        if validate.flag("all", all) and query is not None:
            raise InvalidInput("all=True forgets every memory the filters select; drop the query")
        flt = Filter.build(**filters)
        if query is not None:
            query = validate.query(query, limit=self.settings.max_query_chars)
        elif not flt.selects and not all:
            raise InvalidInput(
                "forget needs a query or a filter that narrows the selection (user, session, "
                "kind, tags, ...); pass all=True to forget every memory"
            )
        if query is not None:
            hits = self.search(query, k=k, min_score=min_score, touch=False, **filters)
            ids = [hit.memory.id for hit in hits]
        else:
            ids = [m.id for m in self.store.scan(flt, now=self._clock())]
        if ids and not dry_run:
            self.delete(ids, actor=actor)
        return ids

    # -- reads

    def get(self, id: str) -> Memory:
        """The memory with ``id``.

        Raises:
            NotFound: no memory has that id.
        """
        self._usable()
        return self.store.get(validate.memory_id(id))

    def get_many(self, ids: Sequence[str]) -> list[Memory]:
        """The memories that exist among ``ids``, in the order asked (through the hot tier, so
        its pending edits are seen)."""
        self._usable()
        return self.store.get_many(validate.id_list(ids))

    def search(
        self,
        query: str,
        *,
        k: int = 10,
        min_score: float | None = None,
        touch: bool = True,
        expand: int = 0,
        **filters: Any,
    ) -> list[SearchHit]:
        """The ``k`` memories that best match ``query``, best first, each with its score parts.

        A hit's ``score`` is a relevance in [0, 1] that means the same in every query and store
        (see ``memoryspace.retrieval.hybrid``); hits below ``min_score`` (default
        ``settings.min_score``; 0 keeps all) are left out, so a query with no relevant memory
        returns nothing.

        A search is a use of its hits: their access counters (which GC and the replacement
        policies read) are bumped and they are paged into the hot tier. ``touch=False`` looks
        without using, e.g. to gather candidates that a caller ranks further.

        ``expand=1`` (up to 3) also follows the hits' links that many hops; a linked memory
        scores its linking hit's score times 0.8 and its ``parts.via`` names that hit (see
        ``memoryspace.retrieval.expand``).

        Filters: ``user``, ``agent``, ``session``, ``kind`` (one or a list), ``tags`` (all
        required), ``since`` / ``until`` (created time), ``valid_at``, ``meta`` (equality),
        ``pinned``, ``include_expired``, ``include_archived`` (records GC archived),
        ``include_closed`` (default ``False`` here: memories a newer one superseded are left
        out; ``valid_at`` sees the past).

        Raises:
            InvalidInput: an empty or too long query, a bad ``k`` or ``min_score``, or an
                unknown filter.
        """
        self._usable()
        started = self.profiler.clock() if self.profiler is not None else 0.0
        query = validate.query(query, limit=self.settings.max_query_chars)
        k, touch = validate.k(k), validate.flag("touch", touch)
        hops = validate.integer("expand", expand, low=0, high=3)
        threshold = validate.min_score(self.settings.min_score if min_score is None else min_score)
        flt = Filter.build(**{"include_closed": False, **filters})  # current memories only
        now = self._clock()
        hits, keys = self._retriever.search(query, k, flt, now, min_score=threshold)
        if hops:
            hits = expand_hits(
                hits, k=k, get_many=self.get_many, show=lambda m: visible(m, flt, now), hops=hops
            )
        if touch:
            if self.tiered is not None:  # retrieval is the main access path: page the hits in
                self.tiered.page_in([hit.memory for hit in hits])
            self.store.touch(keys, now)
        self._count("searches")
        if self.profiler is not None:
            self.profiler.record(RETRIEVAL, self.profiler.clock() - started, k=k, hits=len(hits))
        return hits

    def context(
        self,
        query: str,
        *,
        budget: int,
        k: int = 20,
        min_score: float | None = None,
        format: Literal["text", "messages"] = "text",
        **filters: Any,
    ) -> AssembledContext:
        """A prompt-ready context for ``query`` within ``budget`` tokens.

        The scope's pinned memories come first, then the ``k`` best hits scoring at least
        ``min_score`` (default ``settings.min_score``; see ``search``). Each scope (user,
        agent, session) keeps one ``ContextWindow`` between calls, so memories that stay relevant
        keep their place and the prompt's prefix stays byte-identical for LLM prefix caches.
        ``format`` is ``"text"`` or ``"messages"``; each block lists its source ids.

        Raises:
            InvalidInput: an empty query, a bad budget, ``k``, ``min_score`` or format, or an
                unknown filter.
        """
        self._usable()
        budget = validate.positive_int("budget", budget, high=validate.MAX_BUDGET)
        if format not in ("text", "messages"):
            raise InvalidInput(f"unknown context format {format!r}; use 'text' or 'messages'")
        hits = self.search(query, k=k, min_score=min_score, **filters)  # flushes the hot tier
        scope = {name: filters.get(name) for name in ("user", "agent", "session")}
        pinned = list(self.store.scan(Filter.build(pinned=True, **scope), now=self._clock()))
        key = (scope["user"], scope["agent"], scope["session"])
        with self._windows_lock:
            window = self._windows.get(key)
            if window is None or window.budget_tokens != budget:
                window = self._windows[key] = ContextWindow(budget)
            return assemble_context(
                hits,
                budget=budget,
                counter=self.count_tokens,
                window=window,
                pinned=pinned,
                format=format,
            )

    def scan(
        self,
        *,
        limit: int | None = None,
        offset: int = 0,
        newest_first: bool = False,
        **filters: Any,
    ) -> Iterator[Memory]:
        """Memories matching the filters, oldest first (or newest first).

        Raises:
            InvalidInput: a bad ``limit``, ``offset`` or filter.
        """
        self._usable()
        flt = Filter.build(**filters)
        limit = validate.optional_integer("limit", limit, low=0, high=validate.MAX_ROWS)
        offset = validate.integer("offset", offset, low=0, high=validate.MAX_ROWS)
        newest_first = validate.flag("newest_first", newest_first)
        return self.store.scan(
            flt, now=self._clock(), limit=limit, offset=offset, newest_first=newest_first
        )

    def count(self, **filters: Any) -> int:
        """How many memories match the filters."""
        self._usable()
        flt = Filter.build(**filters)
        return self.store.count(flt, now=self._clock())

    # -- garbage collection

    def gc(
        self,
        collector: str | Collector = "generational",
        *,
        dry_run: bool = False,
        policy: ActionPolicy | None = None,
        **options: Any,
    ) -> GCEvent:
        """Collect garbage once and return what happened.

        ``collector`` is ``"generational"`` (options ``young_age``, ``cold_after``,
        ``importance_threshold``, ``major``, ``sessions``), ``"mark_sweep"`` (``cold_after``,
        ``importance_threshold``, ``sessions``), ``"ttl"`` (``idle_after``), or a
        ``Collector``. ``policy`` says what collecting means per kind (see
        ``memoryspace.gc.actions``). A collection is one transaction, whole or not at all;
        every change is logged with actor ``gc:<name>``, and
        ``restore(None, to_lsn=event.lsn_before)`` undoes it.
        ``dry_run`` reports what would happen and changes nothing.

        Raises:
            InvalidInput: an unknown collector or option.
            ReadOnly: a read-only view (unless ``dry_run``).
        """
        from memoryspace.llm.offline import OfflineProcessors

        if validate.flag("dry_run", dry_run):
            self._usable()
        else:
            self._writable()
        if policy is not None and not isinstance(policy, ActionPolicy):
            raise InvalidInput("policy must be an ActionPolicy (see ActionPolicy.build) or None")
        if isinstance(collector, str):
            chosen = make_collector(collector, **options)
        elif not isinstance(collector, Collector):
            raise InvalidInput(f"collector must be a name or a Collector, got {collector!r}")
        elif options:
            raise InvalidInput("pass options to the collector object, not to gc()")
        else:
            chosen = collector
        chosen = with_roots(chosen, self.gc_roots)
        self.store.flush()  # access counters are batched; collectors may read them by SQL
        event = run_collection(
            self.store,
            chosen,
            now=self._clock(),
            embed=self.embedder.embed,
            count_tokens=self.count_tokens,
            summarize=OfflineProcessors().summarize,
            policy=policy,
            dry_run=dry_run,
        )
        if self.profiler is not None:
            fields = event.to_dict()
            del fields["pause_duration"]
            self.profiler.record(GC, event.pause_duration, **fields)
        if not dry_run:
            self._after_gc(event)
        return event

    def _after_gc(self, event: GCEvent) -> None:
        """Drop the collected records from the context windows and add to the GC totals (the
        tiered store dropped the records the collection changed from the hot tier)."""
        changes = self.store.changes(event.lsn_before) if event.lsn_after > event.lsn_before else []
        self._free_windows(
            c.id for c in changes if c.op is Op.DELETE or (c.after is not None and c.after.archived)
        )
        add_to_totals(self.store, event)

    def _free_windows(self, ids: Iterable[str]) -> None:
        """Free memories that left the space's view (collected, archived, closed) from every
        context window."""
        gone = set(ids)
        if gone:
            with self._windows_lock:
                for window in self._windows.values():
                    for id in gone:
                        if id in window:
                            window.free(id)

    # -- the log, checkpoints and time travel

    def history(self, id: str) -> list[Change]:
        """Every change of one memory, oldest first."""
        self._usable()
        return self.store.history(validate.memory_id(id))

    def changes(self, since_lsn: int = 0, limit: int | None = None) -> list[Change]:
        """The change feed: log entries after ``since_lsn``, oldest first."""
        self._usable()
        since_lsn = validate.integer("since_lsn", since_lsn, low=0, high=validate.MAX_LSN)
        limit = validate.optional_integer("limit", limit, low=0, high=validate.MAX_ROWS)
        return self.store.changes(since_lsn, limit)

    @property
    def lsn(self) -> int:
        """The log sequence number of the last committed change (write-back edits count once
        flushed)."""
        return self.store.last_lsn()

    def checkpoint(self, name: str, *, overwrite: bool = False) -> Checkpoint:
        """A named, consistent snapshot tagged with the current LSN.

        Raises:
            InvalidInput: a name other than 1-64 letters, digits, '_', '.' or '-'.
        """
        self._usable()
        name = validate.checkpoint_name(name)
        overwrite = validate.flag("overwrite", overwrite)
        checkpoint = self.store.checkpoint(name, overwrite=overwrite)
        self._save_index_quietly()
        return checkpoint

    def checkpoints(self) -> list[Checkpoint]:
        """Every checkpoint, oldest LSN first, including damaged ones or another database's
        (``Checkpoint.damaged`` says why; ``restore`` refuses them)."""
        self._usable()
        return self.store.checkpoints()

    def restore(
        self, name: str | None, *, to_lsn: int | None = None, actor: str | None = None
    ) -> list[Change]:
        """Bring back the state of checkpoint ``name`` (or of ``to_lsn``), as logged changes.

        Nothing is lost: the restore can be undone by restoring to the LSN before it.

        Raises:
            NotFound: no checkpoint of that name.
            Conflict: the checkpoint was taken of another database.
            BackendUnavailable: the checkpoint file is damaged.
        """
        self._writable()
        name = None if name is None else validate.checkpoint_name(name)
        to_lsn = validate.optional_integer("to_lsn", to_lsn, low=0, high=validate.MAX_LSN)
        actor = validate.actor(actor)
        return self.store.restore(name, to_lsn, actor=actor)

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

    def now(self) -> float:
        """This space's clock, in Unix seconds."""
        return self._clock()

    def record_use(self, ids: Sequence[str], *, when: float | None = None) -> None:
        """Count one use of each existing memory among ``ids`` (as a search hit's), batched."""
        self._usable()
        keys = self._keys_of(validate.id_list(ids))
        self.store.touch(list(keys.values()), self._clock() if when is None else float(when))

    def embed(self, texts: Sequence[str]) -> Vector:
        """This space's embedder's unit vectors for ``texts``."""
        return self.embedder.embed(list(texts))

    def stored_vectors(self, ids: Sequence[str]) -> dict[str, Vector]:
        """The vectors stored with the memories among ``ids``."""
        self._usable()
        keys = self._keys_of(validate.id_list(ids))
        found = self.store.vectors(list(keys.values()))
        return {id: found[key] for id, key in keys.items() if key in found}

    def _keys_of(self, ids: Sequence[str]) -> dict[str, int]:
        keys = {}
        for id in ids:
            try:
                keys[id] = self.store.key_of(id)
            except NotFound:
                continue  # deleted meanwhile: nothing to count or read
        return keys

    def reembed(
        self,
        embedder: Embedder | str,
        *,
        batch: int = 256,
        progress: Callable[[int, int], None] | None = None,
    ) -> ReembedResult:
        """Re-embed every memory with ``embedder`` (batched, logged, resumable after a crash),
        then stamp the database with it and use it; see ``memoryspace.maintenance.reembed``.

        Raises:
            InvalidInput: an unknown embedder name or a bad ``batch``.
            ReadOnly: a read-only view.
            BackendUnavailable: the embedder cannot run (what was written is kept; run again).
        """
        self._writable()
        new = resolve_embedder(embedder)
        self.flush()
        result = reembed_store(self.store, new, batch=batch, progress=progress)  # via the tier
        self.embedder = new
        self.index.rebind(dimension=new.dimension, model_id=new.model_id)
        self._retriever = self._make_retriever()
        self._save_index_quietly()
        return result

    def conversation(
        self,
        *,
        user: str,
        agent: str | None = None,
        settings: ConversationSettings | None = None,
        processors: Processors | None = None,
    ) -> Conversation:
        """The MemoryOS-style memory of ``user``'s dialogue with ``agent`` (STM, MTM, LPM).

        Its state lives in this space as ordinary records and is rebuilt on each call, so a
        reopened space resumes it. ``processors`` default to ``self.processors()``: the offline
        ones, or a model when ``MEMORYSPACE_LLM_URL`` is set.

        Raises:
            InvalidInput: an empty ``user`` or bad settings.
        """
        from memoryspace.conversation import Conversation, ConversationSettings

        self._usable()
        user, agent = validate.name("user", user), validate.scope("agent", agent)
        if settings is not None and not isinstance(settings, ConversationSettings):
            raise InvalidInput("settings must be a ConversationSettings or None")
        if processors is None:
            processors = self.processors()
        return Conversation(self, user=user, agent=agent, settings=settings, processors=processors)

    def processors(self) -> Processors:
        """The text processors this space's conversations use by default, made once.

        ``LLMProcessors`` over the OpenAI-compatible model ``MEMORYSPACE_LLM_URL`` /
        ``MEMORYSPACE_LLM_MODEL`` / ``MEMORYSPACE_LLM_API_KEY`` name (falling back to the offline
        processors whenever a call fails), else ``OfflineProcessors`` (no calls, the default).

        Raises:
            InvalidInput: the URL is set but the model is not, or a value is malformed.
        """
        from memoryspace.llm import LLMProcessors, OfflineProcessors, llm_from_env

        with self._processors_lock:
            if self._processors is None:
                llm = llm_from_env()
                self._processors = LLMProcessors(llm) if llm is not None else OfflineProcessors()
            return self._processors

    # -- notes and reflection (memoryspace.notes, memoryspace.reflect)

    def notes(self, *, user: str | None = None, agent: str | None = None, **options: Any) -> Notes:
        """A-MEM linked notes of the scope (``user``, ``agent``); ``options``: ``k``,
        ``link_min_score``, ``evolve``. A model describes notes when one is configured
        (``MEMORYSPACE_LLM_URL``), else the offline rules do (see ``memoryspace.notes``).

        Raises:
            InvalidInput: a bad scope or option.
        """
        from memoryspace.notes import Notes, make_enricher

        self._usable()
        user, agent = validate.scope("user", user), validate.scope("agent", agent)
        enricher = make_enricher(self.processors())
        return Notes(
            self, embed=self.embedder.embed, enricher=enricher, user=user, agent=agent, **options
        )

    def reflect(
        self,
        *,
        user: str | None = None,
        agent: str | None = None,
        dry_run: bool = False,
        options: ReflectOptions | None = None,
    ) -> Reflection:
        """Reflect on the scope once: merge duplicates, close superseded memories, archive
        stale ones, re-score importance (see ``memoryspace.reflect``). One transaction, every
        change logged with actor ``reflect``; ``restore(None, to_lsn=result.lsn_before)``
        undoes it. ``dry_run`` returns the plan and changes nothing.

        Raises:
            InvalidInput: a bad scope, flag or options.
            ReadOnly: a read-only view (unless ``dry_run``).
        """
        from memoryspace.maintenance.plan import apply_plan
        from memoryspace.reflect import ReflectOptions, make_extractor, reflect
        from memoryspace.reflect.job import ACTOR, stored_vectors

        if validate.flag("dry_run", dry_run):
            self._usable()
        else:
            self._writable()
        if options is not None and not isinstance(options, ReflectOptions):
            raise InvalidInput("options must be a ReflectOptions or None")
        user, agent = validate.scope("user", user), validate.scope("agent", agent)
        self.store.flush()  # access counters are batched; importance reads them
        before = self.lsn
        result = reflect(
            self,
            user=user,
            agent=agent,
            now=self._clock(),
            vectors=stored_vectors(self.store),
            extractor=make_extractor(self.processors()),
            apply=lambda plan: apply_plan(self.store, plan, actor=ACTOR, embed=self.embedder.embed),
            lsn=lambda: self.lsn,
            options=options,
            dry_run=dry_run,
        )
        if result.lsn_after > before:  # the tiered store already dropped them from the tier
            self._free_windows(
                c.id
                for c in self.store.changes(before)
                if c.after is not None and (c.after.archived or c.after.valid_to is not None)
            )
        return result

    def _maybe_reflect(self, added: int) -> None:
        """``Settings.reflect_every``: reflect on the whole space every that many adds (a
        failed reflection is logged, never raised: the add already happened)."""
        every = self.settings.reflect_every
        if every is None or not added:
            return
        with self._counter_lock:
            self._adds_since_reflect += added
            due = self._adds_since_reflect >= every
            if due:
                self._adds_since_reflect = 0
        if due:
            try:
                self.reflect()
            except MemorySpaceError as exc:  # like automatic GC: never fail the add
                log.warning("automatic reflection failed (%s); the add stands", exc)

    def import_records(
        self,
        records: Sequence[Mapping[str, Any]],
        *,
        on_conflict: OnConflict = "skip",
        batch: int = 256,
        actor: str | None = "import",
        progress: Callable[[int], None] | None = None,
    ) -> ImportResult:
        """Add ``add`` records idempotently: a record whose ``id`` is taken is skipped,
        replaced or refused (``on_conflict``); see ``memoryspace.transfer.import_records``.

        Raises:
            InvalidInput: a bad record or argument.
            Conflict: ``on_conflict="error"`` and a record's id is taken.
        """
        from memoryspace.transfer import import_records

        return import_records(
            self, records, on_conflict=on_conflict, batch=batch, actor=actor, progress=progress
        )

    def export_records(self, **filters: Any) -> Iterator[dict[str, Any]]:
        """Memories matching ``filters`` as ``add`` records with ids, which
        ``import_records`` takes back (into this space or another)."""
        from memoryspace.transfer import export_records

        return export_records(self, **filters)

    def read(
        self,
        source: object,
        question: str | None = None,
        *,
        chunk_tokens: int = 2048,
        memory_tokens: int = 1024,
        policy: ReadingPolicy | str | None = None,
        store: bool = False,
        store_kind: Literal["working", "summary"] = "working",
        progress: Callable[[int, int | None], None] | None = None,
        **scope: Any,
    ) -> Reading:
        """Read ``source`` (a string, a path or any iterable of text) of any length through a
        fixed-size memory overwritten after each chunk; see ``memoryspace.reader.read``.

        ``policy`` is ``"offline"`` (default, with this space's embedder), ``"llm"`` (this
        space's model, see ``processors()``) or a ``ReadingPolicy``. Each chunk's counters go
        to the profiler (event ``read``) and the totals to ``stats()["counters"]``. With
        ``store=True`` the final memory is saved, linked to a ``note`` describing the source:
        one ``working`` record per kept sentence, or one ``summary`` (``store_kind``); ``scope``
        (``user``, ``agent``, ``session``) applies to them. Their ids are in ``records``.

        Raises:
            InvalidInput: a bad source, question, budget, policy or scope.
            ReadOnly: ``store=True`` on a read-only view.
        """
        from memoryspace.reader import read, resolve_policy
        from memoryspace.reader.store import save_reading

        if store:
            self._writable()
        else:
            self._usable()
        if store_kind not in ("working", "summary"):
            raise InvalidInput(f"store_kind must be 'working' or 'summary', got {store_kind!r}")
        unknown = sorted(set(scope) - {"user", "agent", "session"})
        if unknown:
            raise InvalidInput(f"read() takes the scope user, agent, session; not {unknown}")
        llm = getattr(self.processors(), "llm", None) if policy == "llm" else None
        chosen = resolve_policy(
            policy, embedder=self.embedder, llm=llm, count_tokens=self.count_tokens
        )
        profiler = self.profiler

        def on_chunk(row: ChunkStats) -> None:
            if profiler is not None:
                fields = dataclasses.asdict(row)
                profiler.record(READ, fields.pop("seconds"), **fields)

        reading = read(
            source,
            question,
            chunk_tokens=chunk_tokens,
            memory_tokens=memory_tokens,
            policy=chosen,
            count_tokens=self.count_tokens,
            progress=progress,
            on_chunk=on_chunk,
        )
        totals = reading.totals()
        self._count("reads")
        self._count("read_chunks", int(totals["chunks"]))
        self._count("read_tokens", int(totals["tokens_read"]))
        self._count("read_fallbacks", int(totals["fallbacks"]))
        if not store:
            return reading
        return save_reading(self, reading, _source_name(source), kind=store_kind, scope=scope)

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


def _source_name(source: object) -> str:
    """How a stored reading names its source: the path, or the kind of input."""
    if isinstance(source, str):
        return "text"
    if isinstance(source, os.PathLike):
        return str(os.fspath(source))
    return type(source).__name__


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
