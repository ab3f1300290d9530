"""Capacity benchmark: stream a text through a memory of fixed capacity and ask about its past.

    memoryspace bench capacity --data ../shared/data/text8/text8_prefix.txt \\
        [--chunk-size 512] [--limit 0] [--capacities 4096,8192] [--query-interval 10] \\
        [--reuse 0.5] [--baselines sliding,reservoir] [--collectors ttl_mark,ttl_mark_gen] \\
        [--seeds 1] [--hot-fraction 0.125] [--embedder hashing] [--json] [--out DIR]

The file is cut into chunks of ``chunk_size`` characters (at most ``limit`` of them; 0, the
default, takes the whole file: 13,433 chunks of text8, 8,075 of enwik8) and streamed, chunk ``i``
at simulated second ``i``, into memories that hold at most ``capacity`` chunks.

**The workload, the same for every method.** What a memory "should still hold" is its working
set in Denning's sense: the chunks referenced in the last ``tau = capacity // 2`` seconds, a
reference being a write (the chunk was streamed) or a read (a query asked for it). That is the
premise of paging: what was just written or just used is likely to be used again. Since at most
one query follows each batch, ``|W| <= tau + ceil(tau / query_interval) <= 2 * tau``, at most
``capacity``: a perfect memory of that capacity answers every question. After each full batch
``[s, e]`` of ``query_interval`` chunks, one query is drawn (seeded by ``seed`` alone, before any
method runs):

- with probability ``reuse`` (default 0.5), if some chunk was asked in ``(e - tau, e)``, a
  *re-reference*: one of those chunks, uniformly;
- otherwise a *recent* chunk: one of those streamed in ``(e - tau, s)``, uniformly (not the batch
  just streamed: the question is about the past);
- no query when both pools are empty (the first batch).

Each re-reference keeps its chunk in the working set for another ``tau`` seconds, so chains of
re-references reach chunks far older than ``capacity``: a sliding window loses those; a uniform
sample loses most chunks at ``capacity << n``. The query text is the 12 consecutive
whitespace-separated words in the middle of the chunk (its first and last word, maybe cut by the
chunk boundary, are never used): an exact span an agent would look up. A chunk whose span occurs
more than once in the stream is never drawn (``unique_spans``: the question would have two right
answers; 62 of text8's chunks, 90 of enwik8's). hit@1 / hit@5: the chunk is ranked first / in
the top 5; a chunk the method no longer holds is a miss.

**Methods.**

- ``sliding`` keeps the last ``capacity`` chunks.
- ``reservoir`` keeps a uniform sample of ``capacity`` chunks (Algorithm R, seeded).
- ``lru`` keeps the ``capacity`` chunks used most recently (added, or among a query's top 5):
  the baselines' ranker over a least-recently-used memory, to separate the policy from the
  ranking.
- ``memoryspace`` adds each chunk (kind ``fact``) to an in-memory ``MemorySpace`` with a hot tier
  (LRU) of ``hot_fraction * capacity`` records. When the next batch would not fit, ``ms.gc`` runs
  once with one of the collectors below, down to ``capacity - headroom`` live chunks, headroom =
  ``max(query_interval, capacity // 16)``: like a real collector it runs when the heap is full
  and frees a batch, so it holds at most ``capacity`` chunks and on average fewer than the
  baselines. Collected chunks are archived (out of search).

  Both are configurations of the library's ``BoundedCollector`` (``memoryspace.gc.bounded``,
  what ``gc("bounded", ...)`` and ``Settings(max_records=N)`` use). Both first collect the chunks
  *idle* for ``4 * capacity`` seconds (neither created nor retrieved since): a time to live
  counted from the last use, because one counted from creation, as the library's
  ``TTLCollector`` does with ``ttl``, would expire chunks that queries still re-reference (so
  chunks are stored without ``ttl``). Then, down to the target:

  - ``ttl_mark`` collects the unreachable chunks (no chunk has a root) least recently used
    first. Every
    search touches its 5 hits, so about ``tau * (1 + 5 / query_interval)`` chunks were used in
    the last ``tau`` seconds: ``0.75 * capacity`` at the defaults, under the target, so it keeps
    every chunk streamed or retrieved in that time. It can lose a working-set chunk only when
    an earlier query for it failed to retrieve it (the memory never saw that use); otherwise
    its misses are ranking.
  - ``ttl_mark_gen`` runs a minor generational collection with ``young_age = capacity / 2``
    (the nursery is half the heap): young chunks older than that are collected when never
    retrieved and promoted when retrieved; when that frees too little, the old generation is
    swept least recently used first (then, if still short, the young one).

**Ranking and fairness.** ``memoryspace`` answers with its own ``ms.search`` (hybrid: dense
vectors of the chosen embedder fused with SQLite FTS5 BM25), since that is the product; the
baselines rank what they hold with an in-process Okapi BM25 (k1 = 1.2, b = 0.75, same terms as
the library's full-text search). A 12-word exact span is an easy lexical query, so BM25 is a
strong ranker here, not a straw man; each method ranks at most ``capacity`` chunks.

**Counters.** ``gc_pause_ms_p99`` is the 99th percentile of ``GCEvent.pause_duration`` (0 for the
baselines, which never pause). ``page_faults`` is the hot tier's ``misses``
(``ms.stats()["hot_tier"]``): search hits read from the store because they were not resident
(writes go to the store; the hits of each search are paged in). ``ms.gc`` drops the records it
collected or promoted from the tier (the store has their new versions); the rest stay resident.
The baselines report 0: each is a single tier searched in place, so nothing is ever paged.
"""

