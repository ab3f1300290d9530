"""The same records, vectors and queries through the embedded stores users would pick instead.

LanceDB: a table of (id, text, vector), an IVF_HNSW_SQ cosine vector index and its native
full-text index, searched by vector, by full text and hybrid (its default reciprocal-rank
fusion). Chroma: a ``PersistentClient`` collection (HNSW, cosine) given the vectors, searched by
vector; it has no ranked full-text search, so its BM25 and hybrid cells stay empty. Both are
added to in the same batches as MemorySpace, and both get the question's terms as MemorySpace's
BM25 does (``query_terms`` joined by spaces), so punctuation does not trip their query parsers.
Each runs in its own child process; a peer that is not installed yields a row that says so.
"""

from __future__ import annotations

import importlib.util
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from memoryspace.bench.scale.inputs import SizeInputs
from memoryspace.bench.scale.timing import (
    exact_top,
    folder_bytes,
    ms_since,
    peak_rss_mb,
    percentiles,
    recall,
)
from memoryspace.retrieval.terms import query_terms

PEERS = ("lancedb", "chromadb")
_INSTALL = "pip install 'memoryspace[peers]'"


def missing(peer: str) -> str | None:
    """Why ``peer`` cannot run here (not installed), or None."""
    if importlib.util.find_spec(peer) is None:
        return f"{peer} is not installed: {_INSTALL}"
    return None


def _row(system: str, inputs: SizeInputs, **measured: Any) -> dict[str, Any]:
    return {"system": system, "n": inputs.n, "vectors": inputs.vectors_label, **measured}


