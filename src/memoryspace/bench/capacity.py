"""Capacity benchmark: stream a text through a memory of fixed capacity and ask about its past.

    memoryspace bench capacity --data ../shared/data/text8/text8_prefix.txt \\
        [--chunk-size 512] [--limit 4000] [--capacities 256,1024] [--query-interval 10] \\
        [--baselines sliding,reservoir] [--collectors ttl_mark,ttl_mark_gen] [--seeds 1] \\
        [--embedder hashing] [--json] [--out DIR]

The file is cut into chunks of ``chunk_size`` characters (at most ``limit`` of them; ``--limit 0``
takes the whole file: 13,433 chunks of text8, 8,108 of enwik8) and streamed, one chunk per
simulated second, into a memory that holds at most ``capacity`` chunks:

- ``sliding`` keeps the last ``capacity`` chunks.
- ``reservoir`` keeps a uniform sample of ``capacity`` chunks (Algorithm R, seeded).
- ``memoryspace`` adds each chunk to an in-memory ``MemorySpace`` (kind ``fact``, a time to live
  of ``4 × capacity`` seconds) and, every ``query_interval`` chunks, runs ``ms.gc`` with one of
  the collectors below so the live set (neither archived nor deleted) is ``capacity -
  query_interval`` before the next chunks arrive: it never holds more than ``capacity``.
  Collected chunks are archived (out of search). Access counts are flushed before each
  collection so the collector sees every search's ``touch``.

  ``ttl_mark``: expired chunks (TTL on age), then a mark-sweep of the unreachable cold chunks
  (no chunk has a root, so all are unreachable) whose ``cold_after`` is set to the age of the
  last use (access or creation) that frees enough room: least recently *used* goes first, and a
  chunk a query retrieved lives on. ``ttl_mark_gen``: expired chunks, then a minor generational
  collection: young chunks never retrieved are collected oldest first, young chunks that were
  retrieved are promoted to the old generation; when that frees too little, the old generation
  is mark-swept as in ``ttl_mark``.

**Queries.** After every ``query_interval`` chunks, one query per method: a chunk is drawn
(seeded, uniformly) among the chunks the method holds *now*, excluding the chunks of the batch
just streamed (an earlier chunk the memory should still hold; what the method dropped cannot be
asked, so every question is answerable). The query is the 12 consecutive whitespace-separated
words in the middle of that chunk (its first and last word, possibly cut by the chunk boundary,
are never used). hit@1 / hit@5: the chunk is ranked first / in the top 5.

**Ranking and fairness.** ``memoryspace`` answers with its own ``ms.search`` (hybrid: dense
vectors of the chosen embedder fused with SQLite FTS5 BM25), since that is the product; the
baselines rank what they hold with an in-process Okapi BM25 (k1 = 1.2, b = 0.75, same terms as
the library's full-text search). Every method ranks exactly ``≤ capacity`` chunks, so the
distractor count is the same; a 12-word exact span is an easy lexical query, so BM25 is a strong
ranker here, not a straw man.

**Counters.** ``gc_pause_ms_p99`` is the 99th percentile of ``GCEvent.pause_duration`` (0 for the
baselines, which never pause). ``page_faults`` is 0: the chunks are searched in the store
directly, not through a ``HotTier``, so nothing is paged (``memoryspace bench tiered`` measures
paging).
"""

from __future__ import annotations

import math
import random
import re
from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from memoryspace.embed.base import Embedder
from memoryspace.embed.resolve import resolve_embedder
from memoryspace.errors import InvalidInput
from memoryspace.gc import (
    ActionPolicy,
    Collector,
    GenerationalCollector,
    MarkSweepCollector,
    Plan,
    TTLCollector,
)
from memoryspace.models import Memory
from memoryspace.retrieval.terms import query_terms
from memoryspace.settings import Settings
from memoryspace.space import MemorySpace

Progress = Callable[[str, int, int], None]  # (what, done, total)
SPAN_WORDS = 12
TOP_K = 5
BASELINES = ("sliding", "reservoir")
ARCHIVE = ActionPolicy(by_kind={}, default="archive")


# -- the stream and the queries


def read_chunks(path: str | Path, chunk_size: int = 512, limit: int | None = 4000) -> list[str]:
    """The first ``limit`` chunks of ``chunk_size`` characters of the file (all when ``None``
    or 0); a last chunk shorter than half ``chunk_size`` is dropped.

    Raises:
        InvalidInput: the file is missing, or a size is not positive.
    """
    if chunk_size < 2 * SPAN_WORDS:
        raise InvalidInput(f"--chunk-size needs at least {2 * SPAN_WORDS} characters")
    source = Path(path)
    if not source.is_file():
        raise InvalidInput(f"no data file at {source}; pass --data PATH (see ../shared/data)")
    wanted = None if not limit else limit * chunk_size
    with open(source, encoding="utf-8", errors="replace") as handle:
        text = handle.read() if wanted is None else handle.read(wanted)
    chunks = [text[i : i + chunk_size] for i in range(0, len(text), chunk_size)]
    if chunks and len(chunks[-1]) < chunk_size // 2:
        chunks.pop()
    return chunks