from __future__ import annotations

import math
import random
import re
from collections import Counter, OrderedDict, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from memoryspace.bench.metrics import percentile
from memoryspace.datasets.sources import require_data
from memoryspace.embed.base import Embedder
from memoryspace.embed.resolve import resolve_embedder
from memoryspace.errors import InvalidInput
from memoryspace.gc import ActionPolicy, BoundedCollector
from memoryspace.retrieval.terms import query_terms
from memoryspace.settings import Settings
from memoryspace.space import MemorySpace

Progress = Callable[[str, int, int], None]  # (what, done, total)
SPAN_WORDS = 12
TOP_K = 5
REUSE = 0.5
HOT_FRACTION = 0.125
BASELINES = ("sliding", "reservoir", "lru")
ARCHIVE = ActionPolicy(by_kind={}, default="archive")


# -- the stream and the queries


def read_chunks(path: str | Path, chunk_size: int = 512, limit: int | None = None) -> list[str]:
    """The first ``limit`` chunks of ``chunk_size`` characters of the file (all when ``None``
    or 0); a last chunk shorter than half ``chunk_size`` is dropped.

    Raises:
        InvalidInput: the file is missing, or a size is not positive.
    """
    if chunk_size < 2 * SPAN_WORDS:
        raise InvalidInput(f"--chunk-size needs at least {2 * SPAN_WORDS} characters")
    source = require_data(path, "text")
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


def unique_spans(chunks: Sequence[str]) -> list[bool]:
    """Per chunk: whether its query span (``SPAN_WORDS`` words) occurs exactly once in the
    stream. A span found twice is a question with two right answers, so it is never asked; nor
    is a span under ``SPAN_WORDS`` words (a chunk of under 14 words)."""
    spans = [tuple(query_span(chunk).split()) for chunk in chunks]
    wanted = {span for span in spans if len(span) == SPAN_WORDS}
    words = "".join(chunks).split()  # the original text: cut words are whole again
    seen: Counter[tuple[str, ...]] = Counter()
    for i in range(len(words) - SPAN_WORDS + 1):
        window = tuple(words[i : i + SPAN_WORDS])
        if window in wanted:
            seen[window] += 1
    return [seen[span] == 1 for span in spans]


def query_plan(
    n_chunks: int,
    capacity: int,
    query_interval: int = 10,
    seed: int = 1,
    reuse: float = REUSE,
    askable: Sequence[bool] | None = None,
) -> dict[int, int]:
    """The workload of the module docstring: the time of each query (the last chunk of its
    batch) → the chunk it asks about. It depends on no method, so every method gets it.
    ``askable`` (e.g. ``unique_spans``) says which chunks may be asked; default all."""
    tau = capacity // 2
    rng = random.Random(f"working-set:{seed}")
    asked: dict[int, int] = {}  # chunk -> when it was last asked
    plan: dict[int, int] = {}
    for end in range(query_interval - 1, n_chunks, query_interval):
        start = end + 1 - query_interval
        for chunk in [c for c, when in asked.items() if when <= end - tau]:
            del asked[chunk]
        recent: Sequence[int] = range(max(0, end + 1 - tau), start)
        if askable is not None:
            recent = [c for c in recent if askable[c]]
        if asked and (not recent or rng.random() < reuse):
            target = rng.choice(list(asked))
        elif recent:
            target = rng.choice(recent)
        else:
            continue
        plan[end] = target
        asked[target] = end
    return plan


def working_set(plan: dict[int, int], end: int, capacity: int) -> set[int]:
    """Denning's working set at time ``end``: chunks streamed or asked in the last
    ``capacity // 2`` seconds (the query at ``end`` itself not counted)."""
    tau = capacity // 2
    streamed = set(range(max(0, end + 1 - tau), end + 1))
    return streamed | {chunk for when, chunk in plan.items() if end - tau < when < end}


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


