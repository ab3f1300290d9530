"""One garbage collection: scan the live records, plan with a collector, apply the plan."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from typing import Any

from memoryspace.gc.actions import ActionPolicy, Applier, Summarize
from memoryspace.gc.collectors import Collector
from memoryspace.gc.events import GCEvent
from memoryspace.heapview import HeapRecord
from memoryspace.models import Memory
from memoryspace.store.base import Store, Vector


def run_collection(
    store: Store,
    collector: Collector,
    *,
    now: float,
    embed: Callable[[Sequence[str]], Vector],
    count_tokens: Callable[[str], int],
    summarize: Summarize,
    policy: ActionPolicy | None = None,
    dry_run: bool = False,
    timer: Callable[[], float] = time.perf_counter,
) -> GCEvent:
    """Collect garbage once and describe what happened.

    The pause covers reading the collector's candidates, the plan and the writes. Archived
    records are never candidates: they were collected already.

    Raises:
        ReadOnly: the store is a read-only view (and this is not a dry run).
    """
    start = timer()
    lsn_before = store.last_lsn()
    plan = collector.plan(collector.candidates(store, now), now)
    applier = Applier(
        store=store,
        policy=policy or ActionPolicy(),
        actor=f"gc:{collector.name}",
        now=now,
        embed=embed,
        count_tokens=count_tokens,
        summarize=summarize,
        dry_run=dry_run,
    )
    collect, promote, moved = _read_whole(store, plan.collect, plan.promote)
    outcome = applier.apply(collect, promote)
    outcome.skipped += moved
    return GCEvent(
        collector=collector.name,
        started_at=now,
        pause_duration=timer() - start,
        scanned=plan.scanned,
        collected=outcome.collected,
        promoted=outcome.promoted,
        compacted=outcome.compacted,
        action_counts=outcome.action_counts,
        dry_run=dry_run,
        lsn_before=lsn_before,
        lsn_after=store.last_lsn(),
        skipped=outcome.skipped,
    )


def _read_whole(
    store: Store, collect: Sequence[HeapRecord], promote: Sequence[HeapRecord]
) -> tuple[list[Memory], list[Memory], int]:
    """The planned records read in full (a plan is made without their contents), and how many
    changed or vanished since the plan was made: those are left alone, as the transaction would
    leave them."""
    planned = {r.id: r.version for r in (*collect, *promote)}
    current = {m.id: m for m in store.get_many(list(planned)) if m.version == planned[m.id]}
    whole = [[current[r.id] for r in part if r.id in current] for part in (collect, promote)]
    return whole[0], whole[1], len(planned) - len(current)


_TOTALS_KEY = "gc.totals"
_SUMMED = ("pause_duration", "scanned", "collected", "promoted", "compacted")


def gc_totals(store: Store) -> dict[str, Any]:
    """Running GC totals and the last event, kept in the store so they survive restarts."""
    totals: dict[str, Any] = {"events": 0, **dict.fromkeys(_SUMMED, 0), "last": None}
    totals["pause_duration"] = 0.0
    stored = store.get_setting(_TOTALS_KEY)
    if stored:
        totals.update(json.loads(stored))
    return totals


def add_to_totals(store: Store, event: GCEvent) -> None:
    """Count one collection in the stored totals."""
    totals = gc_totals(store)
    totals["events"] += 1
    for name in _SUMMED:
        totals[name] += getattr(event, name)
    totals["last"] = event.to_dict()
    store.set_setting(_TOTALS_KEY, json.dumps(totals))