def query_span(chunk: str, words: int = SPAN_WORDS) -> str:
    """The ``words`` consecutive words in the middle of ``chunk``, its first and last word
    (maybe cut by the chunk boundary) excluded."""
    inner = chunk.split()[1:-1]
    start = max(0, (len(inner) - words) // 2)
    return " ".join(inner[start : start + words]) or chunk.strip() or chunk


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q`` quantile (0..1) by nearest rank; 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


# -- baselines: what they hold, ranked by an in-process BM25

_WORD = re.compile(r"\w+")


def _terms(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(text)]


class BM25Index:
    """Okapi BM25 over a changing set of documents (add and remove in O(terms))."""

    def __init__(self, k1: float = 1.2, b: float = 0.75) -> None:
        self.k1, self.b = k1, b
        self.postings: dict[str, dict[int, int]] = {}
        self.lengths: dict[int, int] = {}
        self.total = 0
        self._terms_of: dict[int, list[str]] = {}

    def __contains__(self, doc: int) -> bool:
        return doc in self.lengths

    def __len__(self) -> int:
        return len(self.lengths)

    def add(self, doc: int, text: str) -> None:
        counts = Counter(_terms(text))
        for term, tf in counts.items():
            self.postings.setdefault(term, {})[doc] = tf
        self.lengths[doc] = sum(counts.values())
        self.total += self.lengths[doc]
        self._terms_of[doc] = list(counts)

    def remove(self, doc: int) -> None:
        for term in self._terms_of.pop(doc):
            posting = self.postings[term]
            del posting[doc]
            if not posting:
                del self.postings[term]
        self.total -= self.lengths.pop(doc)

    def top(self, query: str, k: int) -> list[int]:
        """The ``k`` best documents for ``query``, best first (ties: lower id first)."""
        n = len(self.lengths)
        if not n:
            return []
        average = self.total / n
        scores: dict[int, float] = {}
        for term in query_terms(query):
            posting = self.postings.get(term)
            if not posting:
                continue
            idf = math.log(1 + (n - len(posting) + 0.5) / (len(posting) + 0.5))
            for doc, tf in posting.items():
                norm = tf + self.k1 * (1 - self.b + self.b * self.lengths[doc] / average)
                scores[doc] = scores.get(doc, 0.0) + idf * tf * (self.k1 + 1) / norm
        return sorted(scores, key=lambda doc: (-scores[doc], doc))[:k]


# -- memoryspace: capacity-bounded collectors over the real GC


def _last_use(memory: Memory) -> float:
    return memory.last_access if memory.last_access is not None else memory.created_at


def _coldest(memories: Sequence[Memory], excess: int, now: float) -> list[Memory]:
    """Mark-sweep with ``cold_after`` chosen so that at least ``excess`` records are cold."""
    if excess <= 0 or not memories:
        return []
    order = sorted(memories, key=_last_use)
    cutoff = _last_use(order[min(excess, len(order)) - 1])
    sweeper = MarkSweepCollector(cold_after=max(0.0, now - cutoff), importance_threshold=1.0)
    return sweeper.sweep(memories, now, marked=set())


@dataclass(slots=True)
class TTLMarkCollector(Collector):
    """Expired records, then the least recently used unreachable ones, down to ``target``."""

    target: int = 0
    collected_ids: list[str] = field(default_factory=list)
    name: ClassVar[str] = "ttl_mark"

    def plan(self, memories: Sequence[Memory], now: float) -> Plan:
        expired = TTLCollector().plan(memories, now).collect
        gone = {m.id for m in expired}
        rest = [m for m in memories if m.id not in gone and not m.pinned]
        collect, promote = self.shrink(rest, len(memories) - len(expired) - self.target, now)
        plan = Plan(scanned=len(memories), collect=(*expired, *collect), promote=tuple(promote))
        self.collected_ids = [m.id for m in plan.collect]
        return plan

    def shrink(
        self, memories: Sequence[Memory], excess: int, now: float
    ) -> tuple[list[Memory], list[Memory]]:
        return _coldest(memories, excess, now), []


@dataclass(slots=True)
class TTLMarkGenCollector(TTLMarkCollector):
    """As ``ttl_mark``, but young records are collected (never retrieved) or promoted
    (retrieved) first; the old generation is swept only when that frees too little."""

    name: ClassVar[str] = "ttl_mark_gen"

    def shrink(
        self, memories: Sequence[Memory], excess: int, now: float
    ) -> tuple[list[Memory], list[Memory]]:
        if excess <= 0:
            return [], []
        unused = sorted(
            (m for m in memories if m.generation == 0 and m.access_count == 0),
            key=lambda m: m.created_at,
        )
        young_age = now - unused[excess - 1].created_at if len(unused) >= excess else 0.0
        minor = GenerationalCollector(
            young_age=max(0.0, young_age), importance_threshold=1.0, sessions=set()
        ).plan(memories, now)
        collect, promote = list(minor.collect), list(minor.promote)
        if len(collect) < excess:
            promoted = {m.id for m in promote}
            # Just-promoted records are old now: the major sweep may take them too.
            old = [m for m in memories if m.generation > 0 or m.id in promoted]
            collect += _coldest(old, excess - len(collect), now)
            taken = {m.id for m in collect}
            promote = [m for m in promote if m.id not in taken]
        return collect, promote


COLLECTORS: dict[str, type[TTLMarkCollector]] = {
    "ttl_mark": TTLMarkCollector,
    "ttl_mark_gen": TTLMarkGenCollector,
}


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@dataclass(slots=True)
class Outcome:
    """One method's run: the JSON row plus what tests check (the largest live set)."""

    row: dict[str, Any]
    max_live: int = 0


def _row(
    method: str,
    collector: str | None,
    capacity: int,
    seed: int,
    hits: list[int],
    pauses: list[float],
) -> dict[str, Any]:
    queries = len(hits)
    return {
        "method": method,
        "collector": collector,
        "capacity": capacity,
        "seed": seed,
        "queries": queries,
        "hit@1": round(sum(1 for rank in hits if rank == 1) / queries, 4) if queries else 0.0,
        "hit@5": round(sum(1 for rank in hits if 1 <= rank <= TOP_K) / queries, 4)
        if queries
        else 0.0,
        "gc_pause_ms_p99": round(percentile(pauses, 0.99) * 1000, 3),
        "page_faults": 0,
    }


def _rank_of(target: int, ranked: Sequence[int]) -> int:
    """1-based rank of ``target`` in ``ranked``, 0 when absent."""
    return ranked.index(target) + 1 if target in ranked else 0


def run_baseline(
    chunks: Sequence[str],
    method: str,
    *,
    capacity: int,
    query_interval: int = 10,
    seed: int = 1,
) -> Outcome:
    """``sliding`` or ``reservoir`` over the stream.

    Raises:
        InvalidInput: an unknown method.
    """
    if method not in BASELINES:
        raise InvalidInput(f"unknown baseline {method!r}; use one of: {', '.join(BASELINES)}")
    index = BM25Index()
    window: deque[int] = deque()
    slots: list[int] = []
    sample_rng, query_rng = random.Random(seed), random.Random(f"query:{method}:{seed}")
    hits: list[int] = []
    max_live = 0
    for position, chunk in enumerate(chunks):
        if method == "sliding":
            window.append(position)
            index.add(position, chunk)
            if len(window) > capacity:
                index.remove(window.popleft())
        elif len(slots) < capacity:
            slots.append(position)
            index.add(position, chunk)
        else:
            slot = sample_rng.randint(0, position)
            if slot < capacity:
                index.remove(slots[slot])
                slots[slot] = position
                index.add(position, chunk)
        max_live = max(max_live, len(index))
        if (position + 1) % query_interval == 0:
            held = sorted(window if method == "sliding" else slots)
            earlier = [c for c in held if c <= position - query_interval]
            if earlier:
                target = query_rng.choice(earlier)
                hits.append(_rank_of(target, index.top(query_span(chunks[target]), TOP_K)))
    return Outcome(_row(method, None, capacity, seed, hits, []), max_live)


def run_memoryspace(
    chunks: Sequence[str],
    collector: str,
    *,
    capacity: int,
    query_interval: int = 10,
    seed: int = 1,
    embedder: Embedder | str = "hashing",
) -> Outcome:
    """The stream through a ``MemorySpace`` kept at ``capacity`` live chunks by ``collector``.

    Raises:
        InvalidInput: an unknown collector, or a capacity below ``query_interval``.
    """
    chooser = COLLECTORS.get(collector)
    if chooser is None:
        raise InvalidInput(f"unknown collector {collector!r}; use one of: {', '.join(COLLECTORS)}")
    if capacity < query_interval:
        raise InvalidInput(f"capacity {capacity} must be at least the query interval")
    gc = chooser(target=capacity - query_interval)
    clock = _Clock()
    query_rng = random.Random(f"query:memoryspace:{seed}")
    held: set[int] = set()
    hits: list[int] = []
    pauses: list[float] = []
    max_live = 0
    settings = Settings(access_flush_every=1_000_000)
    with MemorySpace.open(":memory:", embedder=embedder, settings=settings, clock=clock) as ms:
        for start in range(0, len(chunks), query_interval):
            clock.now = float(start)
            if len(held) > gc.target:
                ms.store.flush()
                event = ms.gc(gc, policy=ARCHIVE)
                pauses.append(event.pause_duration)
                held -= {int(id.removeprefix("chunk-")) for id in gc.collected_ids}
            batch = range(start, min(start + query_interval, len(chunks)))
            for position in batch:
                clock.now = float(position)
                ms.add(chunks[position], id=f"chunk-{position}", kind="fact", ttl=4 * capacity)
                held.add(position)
            max_live = max(max_live, ms.count(include_expired=True))
            clock.now = batch[-1] + 0.5
            earlier = sorted(c for c in held if c < start and c + 4 * capacity > clock.now)
            if len(batch) == query_interval and earlier:
                target = query_rng.choice(earlier)
                found = ms.search(query_span(chunks[target]), k=TOP_K)
                ranked = [int(hit.memory.id.removeprefix("chunk-")) for hit in found]
                hits.append(_rank_of(target, ranked))
    return Outcome(_row("memoryspace", collector, capacity, seed, hits, pauses), max_live)


def run(
    data: str | Path,
    *,
    chunk_size: int = 512,
    limit: int | None = 4000,
    capacities: Sequence[int] = (256, 1024),
    query_interval: int = 10,
    baselines: Sequence[str] = BASELINES,
    collectors: Sequence[str] = tuple(COLLECTORS),
    seeds: Sequence[int] = (1,),
    embedder: Embedder | str = "hashing",
    progress: Progress | None = None,
) -> dict[str, Any]:
    """The JSON document: ``{"dataset": <file name>, "rows": [...]}``, one row per method ×
    collector × capacity × seed.

    Raises:
        InvalidInput: a missing file, an unknown baseline or collector, or bad sizes.
    """
    if query_interval < 1:
        raise InvalidInput(f"--query-interval needs at least 1, got {query_interval}")
    for name in baselines:
        if name not in BASELINES:
            raise InvalidInput(f"unknown baseline {name!r}; use one of: {', '.join(BASELINES)}")
    for name in collectors:
        if name not in COLLECTORS:
            raise InvalidInput(f"unknown collector {name!r}; use one of: {', '.join(COLLECTORS)}")
    chunks = read_chunks(data, chunk_size, limit)
    model = resolve_embedder(embedder)
    jobs: list[tuple[str, str | None, int, int]] = [
        (method, collector, capacity, seed)
        for capacity in capacities
        for seed in seeds
        for method, collector in [
            *((b, None) for b in baselines),
            *(("memoryspace", c) for c in collectors),
        ]
    ]
    rows = []
    for done, (method, collector, capacity, seed) in enumerate(jobs):
        if progress is not None:
            progress("capacity", done, len(jobs))
        if collector is None:
            outcome = run_baseline(
                chunks, method, capacity=capacity, query_interval=query_interval, seed=seed
            )
        else:
            outcome = run_memoryspace(
                chunks,
                collector,
                capacity=capacity,
                query_interval=query_interval,
                seed=seed,
                embedder=model,
            )
        rows.append(outcome.row)
    if progress is not None:
        progress("capacity", len(jobs), len(jobs))
    return {"dataset": Path(data).name, "rows": rows}


def plot(doc: dict[str, Any], path: str | Path) -> Path:
    """A PNG bar chart of hit@1 per method (and collector), one bar per capacity (seed mean).

    Raises:
        InvalidInput: no rows.
    """
    from memoryspace.bench.locomo import write_bar_chart

    rows = doc["rows"]
    if not rows:
        raise InvalidInput("no benchmark rows to plot")
    label = [str(r["method"]) + (f" {r['collector']}" if r["collector"] else "") for r in rows]
    methods = list(dict.fromkeys(label))
    capacities = sorted({int(r["capacity"]) for r in rows})
    sums: dict[tuple[str, int], list[float]] = {}
    for name, row in zip(label, rows, strict=True):
        sums.setdefault((name, int(row["capacity"])), []).append(float(row["hit@1"]))
    series: dict[str, list[float | None]] = {
        f"capacity {c}": [sum(v) / len(v) if (v := sums.get((m, c))) else None for m in methods]
        for c in capacities
    }
    out = Path(path)
    write_bar_chart(out, f"hit@1 by memory: {doc['dataset']}", methods, series, "hit@1")
    return out
