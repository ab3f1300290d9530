"""Scale benchmark: add throughput, search latency, index build time and peak RSS.

    memoryspace bench scale --n 10000,100000 --out bench-out

Each size runs in a fresh child process on a fresh database file, so peak RSS is that size's.
Records are synthetic sentences (a Zipf-distributed vocabulary, seeded; queries are five of a
record's words outside the 100 commonest, which play the part of stopwords); their vectors come from
the hashing embedder and are computed before the clock starts ("precomputed"). Adding with
embedding is measured on a sample with the real embedder (MiniLM when installed). Dense search
times the vector index alone and is scored against exact search over the same vectors
(recall@10), since an approximate index's speed means little without it; sparse times FTS5 BM25
alone; hybrid times ``MemorySpace.search`` end to end with the hashing embedder for the query (a
MiniLM query embedding adds the "embed one query" time on top).
"""

from __future__ import annotations

import multiprocessing
import resource
import statistics
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from memoryspace.embed import CachedEmbedder, HashingEmbedder
from memoryspace.embed.resolve import resolve_embedder
from memoryspace.errors import BackendUnavailable
from memoryspace.models import Filter
from memoryspace.retrieval.terms import query_terms
from memoryspace.space import MemorySpace

_VOCABULARY_SIZE = 20_000
_SYLLABLES = ["ka", "lo", "mi", "ren", "to", "sa", "vel", "dor", "an", "qu", "is", "ber", "ul"]


@dataclass
class ScaleRow:
    n: int
    add_per_s_precomputed: float
    add_per_s_embedding: float
    embedder: str
    index_kind: str
    index_build_s: float
    dense_ms_p50: float
    dense_ms_p99: float
    dense_recall_at_10: float
    sparse_ms_p50: float
    sparse_ms_p99: float
    hybrid_ms_p50: float
    hybrid_ms_p99: float
    embed_query_ms_p50: float
    peak_rss_mb: float
    db_mb: float


def vocabulary(seed: int = 7) -> list[str]:
    rng = np.random.default_rng(seed)
    words: set[str] = set()
    while len(words) < _VOCABULARY_SIZE:
        words.add("".join(rng.choice(_SYLLABLES, size=int(rng.integers(2, 5)))))
    return sorted(words)


def sentences(n: int, seed: int = 11) -> list[str]:
    """``n`` synthetic sentences of 8–24 Zipf-distributed words."""
    words = vocabulary()
    rng = np.random.default_rng(seed)
    ranks = np.minimum(rng.zipf(1.2, size=n * 24), len(words)) - 1
    lengths = rng.integers(8, 25, size=n)
    out, at = [], 0
    for length in lengths:
        out.append(" ".join(words[r] for r in ranks[at : at + length]))
        at += length
    return out


def _commonest(texts: list[str], count: int) -> set[str]:
    tally: dict[str, int] = {}
    for text in texts[:5000]:
        for word in text.split():
            tally[word] = tally.get(word, 0) + 1
    return set(sorted(tally, key=lambda w: -tally[w])[:count])


def query_from(sentence: str, common: set[str]) -> str:
    """Up to five of the sentence's words outside the commonest: the Zipf head plays the part
    stopwords play in English, and real queries carry content words."""
    content = [w for w in sentence.split() if w not in common]
    return " ".join((content or sentence.split())[:5])


def _percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return statistics.median(ordered), p99


