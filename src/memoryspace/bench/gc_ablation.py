"""GC ablation: every collector under every trigger policy on one text stream.

    memoryspace bench gc --data ../shared/data/text8/text8_prefix.txt \\
        [--limit 2000] [--capacity 256] [--chunk-size 512] [--query-interval 10] [--seed 1] \\
        [--embedder hashing] [--json] [--out DIR]

The stream is the one of ``memoryspace bench capacity`` (chunks of ``chunk_size`` characters, one
per simulated second, kind ``fact``, time to live ``2 × capacity`` seconds) into an in-memory
``MemorySpace``. After each chunk the trigger is asked ``should_collect(now, HeapStats(live,
hit_rate))``; when it fires, ``ms.gc(collector)`` runs once (collected chunks are archived) and
the trigger is told. ``capacity`` sets every knob, so the collectors are compared at one scale:

- collectors: ``ttl`` (expired chunks), ``mark_sweep`` (``cold_after = capacity`` seconds since
  the last use; no chunk is a root), ``generational`` (``young_age = capacity``: young chunks
  never retrieved are collected, retrieved ones promoted; every 4th collection is major, which
  also sweeps the old generation with ``cold_after = capacity``).
- triggers: ``periodic`` (every ``capacity / 4`` seconds), ``growth`` (the live set grew 1.5×
  since the last collection), ``bandit`` (``EpsilonGreedyBandit`` over those two, epsilon 0.1,
  seeded, rewarded after each collection with the hit@1 of the queries since the previous one
  minus its pause). ``fragmentation`` is skipped: it reads the context heap's wasted tokens,
  and this workload assembles no context.

**The same queries for every configuration**: the working-set workload of ``memoryspace bench
capacity`` (``query_plan`` and ``unique_spans`` there; re-references with probability 0.5):
after every ``query_interval`` chunks, a chunk streamed or asked in the last ``capacity // 2``
seconds, its 12 middle words searched (``ms.search``, k = 5). A configuration that already
collected the chunk misses, so hit@1 / hit@5 measure what the collector kept as much as the
ranking; the ``ttl`` collector, counting from creation, loses re-referenced chunks older than
``2 × capacity``.

Each row: GC events, pause p50 / p99 (ms, ``GCEvent.pause_duration``), records kept (live at
the end, and the largest live set seen), chunks collected, hit@1, hit@5.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from memoryspace.bench.capacity import (
    ARCHIVE,
    TOP_K,
    Progress,
    query_plan,
    query_span,
    read_chunks,
    unique_spans,
)
from memoryspace.bench.metrics import percentile
from memoryspace.embed.base import Embedder
from memoryspace.embed.resolve import resolve_embedder
from memoryspace.errors import InvalidInput
from memoryspace.gc import (
    Collector,
    EpsilonGreedyBandit,
    GenerationalCollector,
    GrowthTrigger,
    HeapStats,
    MarkSweepCollector,
    PeriodicTrigger,
    Trigger,
    TTLCollector,
)
from memoryspace.settings import Settings
from memoryspace.space import MemorySpace

COLLECTORS = ("ttl", "mark_sweep", "generational")
TRIGGERS = ("periodic", "growth", "bandit")
SKIPPED = {"fragmentation": "reads the context heap; this workload assembles no context"}
MAJOR_EVERY = 4


def make_trigger(name: str, capacity: int, seed: int) -> Trigger:
    """The trigger ``name`` scaled to ``capacity``.

    Raises:
        InvalidInput: an unknown trigger.
    """
    if name == "periodic":
        return PeriodicTrigger(max(1.0, capacity / 4))
    if name == "growth":
        return GrowthTrigger(1.5)
    if name == "bandit":
        return EpsilonGreedyBandit(
            [make_trigger("periodic", capacity, seed), make_trigger("growth", capacity, seed)],
            epsilon=0.1,
            seed=seed,
        )
    raise InvalidInput(f"unknown trigger {name!r}; use one of: {', '.join(TRIGGERS)}")


def make_collector(name: str, capacity: int, collections: int) -> Collector:
    """The collector ``name`` scaled to ``capacity`` (``collections`` so far picks majors).

    Raises:
        InvalidInput: an unknown collector.
    """
    if name == "ttl":
        return TTLCollector()
    if name == "mark_sweep":
        return MarkSweepCollector(cold_after=capacity, importance_threshold=1.0, sessions=set())
    if name == "generational":
        return GenerationalCollector(
            young_age=capacity,
            cold_after=capacity,
            importance_threshold=1.0,
            major=(collections + 1) % MAJOR_EVERY == 0,
            sessions=set(),
        )
    raise InvalidInput(f"unknown collector {name!r}; use one of: {', '.join(COLLECTORS)}")


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def run_one(
    chunks: Sequence[str],
    collector: str,
    trigger: str,
    *,
    capacity: int,
    query_interval: int = 10,
    seed: int = 1,
    embedder: Embedder | str = "hashing",
) -> dict[str, Any]:
    """One collector × trigger over the stream; its row.

    Raises:
        InvalidInput: an unknown collector or trigger.
    """
    make_collector(collector, capacity, 0)
    policy = make_trigger(trigger, capacity, seed)
    queries = query_plan(len(chunks), capacity, query_interval, seed, askable=unique_spans(chunks))
    clock = _Clock()
    ranks: list[int] = []
    pauses: list[float] = []
    live = max_live = collected = 0
    since_gc: list[int] = []
    settings = Settings(access_flush_every=1_000_000)
    with MemorySpace.open(":memory:", embedder=embedder, settings=settings, clock=clock) as ms:
        for position, chunk in enumerate(chunks):
            clock.now = float(position)
            ms.add(chunk, id=f"chunk-{position}", kind="fact", ttl=2 * capacity)
            live += 1
            max_live = max(max_live, live)
            target = queries.get(position)
            if target is not None:
                clock.now = position + 0.5
                found = ms.search(query_span(chunks[target]), k=TOP_K, min_score=0.0)
                ranked = [hit.memory.id for hit in found]
                rank = ranked.index(f"chunk-{target}") + 1 if f"chunk-{target}" in ranked else 0
                ranks.append(rank)
                since_gc.append(rank)
            hit_rate = sum(1 for r in since_gc if r == 1) / len(since_gc) if since_gc else 0.0
            if not policy.should_collect(clock.now, HeapStats(live=live, hit_rate=hit_rate)):
                continue
            ms.store.flush()
            event = ms.gc(make_collector(collector, capacity, len(pauses)), policy=ARCHIVE)
            pauses.append(event.pause_duration)
            collected += event.collected
            live -= event.collected
            policy.collected(clock.now, HeapStats(live=live, hit_rate=hit_rate))
            if isinstance(policy, EpsilonGreedyBandit):
                policy.feedback(policy.reward(hit_rate, event.pause_duration))
            since_gc = []
        kept = ms.count(include_expired=True)
    n = len(ranks)
    return {
        "collector": collector,
        "trigger": trigger,
        "capacity": capacity,
        "gc_events": len(pauses),
        "pause_ms_p50": round(percentile(pauses, 50) * 1000, 3) if pauses else 0.0,
        "pause_ms_p99": round(percentile(pauses, 99) * 1000, 3) if pauses else 0.0,
        "records_kept": kept,
        "max_live": max_live,
        "collected": collected,
        "queries": n,
        "hit@1": round(sum(1 for r in ranks if r == 1) / n, 4) if n else 0.0,
        "hit@5": round(sum(1 for r in ranks if 1 <= r <= TOP_K) / n, 4) if n else 0.0,
    }


def run(
    data: str | Path,
    *,
    chunk_size: int = 512,
    limit: int | None = 2000,
    capacity: int = 256,
    query_interval: int = 10,
    seed: int = 1,
    collectors: Sequence[str] = COLLECTORS,
    triggers: Sequence[str] = TRIGGERS,
    embedder: Embedder | str = "hashing",
    progress: Progress | None = None,
) -> dict[str, Any]:
    """``{"benchmark": "gc", "dataset", "capacity", "skipped": {trigger: why}, "rows"}``.

    Raises:
        InvalidInput: a missing file, an unknown collector or trigger, or bad sizes.
    """
    if query_interval < 1 or capacity < 2 * query_interval:
        raise InvalidInput("--query-interval needs at least 1 and --capacity at least twice that")
    for name in collectors:
        make_collector(name, capacity, 0)
    for name in triggers:
        make_trigger(name, capacity, seed)
    chunks = read_chunks(data, chunk_size, limit)
    model = resolve_embedder(embedder)
    jobs = [(c, t) for c in collectors for t in triggers]
    report: Callable[[int], None] = (
        (lambda done: progress("gc", done, len(jobs))) if progress else (lambda done: None)
    )
    rows = []
    for done, (collector, trigger) in enumerate(jobs):
        report(done)
        rows.append(
            run_one(
                chunks,
                collector,
                trigger,
                capacity=capacity,
                query_interval=query_interval,
                seed=seed,
                embedder=model,
            )
        )
    report(len(jobs))
    return {
        "benchmark": "gc",
        "dataset": Path(data).name,
        "capacity": capacity,
        "skipped": dict(SKIPPED),
        "rows": rows,
    }


def plot(doc: dict[str, Any], path: str | Path) -> Path:
    """A PNG bar chart of hit@1 per collector, one bar per trigger.

    Raises:
        InvalidInput: no rows.
    """
    from memoryspace.bench.locomo import write_bar_chart

    rows = doc["rows"]
    if not rows:
        raise InvalidInput("no benchmark rows to plot")
    collectors = list(dict.fromkeys(str(r["collector"]) for r in rows))
    triggers = list(dict.fromkeys(str(r["trigger"]) for r in rows))
    value = {(str(r["collector"]), str(r["trigger"])): float(r["hit@1"]) for r in rows}
    series: dict[str, list[float | None]] = {
        t: [value.get((c, t)) for c in collectors] for t in triggers
    }
    out = Path(path)
    title = f"GC ablation hit@1: {doc['dataset']}, capacity {doc['capacity']}"
    write_bar_chart(out, title, collectors, series, "hit@1")
    return out
