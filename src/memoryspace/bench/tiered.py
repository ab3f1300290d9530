"""Hot-tier benchmark: replay an agent's record requests through ``HotTier`` configurations.

    memoryspace bench tiered --data PATH [--conversation ID] [--capacity 64] [--out DIR]

One LoCoMo conversation is ingested into an in-memory ``MemorySpace`` (one memory per dialogue
turn, ``memoryspace.datasets.locomo.locomo_records``). Each of its questions, in order, is
searched (``k = 10``, scoped to the conversation); the ids found are the records the agent
needs for that question, and make the request trace. The trace is then replayed through a
``HotTier`` of ``capacity`` records for every replacement policy × write policy × promotion
batch (1 and 4), each over a fresh copy of the records in its own store and a simulated clock
(one minute per question). Per question the tier serves the ids (``get_many``), the store
counts the retrieval (as search does, so heat and the forgetting curve see only past recalls),
and the first record gets its importance bumped (``put``), so write-through and write-back
differ. The tier is closed at the end, so write-back's final flush is counted.

Each row: hit rate, page faults, evictions, promotions (read-ahead included), write-backs and
store writes. A reference row ``opt`` gives Belady's offline optimum (evict the record needed
furthest in the future; batch 1), the best any policy could do on the trace.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from memoryspace.bench.locomo import Progress, write_bar_chart
from memoryspace.datasets.locomo import (
    Conversation,
    load_locomo,
    locomo_records,
    select_conversations,
)
from memoryspace.embed.base import Embedder
from memoryspace.errors import InvalidInput
from memoryspace.models import Filter, Memory
from memoryspace.space import MemorySpace
from memoryspace.store.sqlite import SQLiteStore
from memoryspace.tiers import POLICY_NAMES, WRITE_POLICIES, HotTier

QUESTION_SECONDS = 60.0


class _SimulatedClock:
    def __init__(self, start: float) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


def request_trace(
    conversation: Conversation, embedder: Embedder | str, *, k: int = 10
) -> tuple[list[Memory], list[list[str]]]:
    """The conversation's records and, per question, the ids ``search(question, k)`` returns
    (``min_score=0``: every question requests ``k`` records, however weakly they match)."""
    with MemorySpace.open(":memory:", embedder=embedder) as ms:
        ms.add_many(locomo_records(conversation))
        user = conversation.sample_id
        trace = [
            [hit.memory.id for hit in ms.search(qa.question, k=k, user=user, min_score=0.0)]
            for qa in conversation.questions
            if qa.question.strip()
        ]
        records = list(ms.store.scan(Filter(user=user)))
    return records, trace


def replay(
    records: Sequence[Memory],
    trace: Sequence[Sequence[str]],
    *,
    policy: str,
    write_policy: str,
    promotion_batch: int,
    capacity: int,
) -> dict[str, Any]:
    """One configuration over the trace, on a fresh store holding ``records``; its counters."""
    clock = _SimulatedClock(max((m.created_at for m in records), default=0.0) + 86_400)
    with SQLiteStore(":memory:", clock=clock) as store:
        store.insert([(m, None) for m in records])
        keys = {m.id: store.key_of(m.id) for m in records}
        tier = HotTier(
            store,
            capacity_records=capacity,
            policy=policy,
            write_policy=write_policy,
            promotion_batch=promotion_batch,
            clock=clock,
        )
        for ids in trace:
            clock.now += QUESTION_SECONDS
            served = tier.get_many(ids)
            store.touch([keys[id] for id in ids], clock.now)
            if served:
                first = served[0]
                bumped = min(1.0, round(first.importance + 0.05, 6))
                tier.update(first.id, {"importance": bumped, "updated_at": clock.now})
        tier.close()
        stats = tier.stats()
    return {
        "policy": policy,
        "write_policy": write_policy,
        "promotion_batch": promotion_batch,
        "capacity": capacity,
        "requests": int(stats["hits"] + stats["misses"]),
        "hits": int(stats["hits"]),
        "page_faults": int(stats["misses"]),
        "hit_rate": round(stats["hit_rate"], 4),
        "evictions": int(stats["evictions"]),
        "promotions": int(stats["promotions"]),
        "write_backs": int(stats["write_backs"]),
        "store_writes": int(stats["store_writes"]),
    }


def belady_hits(trace: Sequence[Sequence[str]], capacity: int) -> tuple[int, int]:
    """(hits, faults) of Belady's MIN on the trace: on a fault with a full cache, evict the
    record whose next request is furthest away (or never comes)."""
    flat = [id for ids in trace for id in dict.fromkeys(ids)]
    next_use = [0] * len(flat)
    seen: dict[str, int] = {}
    for at in range(len(flat) - 1, -1, -1):
        next_use[at] = seen.get(flat[at], len(flat))
        seen[flat[at]] = at
    cache: dict[str, int] = {}  # id -> position of its next request
    hits = 0
    for at, id in enumerate(flat):
        if id in cache:
            hits += 1
        elif len(cache) >= capacity:
            del cache[max(cache, key=lambda key: cache[key])]
        cache[id] = next_use[at]
    return hits, len(flat) - hits


def run(
    data: str | Path,
    *,
    conversation: str | None = None,
    capacity: int = 64,
    embedder: Embedder | str = "auto",
    k: int = 10,
    policies: Sequence[str] = POLICY_NAMES,
    write_policies: Sequence[str] = WRITE_POLICIES,
    batches: Sequence[int] = (1, 4),
    progress: Progress | None = None,
) -> list[dict[str, Any]]:
    """Rows of counters, one per policy × write policy × promotion batch, plus ``opt``.

    ``conversation`` is a ``sample_id`` of the file (default: its first conversation).

    Raises:
        InvalidInput: the file is not LoCoMo, the conversation is unknown, or a policy,
            write policy, capacity or batch is invalid.
    """
    if isinstance(capacity, bool) or not isinstance(capacity, int) or capacity < 1:
        raise InvalidInput(f"capacity must be a positive number of records, got {capacity!r}")
    conversations = load_locomo(data)
    if not conversations:
        raise InvalidInput(f"{data} holds no LoCoMo conversation")
    chosen = select_conversations(conversations, [conversation] if conversation else None)[0]
    records, trace = request_trace(chosen, embedder, k=k)
    configs = [(p, w, b) for p in policies for w in write_policies for b in batches]
    rows: list[dict[str, Any]] = []
    report: Callable[[int], None] = (
        (lambda done: progress("tiered", done, len(configs))) if progress else (lambda done: None)
    )
    for done, (policy, write_policy, batch) in enumerate(configs):
        report(done)
        row = replay(
            records,
            trace,
            policy=policy,
            write_policy=write_policy,
            promotion_batch=batch,
            capacity=capacity,
        )
        rows.append({"conversation": chosen.sample_id, **row})
    report(len(configs))
    hits, faults = belady_hits(trace, capacity)
    distinct = len({id for ids in trace for id in ids})
    rows.append(
        {
            "conversation": chosen.sample_id,
            "policy": "opt",
            "write_policy": "",
            "promotion_batch": 1,
            "capacity": capacity,
            "requests": hits + faults,
            "hits": hits,
            "page_faults": faults,
            "hit_rate": round(hits / (hits + faults), 4) if hits + faults else 0.0,
            "evictions": faults - min(capacity, distinct),  # MIN never evicts before it is full
            "promotions": faults,
            "write_backs": 0,
            "store_writes": 0,
        }
    )
    return rows


def plot(rows: Sequence[dict[str, Any]], path: str | Path) -> Path:
    """A PNG bar chart of hit rate per policy, one bar per promotion batch (write policies do
    not change hit rates; the first row of each pair is drawn).

    Raises:
        InvalidInput: no rows.
    """
    if not rows:
        raise InvalidInput("no benchmark rows to plot")
    policies = list(dict.fromkeys(str(row["policy"]) for row in rows))
    batches = sorted({int(row["promotion_batch"]) for row in rows})
    rate: dict[tuple[str, int], float] = {}
    for row in rows:
        rate.setdefault((str(row["policy"]), int(row["promotion_batch"])), float(row["hit_rate"]))
    series: dict[str, list[float | None]] = {
        f"batch {b}": [rate.get((p, b)) for p in policies] for b in batches
    }
    first = rows[0]
    out = Path(path)
    write_bar_chart(
        out,
        f"Hot tier hit rate: {first['conversation']}, {first['capacity']} records",
        policies,
        series,
        "hit rate",
    )
    return out
