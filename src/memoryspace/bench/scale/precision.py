"""How much recall float16 and int8 vector storage cost, on real MiniLM vectors of real text.

For each storage type a usearch HNSW index (cosine; MemorySpace's default connectivity 16,
expansion_add 128, expansion_search 64) is built over the same vectors and searched with the
same real questions; recall@10 is against exact float32 search, and the index's size is its
saved (serialized) bytes. The exact search over the
rounded vectors (float16; int8 approximated as each unit-vector component times 127, rounded)
is scored too, so what the rounding costs is told apart from what the graph costs.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from memoryspace.bench.scale.timing import exact_top, percentiles, recall
from memoryspace.embed.base import Vectors

DTYPES = ("f32", "f16", "i8")
_HNSW = {"connectivity": 16, "expansion_add": 128, "expansion_search": 64}


def _rounded(vectors: Vectors, dtype: str) -> Vectors:
    if dtype == "f16":
        return vectors.astype(np.float16).astype(np.float32)
    if dtype == "i8":
        return (np.clip(np.round(vectors * 127), -127, 127) / 127).astype(np.float32)
    return vectors


def measure(vectors: Vectors, queries: Vectors, k: int = 10) -> list[dict[str, Any]]:
    """One row per storage type: recall@k of HNSW and of exact search over the rounded
    vectors (both against exact float32), index bytes, build seconds and search p50/p99."""
    from usearch.index import Index

    data = np.ascontiguousarray(vectors, np.float32)
    truth = [exact_top(data, query, k) for query in queries]
    keys = np.arange(len(data), dtype=np.uint64)
    rows = []
    for dtype in DTYPES:
        index = Index(
            ndim=data.shape[1],
            metric="cos",
            dtype=dtype,
            connectivity=_HNSW["connectivity"],
            expansion_add=_HNSW["expansion_add"],
            expansion_search=_HNSW["expansion_search"],
        )
        started = time.perf_counter()
        index.add(keys, data, threads=1)
        build_s = time.perf_counter() - started
        rounded = _rounded(data, dtype)
        latencies: list[float] = []
        hnsw_recall, exact_recall = [], []
        for query, exact in zip(queries, truth, strict=True):
            t0 = time.perf_counter()
            found = index.search(query, k)
            latencies.append((time.perf_counter() - t0) * 1000)
            hnsw_recall.append(recall(found.keys.astype(np.int64).tolist(), exact))
            exact_recall.append(recall(exact_top(rounded, _rounded(query, dtype), k), exact))
        p50, p99 = percentiles(latencies)
        rows.append(
            {
                "dtype": dtype,
                "n": len(data),
                "hnsw_recall_at_10": float(np.mean(hnsw_recall)),
                "exact_rounded_recall_at_10": float(np.mean(exact_recall)),
                "index_bytes_per_vector": index.serialized_length / len(data),
                "build_s": build_s,
                "search_p50_ms": p50,
                "search_p99_ms": p99,
            }
        )
    return rows
