"""``WritesMixin``: Adding, editing, deleting and forgetting memories.

Part of ``MemorySpace`` (see ``memoryspace.space``); the state it uses is declared in
``memoryspace.facade.state``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from memoryspace import validate
from memoryspace.dedupe import plan_batch
from memoryspace.errors import InvalidInput, MemorySpaceError
from memoryspace.facade.state import SpaceState
from memoryspace.fingerprint import ContentKey
from memoryspace.models import Change, Filter, Memory
from memoryspace.profiler import ALLOCATION
from memoryspace.records import build_memory, edit_patch
from memoryspace.telemetry import traced
from memoryspace.validate import Vector

if TYPE_CHECKING:
    pass

log = logging.getLogger("memoryspace")


class WritesMixin(SpaceState):
    """Adding, editing, deleting and forgetting memories."""

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

    @traced("memoryspace.add")
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
        """Every ``index_save_every`` log entries, catch the index up; save it once the entries
        its saved copy lacks also reach half its size. A save writes the whole file, so saves
        grow apart as the index grows and the bytes written stay linear in the records (a
        save every 10,000 entries wrote n²/20,000 vectors in all: seconds per save at 100k).
        The save runs in the background from a copy (``SyncedIndex.save_in_background``): the
        add that crosses the mark waits only for the copy, never for the file."""
        every = self.settings.index_save_every
        if self.index.lsn + every >= self.store.last_lsn():
            return
        self._sync_index_quietly()
        if self.index.unsaved >= max(every, len(self.index) // 2):
            self.index.save_in_background()

    def _sync_index_quietly(self) -> None:
        try:
            self.index.sync()
        except MemorySpaceError as exc:
            log.warning("the vector index did not catch up (%s); the next search retries", exc)

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

    @traced("memoryspace.forget")
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