def run_size(n: int, queries: int, embed_sample: int, embedder_name: str) -> ScaleRow:
    """Measure one size in this process (call it in a child process)."""
    texts = sentences(n)
    common = _commonest(texts, 100)
    hashing = HashingEmbedder()
    vectors = np.vstack([hashing.embed(texts[i : i + 4096]) for i in range(0, n, 4096)])
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "scale.db"
        with MemorySpace.open(path, embedder=hashing) as ms:
            started = time.perf_counter()
            for at in range(0, n, 1000):
                ms.add_many(
                    [
                        {"content": t, "vector": v}
                        for t, v in zip(texts[at : at + 1000], vectors[at : at + 1000], strict=True)
                    ]
                )
            add_rate = n / (time.perf_counter() - started)
        for sidecar in Path(folder).glob("scale.db.vectors*"):
            sidecar.unlink()
        started = time.perf_counter()
        ms = MemorySpace.open(path, embedder=hashing)  # no saved index: rebuilt from the store
        build_s = time.perf_counter() - started
        try:
            rng = np.random.default_rng(3)
            picks = rng.integers(0, n, size=queries)
            questions = [query_from(texts[i], common) for i in picks]
            query_vectors = hashing.embed(questions)
            keys = np.sort(
                ms.backing.filter_keys(Filter(include_expired=True, include_archived=True), now=0.0)
            )
            dense, sparse, hybrid, recall = [], [], [], []
            for question, vector in zip(questions, query_vectors, strict=True):
                t0 = time.perf_counter()
                found, _ = ms.index.search(vector, 10)
                t1 = time.perf_counter()
                exact = keys[np.argpartition(-(vectors @ vector), 10)[:10]]
                recall.append(len(set(found.tolist()) & set(exact.tolist())) / 10)
                ms.store.text_search(query_terms(question), 10)
                t2 = time.perf_counter()
                ms.search(question, k=10, min_score=0.0)
                t3 = time.perf_counter()
                dense.append((t1 - t0) * 1000)
                sparse.append((t2 - t1) * 1000)
                hybrid.append((t3 - t2) * 1000)
            index_kind = ms.index.kind
        finally:
            ms.close()
        db_mb = sum(p.stat().st_size for p in Path(folder).iterdir() if p.is_file()) / 2**20
        real = resolve_embedder(embedder_name)
        if isinstance(real, CachedEmbedder):  # time the model, not the cache of earlier runs
            real = real.inner
        sample = texts[: min(embed_sample, n)]
        with MemorySpace.open(Path(folder) / "embedded.db", embedder=real) as embedded:
            started = time.perf_counter()
            for at in range(0, len(sample), 256):
                embedded.add_many(sample[at : at + 256])
            embed_rate = len(sample) / (time.perf_counter() - started)
            one = []
            for question in questions[:50]:
                t0 = time.perf_counter()
                real.embed([question])
                one.append((time.perf_counter() - t0) * 1000)
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return ScaleRow(
        n=n,
        add_per_s_precomputed=add_rate,
        add_per_s_embedding=embed_rate,
        embedder=real.model_id,
        index_kind=index_kind,
        index_build_s=build_s,
        dense_ms_p50=_percentiles(dense)[0],
        dense_ms_p99=_percentiles(dense)[1],
        dense_recall_at_10=statistics.mean(recall),
        sparse_ms_p50=_percentiles(sparse)[0],
        sparse_ms_p99=_percentiles(sparse)[1],
        hybrid_ms_p50=_percentiles(hybrid)[0],
        hybrid_ms_p99=_percentiles(hybrid)[1],
        embed_query_ms_p50=statistics.median(one),
        peak_rss_mb=peak_kb / 1024,
        db_mb=db_mb,
    )


def _child(n: int, queries: int, embed_sample: int, embedder: str, out: Any) -> None:
    out.send(asdict(run_size(n, queries, embed_sample, embedder)))
    out.close()


def run(
    sizes: list[int], *, queries: int = 200, embed_sample: int = 2000, embedder: str = "auto"
) -> list[dict[str, Any]]:
    """Every size in its own child process; returns one row (dict) per size."""
    context = multiprocessing.get_context("spawn")
    rows = []
    for n in sizes:
        receive, send = context.Pipe(duplex=False)
        child = context.Process(target=_child, args=(n, queries, embed_sample, embedder, send))
        child.start()
        send.close()
        try:
            row = receive.recv()
        except EOFError:
            child.join()
            raise BackendUnavailable(
                f"the benchmark process for n={n} died (exit code {child.exitcode}); "
                "a negative code is the signal that ended it"
            ) from None
        child.join()
        rows.append(row)
    return rows
