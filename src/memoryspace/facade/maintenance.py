"""``MaintenanceMixin``: Maintenance jobs: garbage collection, reflection, re-embedding.

Part of ``MemorySpace`` (see ``memoryspace.space``); the state it uses is declared in
``memoryspace.facade.state``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from memoryspace import validate
from memoryspace.embed.base import Embedder
from memoryspace.embed.resolve import resolve_embedder
from memoryspace.errors import InvalidInput, MemorySpaceError
from memoryspace.facade.state import SpaceState
from memoryspace.gc import (
    ActionPolicy,
    Collector,
    GCEvent,
    make_collector,
    run_collection,
    with_roots,
)
from memoryspace.gc.auto import AutoCollector, make_trigger
from memoryspace.gc.runner import add_to_totals
from memoryspace.maintenance.reembed import ReembedResult, reembed_store
from memoryspace.models import Filter, Op
from memoryspace.profiler import GC
from memoryspace.telemetry import traced

if TYPE_CHECKING:
    from memoryspace.reflect import Reflection, ReflectOptions

log = logging.getLogger("memoryspace")


class MaintenanceMixin(SpaceState):
    """Maintenance jobs: garbage collection, reflection, re-embedding."""

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

    @traced("memoryspace.gc")
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

    @traced("memoryspace.reflect")
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
            self._facade,
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