# -- memoryspace: the library's bounded collector, configured per capacity

COLLECTORS = ("ttl_mark", "ttl_mark_gen")


def make_collector(name: str, capacity: int, query_interval: int) -> BoundedCollector:
    """The library ``BoundedCollector`` configured as the module docstring says for ``capacity``.

    Raises:
        InvalidInput: an unknown collector.
    """
    if name not in COLLECTORS:
        raise InvalidInput(f"unknown collector {name!r}; use one of: {', '.join(COLLECTORS)}")
    return BoundedCollector(
        max_records=capacity,
        target=capacity - max(query_interval, capacity // 16),
        idle_after=4.0 * capacity,
        young_age=capacity / 2 if name == "ttl_mark_gen" else None,
    )


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@dataclass(slots=True)
class Outcome:
    """One method's run: the JSON row plus what tests check: the largest live set, the chunk
    each query asked about and its rank (0: not in the top 5), in query order."""

    row: dict[str, Any]
    max_live: int = 0
    asked: list[int] = field(default_factory=list)
    ranks: list[int] = field(default_factory=list)


def _row(
    method: str,
    collector: str | None,
    capacity: int,
    seed: int,
    ranks: list[int],
    pauses: list[float],
    page_faults: int = 0,
) -> dict[str, Any]:
    queries = len(ranks)
    return {
        "method": method,
        "collector": collector,
        "capacity": capacity,
        "seed": seed,
        "queries": queries,
        "hit@1": round(sum(1 for rank in ranks if rank == 1) / queries, 4) if queries else 0.0,
        "hit@5": round(sum(1 for rank in ranks if 1 <= rank <= TOP_K) / queries, 4)
        if queries
        else 0.0,
        "gc_pause_ms_p99": round(percentile(pauses, 99) * 1000, 3) if pauses else 0.0,
        "page_faults": page_faults,
    }


def _rank_of(target: int, ranked: Sequence[int]) -> int:
    """1-based rank of ``target`` in ``ranked``, 0 when absent."""
    return ranked.index(target) + 1 if target in ranked else 0


def _check_sizes(capacity: int, query_interval: int) -> None:
    if query_interval < 1:
        raise InvalidInput(f"--query-interval needs at least 1, got {query_interval}")
    if capacity < 2 * query_interval:
        raise InvalidInput(
            f"capacity {capacity} must be at least twice the query interval ({query_interval})"
        )


def run_baseline(
    chunks: Sequence[str],
    method: str,
    *,
    capacity: int,
    query_interval: int = 10,
    seed: int = 1,
    reuse: float = REUSE,
    plan: dict[int, int] | None = None,
) -> Outcome:
    """``sliding``, ``reservoir`` or ``lru`` over the stream, asked ``plan`` (default:
    ``query_plan``).

    Raises:
        InvalidInput: an unknown method, or a capacity below twice the query interval.
    """
    if method not in BASELINES:
        raise InvalidInput(f"unknown baseline {method!r}; use one of: {', '.join(BASELINES)}")
    _check_sizes(capacity, query_interval)
    if plan is None:
        plan = query_plan(len(chunks), capacity, query_interval, seed, reuse)
    index = BM25Index()
    recency: OrderedDict[int, None] = OrderedDict()  # lru: least recently used first
    window: deque[int] = deque()
    slots: list[int] = []
    sample_rng = random.Random(seed)
    ranks: list[int] = []
    asked: list[int] = []
    max_live = 0
    for position, chunk in enumerate(chunks):
        if method == "sliding":
            window.append(position)
            index.add(position, chunk)
            if len(window) > capacity:
                index.remove(window.popleft())
        elif method == "lru":
            recency[position] = None
            index.add(position, chunk)
            if len(recency) > capacity:
                index.remove(recency.popitem(last=False)[0])
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
        target = plan.get(position)
        if target is not None:
            asked.append(target)
            found = index.top(query_span(chunks[target]), TOP_K)
            ranks.append(_rank_of(target, found))
            if method == "lru":  # a retrieval is a use, as ms.search touches its hits
                for doc in found:
                    recency.move_to_end(doc)
    return Outcome(_row(method, None, capacity, seed, ranks, []), max_live, asked, ranks)


def run_memoryspace(
    chunks: Sequence[str],
    collector: str,
    *,
    capacity: int,
    query_interval: int = 10,
    seed: int = 1,
    reuse: float = REUSE,
    hot_fraction: float = HOT_FRACTION,
    embedder: Embedder | str = "hashing",
    plan: dict[int, int] | None = None,
) -> Outcome:
    """The stream through a ``MemorySpace`` kept at most ``capacity`` live chunks by
    ``collector``, with a hot tier of ``hot_fraction * capacity`` records, asked ``plan``.

    Raises:
        InvalidInput: an unknown collector, a capacity below twice the query interval, or a
            hot fraction outside (0, 1].
    """
    _check_sizes(capacity, query_interval)
    gc = make_collector(collector, capacity, query_interval)
    if not 0 < hot_fraction <= 1:
        raise InvalidInput(f"--hot-fraction must be within (0, 1], got {hot_fraction}")
    if plan is None:
        plan = query_plan(len(chunks), capacity, query_interval, seed, reuse)
    hot_records = max(1, round(hot_fraction * capacity))
    settings = Settings(access_flush_every=1_000_000, hot_tier_records=hot_records)
    clock = _Clock()
    ranks: list[int] = []
    asked: list[int] = []
    pauses: list[float] = []
    live = max_live = 0
    with MemorySpace.open(":memory:", embedder=embedder, settings=settings, clock=clock) as ms:
        for start in range(0, len(chunks), query_interval):
            batch = range(start, min(start + query_interval, len(chunks)))
            clock.now = float(start)
            if live + len(batch) > capacity:
                pauses.append(ms.gc(gc, policy=ARCHIVE).pause_duration)
            for position in batch:
                clock.now = float(position)
                ms.add(chunks[position], id=f"chunk-{position}", kind="fact")
            live = ms.count(include_expired=True)
            max_live = max(max_live, live)
            target = plan.get(batch[-1])
            if target is not None:
                clock.now = batch[-1] + 0.5
                found = ms.search(query_span(chunks[target]), k=TOP_K, min_score=0.0)
                ranked = [int(hit.memory.id.removeprefix("chunk-")) for hit in found]
                asked.append(target)
                ranks.append(_rank_of(target, ranked))
        faults = int(ms.stats()["hot_tier"]["misses"])
    row = _row("memoryspace", collector, capacity, seed, ranks, pauses, faults)
    return Outcome(row, max_live, asked, ranks)


def run(
    data: str | Path,
    *,
    chunk_size: int = 512,
    limit: int | None = None,
    capacities: Sequence[int] = (4096, 8192),
    query_interval: int = 10,
    reuse: float = REUSE,
    baselines: Sequence[str] = BASELINES,
    collectors: Sequence[str] = COLLECTORS,
    seeds: Sequence[int] = (1,),
    hot_fraction: float = HOT_FRACTION,
    embedder: Embedder | str = "hashing",
    progress: Progress | None = None,
) -> dict[str, Any]:
    """The JSON document: ``{"dataset": <file name>, "rows": [...]}``, one row per method ×
    collector × capacity × seed; the methods of one capacity and seed get the same queries.

    Raises:
        InvalidInput: a missing file, an unknown baseline or collector, or bad sizes.
    """
    for capacity in capacities:
        _check_sizes(capacity, query_interval)
    if not 0 <= reuse <= 1:
        raise InvalidInput(f"--reuse is a probability within 0..1, got {reuse}")
    if not 0 < hot_fraction <= 1:
        raise InvalidInput(f"--hot-fraction must be within (0, 1], got {hot_fraction}")
    for name in baselines:
        if name not in BASELINES:
            raise InvalidInput(f"unknown baseline {name!r}; use one of: {', '.join(BASELINES)}")
    for name in collectors:
        if name not in COLLECTORS:
            raise InvalidInput(f"unknown collector {name!r}; use one of: {', '.join(COLLECTORS)}")
    chunks = read_chunks(data, chunk_size, limit)
    model = resolve_embedder(embedder)
    askable = unique_spans(chunks)
    methods = [*((b, None) for b in baselines), *(("memoryspace", c) for c in collectors)]
    total = len(capacities) * len(seeds) * len(methods)
    rows: list[dict[str, Any]] = []
    for capacity in capacities:
        for seed in seeds:
            plan = query_plan(len(chunks), capacity, query_interval, seed, reuse, askable)
            for method, collector in methods:
                if progress is not None:
                    progress("capacity", len(rows), total)
                if collector is None:
                    outcome = run_baseline(
                        chunks,
                        method,
                        capacity=capacity,
                        query_interval=query_interval,
                        seed=seed,
                        plan=plan,
                    )
                else:
                    outcome = run_memoryspace(
                        chunks,
                        collector,
                        capacity=capacity,
                        query_interval=query_interval,
                        seed=seed,
                        hot_fraction=hot_fraction,
                        embedder=model,
                        plan=plan,
                    )
                rows.append(outcome.row)
    if progress is not None:
        progress("capacity", total, total)
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