def run_lancedb(inputs: SizeInputs, *, batch: int) -> dict[str, Any]:
    """Measure LanceDB at ``inputs.n`` records in this process."""
    import lancedb
    import pyarrow as pa
    from lancedb.index import FTS

    texts, vectors = inputs.texts(), inputs.vectors()
    questions, query_vectors = inputs.query_texts(), inputs.query_vectors()
    with tempfile.TemporaryDirectory(dir=inputs.folder) as folder:
        db = lancedb.connect(str(Path(folder) / "lance"))
        schema = pa.schema(
            [
                pa.field("id", pa.int64()),
                pa.field("text", pa.string()),
                pa.field("vector", pa.list_(pa.float32(), inputs.dimension)),
            ]
        )
        table = db.create_table("memories", schema=schema)
        batch_ms: list[float] = []
        started = time.perf_counter()
        for at in range(0, inputs.n, batch):
            chunk = np.ascontiguousarray(vectors[at : at + batch], np.float32)
            rows = pa.table(
                {
                    "id": pa.array(range(at, at + len(chunk)), pa.int64()),
                    "text": pa.array(texts[at : at + batch], pa.string()),
                    "vector": pa.FixedSizeListArray.from_arrays(
                        pa.array(chunk.reshape(-1)), inputs.dimension
                    ),
                },
                schema=schema,
            )
            t0 = time.perf_counter()
            table.add(rows)
            batch_ms.append(ms_since(t0))
        add_s = time.perf_counter() - started
        started = time.perf_counter()
        table.create_index(
            metric="cosine",
            index_type="IVF_HNSW_SQ",
            num_partitions=max(1, inputs.n // 100_000),
        )
        table.create_index("text", config=FTS())
        build_s = time.perf_counter() - started
        dense: list[float] = []
        sparse: list[float] = []
        hybrid: list[float] = []
        recalls = []
        failures = 0
        for question, vector in zip(questions, query_vectors, strict=True):
            terms = " ".join(query_terms(question))
            t0 = time.perf_counter()
            vector_query: Any = table.search(vector.tolist())
            found = vector_query.distance_type("cosine").limit(10).to_list()
            dense.append(ms_since(t0))
            recalls.append(recall([int(r["id"]) for r in found], exact_top(vectors, vector, 10)))
            try:
                t0 = time.perf_counter()
                table.search(terms, query_type="fts").limit(10).to_list()
                t1 = time.perf_counter()
                hybrid_query: Any = table.search(query_type="hybrid")
                hybrid_query.vector(vector.tolist()).text(terms).limit(10).to_list()
                sparse.append((t1 - t0) * 1000)
                hybrid.append(ms_since(t1))
            except Exception:  # a query its full-text parser rejects: counted, not fatal
                failures += 1
        disk = folder_bytes(Path(folder))
    return _row(
        "lancedb",
        inputs,
        index="IVF_HNSW_SQ + FTS",
        add_per_s=inputs.n / add_s,
        add_batch_max_ms=max(batch_ms),
        add_batch_p50_ms=percentiles(batch_ms)[0],
        index_build_s=build_s,
        dense_p50_ms=percentiles(dense)[0],
        dense_p99_ms=percentiles(dense)[1],
        dense_recall_at_10=float(np.mean(recalls)),
        bm25_p50_ms=percentiles(sparse)[0] if sparse else None,
        bm25_p99_ms=percentiles(sparse)[1] if sparse else None,
        hybrid_p50_ms=percentiles(hybrid)[0] if hybrid else None,
        hybrid_p99_ms=percentiles(hybrid)[1] if hybrid else None,
        disk_bytes_per_memory=disk / inputs.n,
        peak_rss_mb=peak_rss_mb(),
        note=f"{failures} queries failed in full text" if failures else "",
    )


def run_chroma(inputs: SizeInputs, *, batch: int) -> dict[str, Any]:
    """Measure Chroma (``PersistentClient``) at ``inputs.n`` records in this process."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    texts, vectors = inputs.texts(), inputs.vectors()
    query_vectors = inputs.query_vectors()
    with tempfile.TemporaryDirectory(dir=inputs.folder) as folder:
        client = chromadb.PersistentClient(
            path=str(Path(folder) / "chroma"),
            settings=ChromaSettings(anonymized_telemetry=False),
        )
        collection = client.create_collection(
            "memories", metadata={"hnsw:space": "cosine"}, embedding_function=None
        )
        batch_ms: list[float] = []
        started = time.perf_counter()
        for at in range(0, inputs.n, batch):
            chunk = np.ascontiguousarray(vectors[at : at + batch], np.float32)
            ids = [str(i) for i in range(at, at + len(chunk))]
            t0 = time.perf_counter()
            collection.add(ids=ids, embeddings=chunk, documents=texts[at : at + batch])
            batch_ms.append(ms_since(t0))
        add_s = time.perf_counter() - started
        dense: list[float] = []
        recalls = []
        for vector in query_vectors:
            t0 = time.perf_counter()
            found = collection.query(
                query_embeddings=vector.reshape(1, -1), n_results=10, include=[]
            )
            dense.append(ms_since(t0))
            rows = [int(i) for i in found["ids"][0]]
            recalls.append(recall(rows, exact_top(vectors, vector, 10)))
        del client
        disk = folder_bytes(Path(folder))
    return _row(
        "chromadb",
        inputs,
        index="HNSW (no ranked full text)",
        add_per_s=inputs.n / add_s,
        add_batch_max_ms=max(batch_ms),
        add_batch_p50_ms=percentiles(batch_ms)[0],
        index_build_s=None,
        dense_p50_ms=percentiles(dense)[0],
        dense_p99_ms=percentiles(dense)[1],
        dense_recall_at_10=float(np.mean(recalls)),
        bm25_p50_ms=None,
        bm25_p99_ms=None,
        hybrid_p50_ms=None,
        hybrid_p99_ms=None,
        disk_bytes_per_memory=disk / inputs.n,
        peak_rss_mb=peak_rss_mb(),
        note="builds its HNSW graph during add",
    )


RUNNERS: dict[str, Callable[..., dict[str, Any]]] = {
    "lancedb": run_lancedb,
    "chromadb": run_chroma,
}
