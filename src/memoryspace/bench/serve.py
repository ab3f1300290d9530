"""Load benchmark of the REST server: throughput and latency of ``add`` and ``search`` under
concurrent clients, with the query embedding cost measured apart.

    memoryspace bench serve --records 100000 --clients 16 --seconds 60 --workers 2 --out results/

For the baseline size (``--baseline-records``, 10,000) and then for ``records``: fills a
database (a fresh one in a temporary folder, or the one at ``--db``, topped up to ``records``
and kept, so a large fill is paid once), starts ``memoryspace serve`` on it in separate
processes on 127.0.0.1 (so the clients do not share its interpreter), drives it with
``clients`` threads for ``seconds`` of searches with one worker process and with ``workers``,
then ``seconds`` of adds with ``workers``. Each row gives the server's CPU time per request
(all its processes) and the load average, since the machine's other jobs share the cores.
The fill spreads the memories over ``FILL_USERS`` users and each client searches as one of
them (``user=...``), as an agent serving a user does (the common case; a key scoped to
``user:NAME`` searches the same way); ``scoped=False`` searches every memory instead.
Queries are the first words of 2,000 synthetic sentences, so after the first pass a
worker's query-vector cache holds them all: the searches measure the "query vectors cached"
case; the last rows give the cost of embedding one query with the chosen embedder and with
MiniLM when it is installed.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from memoryspace import validate
from memoryspace.bench.metrics import percentile
from memoryspace.embed.minilm import minilm_missing
from memoryspace.embed.resolve import resolve_embedder
from memoryspace.errors import BackendUnavailable, InvalidInput
from memoryspace.space import MemorySpace

MAX_RECORDS = 1_000_000
MAX_CLIENTS = 64
MAX_SECONDS = 600
FILL_USERS = 100  # the fill's memories belong to users u0 .. u99, in turn
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


def _fill(db: Path, records: int, embedder: str, progress: Progress | None) -> int:
    """Top the database up to ``records`` memories in batches; returns how many it holds."""
    texts = synthetic_texts(records)
    with MemorySpace.open(db, embedder=embedder) as space:
        for start in range(space.count(), records, 1_000):
            batch = texts[start : start + 1_000]
            space.add_many(
                [{"content": t, "user": f"u{i % FILL_USERS}"} for i, t in enumerate(batch)]
            )
            if progress is not None:
                progress(f"fill {records:,}", min(start + 1_000, records), records)
        return space.count()


def _query_embedding(embedder: str, queries: list[str]) -> dict[str, Any]:
    """Embedding one query at a time, as a search does (no cache): rate and median cost."""
    inner = resolve_embedder(embedder)
    model = getattr(inner, "inner", inner)  # MiniLM's persistent cache would answer instead
    model.embed(queries[:2])  # load the model first
    costs = []
    for query in queries:
        started = time.perf_counter()
        model.embed([query])
        costs.append(time.perf_counter() - started)
    return {
        "operation": f"embed one query ({model.model_id}, uncached)",
        "workers": 0,
        "clients": 1,
        "requests": len(costs),
        "per_second": round(len(costs) / sum(costs), 1),
        "p50_ms": round(percentile(costs, 50) * 1000, 3),
        "p99_ms": round(percentile(costs, 99) * 1000, 3),
        "errors": 0,
        "server_cpu_ms": None,
        "load_1m": round(os.getloadavg()[0], 2),
    }


def _start_server(db: Path, port: int, embedder: str, workers: int) -> subprocess.Popen[bytes]:
    command = [
        *(sys.executable, "-m", "memoryspace", "serve", "--db", str(db), "--port", str(port)),
        *("--workers", str(workers), "--no-access-log"),
    ]
    env = {**os.environ, "MEMORYSPACE_EMBEDDER": embedder}
    process = subprocess.Popen(  # its own process group: _stop ends the workers with it
        command,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        if process.poll() is not None:
            break
        time.sleep(0.2)
    _stop(process)
    raise BackendUnavailable(
        "the benchmark server did not start; run `memoryspace serve` to see why"
    )


def _cpu_seconds(pid: int) -> float | None:
    """CPU time of a process and its children (the server's workers), or None without psutil."""
    try:
        import psutil
    except ImportError:
        return None
    try:
        parent = psutil.Process(pid)
        processes = [parent, *parent.children(recursive=True)]
        return sum(sum(p.cpu_times()[:2]) for p in processes)
    except psutil.Error:
        return None


def _drive(
    url: str,
    operation: str,
    clients: int,
    seconds: float,
    texts: list[str],
    progress: Progress | None,
    *,
    scoped: bool = True,
    timeout: float = 30.0,
) -> dict[str, Any]:
    """``clients`` threads sending ``operation`` requests for ``seconds``; with ``scoped``,
    client ``n`` searches as user ``u{n % FILL_USERS}``. A request without an answer within
    ``timeout`` seconds counts as an error (and its wait as its latency)."""
    latencies: list[list[float]] = [[] for _ in range(clients)]
    failures = [0] * clients
    stop = time.monotonic() + seconds

    def client(n: int) -> None:
        rng = random.Random(n)
        with httpx.Client(base_url=url, timeout=timeout) as http:
            while True:  # at least one request each, however late the thread starts
                words = rng.choice(texts).split()
                if operation == "search":
                    body = {"query": " ".join(words[:4]), "k": 10, "min_score": 0}
                    if scoped:
                        body["user"] = f"u{n % FILL_USERS}"
                    path = "/search"
                else:
                    body = {"content": " ".join(rng.sample(words, len(words))), "user": f"c{n}"}
                    path = "/memories"
                started = time.perf_counter()
                try:
                    failed = http.post(path, json=body).status_code >= 400
                except httpx.HTTPError:  # e.g. no answer within the timeout: counted, not fatal
                    failed = True
                latencies[n].append(time.perf_counter() - started)
                failures[n] += failed
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
        "operation": f"{operation} (one user)" if scoped and operation == "search" else operation,
        "clients": clients,
        "requests": len(samples),
        "per_second": round(len(samples) / elapsed, 1),
        "p50_ms": round(percentile(samples, 50) * 1000, 2) if samples else float("nan"),
        "p99_ms": round(percentile(samples, 99) * 1000, 2) if samples else float("nan"),
        "errors": sum(failures),
    }


