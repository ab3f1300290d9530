"""One size of the scale benchmark on MemorySpace, measured in the calling (child) process.

The records are added with their precomputed vectors in batches (``add_many``), timing each
batch; the longest batch is the worst stall an adding agent sees (an index switch or growth
inside an add shows up there). The space is then reopened without its saved vector index, so the
index is rebuilt from the store, and searched with the real questions: dense times the vector
index alone and is scored against exact float32 search (recall@10); BM25 times the full-text
index alone; hybrid times ``MemorySpace.search`` end to end with the query's vector looked up,
not embedded (embedding one query is reported on its own by the runner).
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Sequence
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import numpy as np

from memoryspace.bench.scale.backends import postgres_breakdown
from memoryspace.bench.scale.disk import breakdown
from memoryspace.bench.scale.inputs import SizeInputs
from memoryspace.bench.scale.timing import exact_top, folder_bytes, peak_rss_mb, percentiles, recall
from memoryspace.embed.base import DEFAULT_COSINE_SCALE, CosineScale, Vectors
from memoryspace.embed.hashing import HASHING_COSINE_SCALE
from memoryspace.errors import InvalidInput
from memoryspace.models import Filter
from memoryspace.retrieval.terms import query_terms
from memoryspace.space import MemorySpace


class LookupEmbedder:
    """An embedder that returns vectors computed earlier for known texts, so that timing a search
    leaves the query's embedding out. It claims the model id of the vectors it holds."""

    def __init__(self, model_id: str, texts: Sequence[str], vectors: Vectors) -> None:
        self._model_id = model_id
        self._rows = {text: row for row, text in enumerate(texts)}
        self._vectors = np.asarray(vectors, np.float32)
        self.cosine_scale: CosineScale = (
            HASHING_COSINE_SCALE if model_id.startswith("hashing") else DEFAULT_COSINE_SCALE
        )

    @property
    def model_id(self) -> str:
        return self._model_id

    @property
    def dimension(self) -> int:
        return int(self._vectors.shape[1])

    def embed(self, texts: Sequence[str]) -> Vectors:
        """The stored vectors of ``texts``.

        Raises:
            InvalidInput: a text was not given at construction.
        """
        try:
            rows = [self._rows[text] for text in texts]
        except KeyError as missing:
            raise InvalidInput(f"no precomputed vector for {missing.args[0]!r}") from None
        return self._vectors[rows].reshape(len(rows), self.dimension)


def _disk(target: Path, folder: Path, db: str | None) -> tuple[dict[str, int] | None, int | None]:
    """Where the bytes went and their total: the SQLite file's folder, or the PostgreSQL
    database's tables (another URL scheme: unknown)."""
    if db is None:
        return breakdown(target), folder_bytes(folder)
    if db.startswith(("postgresql://", "postgres://")):
        parts = postgres_breakdown(db)
        return parts, sum(parts.values())
    return None, None


def run_ours(
    inputs: SizeInputs, *, batch: int, db: str | None = None, bulk: bool = False
) -> dict[str, Any]:
    """Measure MemorySpace at ``inputs.n`` records; ``db`` is a database URL (default: a new
    SQLite file in a temporary folder). ``bulk`` adds inside the store's ``bulk_load()`` where
    it has one; the index built at its end is counted in the add time (and given apart)."""
    texts, vectors = inputs.texts(), inputs.vectors()
    questions, query_vectors = inputs.query_texts(), inputs.query_vectors()
    embedder = LookupEmbedder(inputs.model_id, questions, query_vectors)
    rss_inputs = peak_rss_mb()
    with tempfile.TemporaryDirectory(dir=inputs.folder) as folder:
        target = db or str(Path(folder) / "scale.db")
        batch_ms: list[float] = []
        with MemorySpace.open(target, embedder=embedder) as ms:
            loading = getattr(ms.backing, "bulk_load", None) if bulk else None
            add_mode = "bulk_load" if callable(loading) else "add_many"
            started = time.perf_counter()
            with loading() if callable(loading) else nullcontext():
                for at in range(0, inputs.n, batch):
                    items = [
                        {"content": text, "vector": vector}
                        for text, vector in zip(
                            texts[at : at + batch], vectors[at : at + batch], strict=True
                        )
                    ]
                    t0 = time.perf_counter()
                    ms.add_many(items)
                    batch_ms.append((time.perf_counter() - t0) * 1000)
                loaded = time.perf_counter()
            add_s = time.perf_counter() - started  # a bulk load's index was built on leaving
            bulk_build_s = time.perf_counter() - loaded
        disk, disk_bytes = _disk(Path(target), Path(folder), db)
        if db is None:
            for sidecar in Path(folder).glob("scale.db.vectors*"):
                sidecar.unlink()  # no saved index: the next open rebuilds it from the store
        started = time.perf_counter()
        ms = MemorySpace.open(target, embedder=embedder)
        try:
            ms.index.search(query_vectors[0], 10)  # an index built lazily is built here
            ms.index.wait_for_build()  # an HNSW graph is built in the background: time it all
            rebuild_s = time.perf_counter() - started
            keys = np.sort(
                ms.backing.filter_keys(Filter(include_expired=True, include_archived=True), now=0.0)
            )
            dense, sparse, hybrid, recalls = [], [], [], []
            for question, vector in zip(questions, query_vectors, strict=True):
                t0 = time.perf_counter()
                found, _ = ms.index.search(vector, 10)
                t1 = time.perf_counter()
                ms.store.text_search(query_terms(question), 10)
                t2 = time.perf_counter()
                ms.search(question, k=10, min_score=0.0)
                t3 = time.perf_counter()
                rows = np.searchsorted(keys, found).tolist()
                recalls.append(recall(rows, exact_top(vectors, vector, 10)))
                dense.append((t1 - t0) * 1000)
                sparse.append((t2 - t1) * 1000)
                hybrid.append((t3 - t2) * 1000)
            index_kind = ms.index.kind
        finally:
            ms.close()
    row: dict[str, Any] = {
        "system": "memoryspace",
        "n": inputs.n,
        "vectors": inputs.vectors_label,
        "index": index_kind,
        "add_mode": add_mode,
        "add_per_s": inputs.n / add_s,
        "bulk_index_build_s": bulk_build_s,
        "add_batch_max_ms": max(batch_ms),
        "add_batch_p50_ms": percentiles(batch_ms)[0],
        "index_build_s": rebuild_s,
        "dense_p50_ms": percentiles(dense)[0],
        "dense_p99_ms": percentiles(dense)[1],
        "dense_recall_at_10": float(np.mean(recalls)),
        "bm25_p50_ms": percentiles(sparse)[0],
        "bm25_p99_ms": percentiles(sparse)[1],
        "hybrid_p50_ms": percentiles(hybrid)[0],
        "hybrid_p99_ms": percentiles(hybrid)[1],
        "disk_bytes_per_memory": None if disk_bytes is None else disk_bytes / inputs.n,
        "peak_rss_mb": peak_rss_mb(),
        "inputs_rss_mb": rss_inputs,
    }
    for part, size in (disk or {}).items():
        row[f"disk_{part}_per_memory"] = size / inputs.n
    return row
