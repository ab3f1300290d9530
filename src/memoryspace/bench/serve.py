"""Load benchmark of the REST server: throughput and latency of ``add`` and ``search`` under
concurrent clients, with the query embedding cost measured apart.

    memoryspace bench serve --records 100000 --clients 16 --seconds 60 --out results/

Fills a fresh database in a temporary folder with ``records`` synthetic memories, starts
``memoryspace serve`` on it in a separate process on 127.0.0.1 (so the clients do not share its
interpreter), then runs ``clients`` threads for ``seconds`` each of searching and of adding.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from memoryspace.bench.metrics import percentile
from memoryspace.errors import BackendUnavailable, InvalidInput
from memoryspace.space import MemorySpace

MAX_RECORDS = 1_000_000
MAX_CLIENTS = 64
MAX_SECONDS = 600
Progress = Callable[[str, int, int], None]


def synthetic_texts(n: int, *, seed: int = 7) -> list[str]:
    """``n`` sentences of 8-16 words drawn from a fixed vocabulary of 5,000 pseudo-words."""
    rng = random.Random(seed)
    letters = "abcdefghijklmnopqrstuvwxyz"
    vocabulary = ["".join(rng.choices(letters, k=rng.randint(3, 9))) for _ in range(5_000)]
    return [" ".join(rng.choices(vocabulary, k=rng.randint(8, 16))) for _ in range(n)]


def _check(records: int, clients: int, seconds: float) -> None:
    if not 1 <= records <= MAX_RECORDS:
        raise InvalidInput(f"--records must be within 1..{MAX_RECORDS:,}")
    if not 1 <= clients <= MAX_CLIENTS:
        raise InvalidInput(f"--clients must be within 1..{MAX_CLIENTS}")
    if not 0 < seconds <= MAX_SECONDS:
        raise InvalidInput(f"--seconds must be within 0..{MAX_SECONDS}")


def _fill(db: Path, records: int, embedder: str, progress: Progress | None) -> float:
    """Add ``records`` memories in batches; returns the embedding rate of the fill (per s)."""
    texts = synthetic_texts(records)
    started = time.perf_counter()
    with MemorySpace.open(db, embedder=embedder) as space:
        for start in range(0, records, 1_000):
            batch = texts[start : start + 1_000]
            space.add_many([{"content": t, "user": f"u{i % 100}"} for i, t in enumerate(batch)])
            if progress is not None:
                progress("fill", min(start + 1_000, records), records)
    return records / (time.perf_counter() - started)


def _query_embedding(embedder: str, queries: list[str]) -> dict[str, Any]:
    """Embedding one query at a time, as a search does: rate and median cost."""
    with MemorySpace.open(":memory:", embedder=embedder) as space:
        space.embedder.embed(queries[:2])  # load the model first
        costs = []
        for query in queries:
            started = time.perf_counter()
            space.embedder.embed([query])
            costs.append(time.perf_counter() - started)
        return {
            "operation": f"embed one query ({space.embedder.model_id})",
            "clients": 1,
            "requests": len(costs),
            "per_second": round(len(costs) / sum(costs), 1),
            "p50_ms": round(percentile(costs, 50) * 1000, 3),
            "p99_ms": round(percentile(costs, 99) * 1000, 3),
            "errors": 0,
        }


def _start_server(db: Path, port: int, embedder: str) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "memoryspace", "serve", "--db", str(db), "--port", str(port)]
    env = {**os.environ, "MEMORYSPACE_EMBEDDER": embedder}
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.1)
        if process.poll() is not None:
            break
    process.kill()
    raise BackendUnavailable(
        "the benchmark server did not start; run `memoryspace serve` to see why"
    )


def _drive(
    url: str,
    operation: str,
    clients: int,
    seconds: float,
    texts: list[str],
    progress: Progress | None,
) -> dict[str, Any]:
    """``clients`` threads sending ``operation`` requests for ``seconds``."""
    latencies: list[list[float]] = [[] for _ in range(clients)]
    failures = [0] * clients
    stop = time.monotonic() + seconds

    def client(n: int) -> None:
        rng = random.Random(n)
        with httpx.Client(base_url=url, timeout=30) as http:
            while True:  # at least one request each, however late the thread starts
                words = rng.choice(texts).split()
                if operation == "search":
                    body = {"query": " ".join(words[:4]), "k": 10, "min_score": 0}
                    path = "/search"
                else:
                    body = {"content": " ".join(rng.sample(words, len(words))), "user": f"c{n}"}
                    path = "/memories"
                started = time.perf_counter()
                answer = http.post(path, json=body)
                latencies[n].append(time.perf_counter() - started)
                if answer.status_code >= 400:
                    failures[n] += 1
                if time.monotonic() >= stop:
                    return

    threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(clients)]
    begun = time.monotonic()
    for thread in threads:
        thread.start()
    while any(t.is_alive() for t in threads):
        if progress is not None:
            progress(
                operation,
                min(int((time.monotonic() - begun) * 10), int(seconds * 10)),
                int(seconds * 10),
            )
        time.sleep(0.2)
    elapsed = time.monotonic() - begun
    samples = [s for per_client in latencies for s in per_client]
    return {
        "operation": operation,
        "clients": clients,
        "requests": len(samples),
        "per_second": round(len(samples) / elapsed, 1),
        "p50_ms": round(percentile(samples, 50) * 1000, 2) if samples else float("nan"),
        "p99_ms": round(percentile(samples, 99) * 1000, 2) if samples else float("nan"),
        "errors": sum(failures),
    }


def run(
    records: int,
    clients: int,
    seconds: float,
    *,
    embedder: str = "hashing",
    progress: Progress | None = None,
) -> list[dict[str, Any]]:
    """One row per operation: search and add through the server, and query embedding alone.

    Raises:
        InvalidInput: a count or duration out of bounds.
        BackendUnavailable: the server did not start.
    """
    from memoryspace.server.run import free_port

    _check(records, clients, seconds)
    texts = synthetic_texts(min(records, 2_000), seed=11)
    with tempfile.TemporaryDirectory(prefix="memoryspace-bench-serve-") as folder:
        db = Path(folder) / "bench.db"
        _fill(db, records, embedder, progress)
        port = free_port()
        server = _start_server(db, port, embedder)
        try:
            url = f"http://127.0.0.1:{port}"
            rows = [_drive(url, op, clients, seconds, texts, progress) for op in ("search", "add")]
        finally:
            server.terminate()
            server.wait(timeout=30)
    rows.append(_query_embedding(embedder, [" ".join(t.split()[:4]) for t in texts[:200]]))
    for row in rows:
        row["records"] = records
    return rows