def _serve_and_drive(
    db: Path,
    embedder: str,
    workers: int,
    operations: tuple[str, ...],
    clients: int,
    seconds: float,
    texts: list[str],
    progress: Progress | None,
    scoped: bool,
) -> list[dict[str, Any]]:
    """Rows of ``operations`` driven against ``memoryspace serve --workers N`` on ``db``."""
    from memoryspace.server.run import free_port

    port = free_port()
    server = _start_server(db, port, embedder, workers)
    rows = []
    try:
        url = f"http://127.0.0.1:{port}"
        # Warm up: every worker loads its index and fills its query-vector cache.
        _drive(url, "search", clients, min(seconds, 10.0), texts, None, scoped=scoped)
        for operation in operations:
            cpu_before = _cpu_seconds(server.pid)
            driven = _drive(url, operation, clients, seconds, texts, progress, scoped=scoped)
            row = {"workers": workers, **driven}
            cpu_after = _cpu_seconds(server.pid)
            row["server_cpu_ms"] = (
                None
                if cpu_before is None or cpu_after is None or not row["requests"]
                else round((cpu_after - cpu_before) / row["requests"] * 1000, 2)
            )
            row["load_1m"] = round(os.getloadavg()[0], 2)
            rows.append(row)
    finally:
        _stop(server)
    return rows


def _stop(server: subprocess.Popen[bytes]) -> None:
    """Stop the server and its workers: politely (each saves its index), then by force."""
    server.terminate()
    try:
        server.wait(timeout=300)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait(timeout=60)


def run(
    records: int,
    clients: int,
    seconds: float,
    *,
    embedder: str = "hashing",
    workers: int = 2,
    baseline_records: int | None = 10_000,
    db: Path | None = None,
    scoped: bool = True,
    progress: Progress | None = None,
) -> list[dict[str, Any]]:
    """Rows per database size (``baseline_records``, then ``records``): search with one
    worker process and with ``workers``, add with ``workers``; then query embedding alone.
    ``scoped``: each client searches one user's memories (else all of them).

    Raises:
        InvalidInput: a count, duration or worker count out of bounds.
        BackendUnavailable: the server did not start.
    """
    _check(records, clients, seconds)
    if isinstance(workers, bool) or not isinstance(workers, int) or not 1 <= workers <= 16:
        raise InvalidInput("--workers must be within 1..16")
    scoped = validate.flag("scoped", scoped)
    sizes = sorted({records, *([baseline_records] if baseline_records else [])})
    for size in sizes:
        _check(size, clients, seconds)
    texts = synthetic_texts(min(records, 2_000), seed=11)
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="memoryspace-bench-serve-") as folder:
        for size in sizes:
            path = db if db is not None and size == records else Path(folder) / f"{size}.db"
            held = _fill(path, size, embedder, progress)
            for count in sorted({1, workers}):
                operations = ("search", "add") if count == workers else ("search",)
                for row in _serve_and_drive(
                    path, embedder, count, operations, clients, seconds, texts, progress, scoped
                ):
                    rows.append({"records": held, **row})
    queries = [" ".join(t.split()[:4]) for t in texts[:200]]
    names = [embedder] if embedder == "minilm" or minilm_missing() else [embedder, "minilm"]
    rows.extend({"records": None, **_query_embedding(name, queries)} for name in names)
    return rows
