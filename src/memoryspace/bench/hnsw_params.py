"""HNSW parameters by measured recall: recall@10 against exact search on real MiniLM vectors.

    python -m memoryspace.bench.hnsw_params --data /work/shared/data --n 20000 \
        --cache /tmp/memoryspace-minilm-turns.npz --out bench-out/hnsw_params

Records are real dialogue turns (LoCoMo, then LongMemEval-S sessions, deduplicated, cut to 400
characters) and queries are real questions (LoCoMo and LongMemEval), embedded once with MiniLM and
cached in ``--cache`` for later runs. For each ``connectivity`` × ``expansion_add`` it builds one
graph (timing the build per vector) and reports, for each ``expansion_search``, recall@10 against
exact search and the search p50/p99. Prints a table and writes CSV.
"""

from __future__ import annotations

import argparse
import csv
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from memoryspace.bench.search_tail import MAX_CHARS, questions
from memoryspace.datasets.locomo import load_locomo
from memoryspace.datasets.longmemeval import load_longmemeval
from memoryspace.embed.resolve import resolve_embedder
from memoryspace.index import ExactIndex, HNSWIndex


def turn_texts(data: Path, n: int) -> list[str]:
    """Up to ``n`` distinct real turns: LoCoMo's, then LongMemEval-S sessions'."""
    texts: dict[str, None] = {}
    for conversation in load_locomo(data / "locomo" / "locomo_dev6.json"):
        for turn in conversation.turns:
            texts.setdefault(f"{turn.speaker}: {turn.text}"[:MAX_CHARS], None)
    for haystack in load_longmemeval(data / "longmemeval" / "longmemeval_s_dev.json.gz"):
        for session in haystack.sessions:
            for chat in session.turns:
                if len(texts) >= n:
                    return list(texts)
                if chat.content.strip():
                    texts.setdefault(f"{chat.role}: {chat.content.strip()}"[:MAX_CHARS], None)
    return list(texts)[:n]


def vectors(data: Path, n: int, queries: int, cache: Path) -> tuple[np.ndarray, np.ndarray]:
    """MiniLM vectors of ``n`` turns and ``queries`` questions, from ``cache`` when it has them."""
    if cache.exists():
        stored = np.load(cache)
        if len(stored["records"]) >= n and len(stored["queries"]) >= queries:
            return stored["records"][:n], stored["queries"][:queries]
    embedder = resolve_embedder("minilm")
    texts, asked = turn_texts(data, n), questions(data)[:queries]
    console = Console()
    console.print(f"embedding {len(texts):,} turns and {len(asked):,} questions with MiniLM")
    records = np.vstack([embedder.embed(texts[i : i + 512]) for i in range(0, len(texts), 512)])
    query_vectors = embedder.embed(asked)
    np.savez(cache, records=records, queries=query_vectors)
    return records, query_vectors


def sweep(
    records: np.ndarray,
    queries: np.ndarray,
    connectivity: list[int],
    expansion_add: list[int],
    expansion_search: list[int],
) -> list[dict[str, Any]]:
    keys = np.arange(len(records), dtype=np.int64)
    exact = ExactIndex(records.shape[1])
    exact.add(keys, records)
    truth = [set(exact.search(q, 10)[0].tolist()) for q in queries]
    rows = []
    for m in connectivity:
        for ef_add in expansion_add:
            index = HNSWIndex(records.shape[1], connectivity=m, expansion_add=ef_add)
            started = time.perf_counter()
            index.add(keys, records)
            build_ms = (time.perf_counter() - started) * 1000 / len(records)
            for ef in expansion_search:
                index._index.expansion_search = ef  # type: ignore[misc]  # settable at run time
                recall, took = [], []
                for query, expected in zip(queries, truth, strict=True):
                    t0 = time.perf_counter()
                    found = index.search(query, 10)[0]
                    took.append((time.perf_counter() - t0) * 1000)
                    recall.append(len(expected & set(found.tolist())) / 10)
                took.sort()
                rows.append(
                    {
                        "n": len(records),
                        "connectivity": m,
                        "expansion_add": ef_add,
                        "expansion_search": ef,
                        "recall_at_10": statistics.mean(recall),
                        "search_ms_p50": statistics.median(took),
                        "search_ms_p99": took[min(len(took) - 1, round(0.99 * (len(took) - 1)))],
                        "build_ms_per_vector": build_ms,
                    }
                )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=Path("/work/shared/data"))
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--cache", type=Path, default=Path("/tmp/memoryspace-minilm-turns.npz"))
    parser.add_argument("--connectivity", default="16")
    parser.add_argument("--expansion-add", default="64,128")
    parser.add_argument("--expansion-search", default="16,32,64,128,256")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    records, queries = vectors(args.data, args.n, args.queries, args.cache)
    rows = sweep(
        records,
        queries,
        [int(v) for v in args.connectivity.split(",")],
        [int(v) for v in args.expansion_add.split(",")],
        [int(v) for v in args.expansion_search.split(",")],
    )
    table = Table(title=f"HNSW recall@10 vs exact, {len(records):,} MiniLM vectors of real turns")
    for column in rows[0]:
        table.add_column(column)
    for row in rows:
        table.add_row(*(f"{v:.3f}" if isinstance(v, float) else str(v) for v in row.values()))
    Console().print(table)
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        with open(args.out / "hnsw_params.csv", "w", newline="") as file:
            writer = csv.DictWriter(file, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)


if __name__ == "__main__":
    main()
