"""LongMemEval session-retrieval benchmark: are the answer sessions among the top k sessions?

    memoryspace bench longmemeval --data longmemeval_s.json

Each haystack is one scope, ingested in time order, one memory per chat turn (``role: content``,
the session's date as timestamp). A mode ranks turns; the sessions are ranked by their best turn
(first appearance), and ``session_recall@k`` is the share of ``answer_session_ids`` among the
top ``k`` sessions, averaged over questions.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from memoryspace.bench.locomo import Progress, warm_embeddings
from memoryspace.bench.metrics import evidence_recall_at_k, first_occurrences, mean, percentile
from memoryspace.bench.modes import RetrievalMode, make_mode, run_each
from memoryspace.datasets.longmemeval import Haystack
from memoryspace.embed.base import Embedder

DEFAULT_MODES = ("memoryspace", "recent", "bm25", "dense")


def haystack_records(haystack: Haystack) -> list[dict[str, Any]]:
    """One memory per non-empty turn, sessions in date order, scoped to the haystack."""
    ordered = sorted(haystack.sessions, key=lambda s: s.timestamp or 0.0)
    return [
        {
            "content": f"{turn.role}: {turn.content.strip()}",
            "user": haystack.id,
            "timestamp": session.timestamp,
            "meta": {"ref": f"{session.id}#{n}", "session_id": session.id},
        }
        for session in ordered
        for n, turn in enumerate(session.turns)
        if turn.content.strip()
    ]


def ranked_sessions(
    mode: RetrievalMode, question: str, k: int, *, scope: str, turns: int
) -> list[str]:
    """Session ids by their best-ranked turn, at least ``k`` of them when the scope has them."""
    depth = max(10 * k, 1)
    while True:
        ranked = mode.rank(question, min(depth, turns), scope=scope)
        sessions = first_occurrences(ref.rsplit("#", 1)[0] for ref in ranked)
        if len(sessions) >= k or depth >= turns or len(ranked) < min(depth, turns):
            return sessions
        depth *= 2


def run(
    haystacks: Sequence[Haystack],
    *,
    modes: Sequence[str] = DEFAULT_MODES,
    ks: Sequence[int] = (5, 10),
    embedder: Embedder,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Every mode over every question; the result document."""
    records = {h.id: haystack_records(h) for h in haystacks}
    asked = [(h, q) for h in haystacks for q in h.questions]
    warm_embeddings(
        embedder,
        [str(r["content"]) for rs in records.values() for r in rs] + [q.question for _, q in asked],
    )
    capacity = max([1, *(len(r) for r in records.values())])
    results = run_each(
        modes,
        lambda name: make_mode(name, ref_key="ref", embedder=embedder, capacity=capacity),
        lambda mode: _run_mode(mode, haystacks, records, asked, ks, progress),
    )
    return {
        "dataset": "longmemeval",
        "questions": len(asked),
        "haystacks": len(haystacks),
        "embedder": embedder.model_id,
        "modes": results,
    }


def _run_mode(
    mode: RetrievalMode,
    haystacks: Sequence[Haystack],
    records: dict[str, list[dict[str, Any]]],
    asked: list[tuple[Haystack, Any]],
    ks: Sequence[int],
    progress: Progress | None,
) -> dict[str, Any]:
    for haystack in haystacks:
        mode.ingest(records[haystack.id])
    recalls: dict[int, list[float]] = {k: [] for k in ks}
    latencies: list[float] = []
    for done, (haystack, question) in enumerate(asked, 1):
        known = {str(r["meta"]["session_id"]) for r in records[haystack.id]}
        gold = [s for s in question.answer_session_ids if s in known]
        started = time.perf_counter()
        sessions = ranked_sessions(
            mode, question.question, max(ks), scope=haystack.id, turns=len(records[haystack.id])
        )
        latencies.append((time.perf_counter() - started) * 1000)
        if progress:
            progress(mode.name, done, len(asked))
        if gold:
            for k in ks:
                recalls[k].append(evidence_recall_at_k(sessions, gold, k))
    out: dict[str, Any] = {}
    for k in ks:
        value = mean(recalls[k])
        out[f"session_recall@{k}"] = None if value is None else round(value, 4)
    out["query_ms_p50"] = round(percentile(latencies, 50), 3) if latencies else None
    return out


def table(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows for ``print_table``: one per mode, the same columns for every row."""
    metrics: list[str] = []
    for result in doc["modes"].values():
        metrics.extend(m for m in result if m != "unavailable" and m not in metrics)
    rows = []
    for mode, result in doc["modes"].items():
        row: dict[str, Any] = {"mode": mode}
        row.update({m: "-" if result.get(m) is None else result[m] for m in metrics})
        row["status"] = f"unavailable: {result['unavailable']}" if "unavailable" in result else "ok"
        rows.append(row)
    return rows
