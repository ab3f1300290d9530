"""Search latency at scale on real text: BM25's tail and hybrid ``search()``, stage by stage.

    python -m memoryspace.bench.search_tail build --n 100000 --db /tmp/tail100k.db \
        --data /work/shared/data
    python -m memoryspace.bench.search_tail measure --db /tmp/tail100k.db \
        --data /work/shared/data --queries 300 --out bench-out/search_tail

``build`` fills a database with real dialogue turns: every LongMemEval-S session (deduplicated;
turns cut to ``MAX_CHARS`` characters), cycled with a counter in the session id to reach ``--n``,
one user per haystack so scoped searches have realistic scopes. Vectors come from the hashing
embedder (precomputed, so building is fast; BM25 does not depend on them).

``measure`` times, per real question (LoCoMo and LongMemEval questions, cycled): the BM25 search
unscoped and scoped to one user, the query's bound (``text_bound``), and ``MemorySpace.search``
end to end with the query vector precomputed (its embedding is reported on its own). It prints a
table and writes CSV.
"""

from __future__ import annotations

import argparse
import csv
import statistics
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from memoryspace.datasets.locomo import load_locomo
from memoryspace.datasets.longmemeval import load_longmemeval
from memoryspace.embed import HashingEmbedder
from memoryspace.models import Filter
from memoryspace.retrieval.terms import query_terms
from memoryspace.space import MemorySpace

MAX_CHARS = 400
_BATCH = 2000


def _turns(data: Path) -> list[tuple[str, str, str]]:
    """(user, session, text) of every distinct LongMemEval-S session's turns, in order."""
    seen: set[str] = set()
    out = []
    for haystack in load_longmemeval(data / "longmemeval" / "longmemeval_s_dev.json.gz"):
        for session in haystack.sessions:
            if session.id in seen:
                continue
            seen.add(session.id)
            for turn in session.turns:
                text = turn.content.strip()
                if text:
                    out.append((haystack.id, session.id, f"{turn.role}: {text[:MAX_CHARS]}"))
    return out


def questions(data: Path) -> list[str]:
    """Real questions: LoCoMo's and LongMemEval's, interleaved."""
    locomo = [
        qa.question
        for conversation in load_locomo(data / "locomo" / "locomo_dev6.json")
        for qa in conversation.questions
    ]
    lme = [
        q.question
        for haystack in load_longmemeval(data / "longmemeval" / "longmemeval_s_dev.json.gz")
        for q in haystack.questions
    ]
    mixed = [q for pair in zip(locomo, lme, strict=False) for q in pair]
    return mixed + locomo[len(lme) :]


def records(data: Path, n: int) -> Iterator[dict[str, Any]]:
    """``n`` records cycled from the real turns; each cycle gets its own session ids."""
    turns = _turns(data)
    for i in range(n):
        cycle, at = divmod(i, len(turns))
        user, session, text = turns[at]
        yield {"content": text, "user": f"{user}~{cycle}", "session": f"{session}~{cycle}"}


def build(db: Path, data: Path, n: int) -> None:
    embedder = HashingEmbedder()
    started = time.perf_counter()
    with MemorySpace.open(db, embedder=embedder) as ms, Progress() as progress:
        task = progress.add_task(f"adding {n:,} turns", total=n)
        batch: list[dict[str, Any]] = []
        for record in records(data, n):
            batch.append(record)
            if len(batch) == _BATCH:
                _add(ms, embedder, batch)
                progress.advance(task, len(batch))
                batch = []
        if batch:
            _add(ms, embedder, batch)
            progress.advance(task, len(batch))
    Console().print(f"built {db} with {n:,} records in {time.perf_counter() - started:.0f} s")


def _add(ms: MemorySpace, embedder: HashingEmbedder, batch: list[dict[str, Any]]) -> None:
    vectors = embedder.embed([r["content"] for r in batch])
    ms.add_many([{**r, "vector": v} for r, v in zip(batch, vectors, strict=True)], dedupe=False)


def _percentiles(samples: list[float]) -> tuple[float, float, float]:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return statistics.median(ordered), p99, ordered[-1]


def measure(db: Path, data: Path, count: int, out: Path | None) -> list[dict[str, Any]]:
    asked = questions(data)
    asked = [asked[i % len(asked)] for i in range(count)]
    embedder = HashingEmbedder()
    vectors = embedder.embed(asked)
    timings: dict[str, list[float]] = {}

    def timed(name: str, call: Callable[..., object], *args: Any, **kwargs: Any) -> None:
        t0 = time.perf_counter()
        call(*args, **kwargs)
        timings.setdefault(name, []).append((time.perf_counter() - t0) * 1000)

    with MemorySpace.open(db, embedder=embedder) as ms:
        users = sorted({m.user for m in ms.scan(limit=20000) if m.user})[:50]
        n = ms.count()
        vector_of = dict(zip(asked, vectors, strict=True))
        precomputed = _Precomputed(embedder, vector_of)
        ms._retriever._embedder = precomputed  # type: ignore[assignment]
        with Progress() as progress:
            task = progress.add_task(f"{count} questions over {n:,} records", total=count)
            for i, question in enumerate(asked):
                terms = query_terms(question)
                scoped = Filter(user=users[i % len(users)])
                timed("bm25", ms.store.text_search, terms, 50)
                timed("bm25 scoped", ms.store.text_search, terms, 50, scoped)
                timed("bound", ms.store.text_bound, terms, Filter())
                timed("bound scoped", ms.store.text_bound, terms, scoped)
                timed("hybrid", ms.search, question, k=10, min_score=0.0)
                timed("hybrid scoped", ms.search, question, k=10, min_score=0.0, user=scoped.user)
                progress.advance(task)
    rows = []
    for name, samples in timings.items():
        p50, p99, worst = _percentiles(samples)
        rows.append({"n": n, "stage": name, "p50_ms": p50, "p99_ms": p99, "max_ms": worst})
    table = Table(title=f"search latency, {n:,} records, {count} real questions")
    for column in ("stage", "p50 ms", "p99 ms", "max ms"):
        table.add_column(column)
    for row in rows:
        table.add_row(str(row["stage"]), *(f"{row[c]:.1f}" for c in ("p50_ms", "p99_ms", "max_ms")))
    Console().print(table)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        with open(out / f"search_tail_{n}.csv", "w", newline="") as file:
            writer = csv.DictWriter(file, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    return rows


class _Precomputed:
    """The hashing embedder with the questions' vectors computed before the clock starts."""

    def __init__(self, inner: HashingEmbedder, known: dict[str, np.ndarray[Any, Any]]) -> None:
        self._inner, self._known = inner, known
        self.model_id, self.dimension = inner.model_id, inner.dimension

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def embed(self, texts: list[str]) -> np.ndarray[Any, Any]:
        if all(t in self._known for t in texts):
            return np.vstack([self._known[t] for t in texts])
        return self._inner.embed(texts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("action", choices=["build", "measure"])
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--data", type=Path, default=Path("/work/shared/data"))
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    if args.action == "build":
        build(args.db, args.data, args.n)
    else:
        measure(args.db, args.data, args.queries, args.out)


if __name__ == "__main__":
    main()
