"""Many writers on one PostgreSQL database: 8 writer processes, half writing directly and
half through 2 ``memoryspace serve`` processes, all at once on the session's real server.
Every acknowledged write is stored exactly once, and the log's LSNs are gap-free, ordered
and each change's own; each server sees the others' writes through the change feed."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest

from memoryspace import HashingEmbedder, MemorySpace
from memoryspace.client import MemoryClient
from memoryspace.models import Filter, Op
from memoryspace.store.postgres import PostgresStore

WORKERS = Path(__file__).parent / "workers"
PER_WRITER = int(os.environ.get("MEMORYSPACE_PG_SCALE_WRITES", "25"))
ENV = {**os.environ, "MEMORYSPACE_EMBEDDER": "hashing"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _serve(url: str) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "memoryspace", "serve", "--db", url, "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=ENV,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(proc.stderr.read().decode() if proc.stderr else "serve exited")
        try:
            if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise AssertionError("memoryspace serve did not answer /health within 120 s")


@pytest.mark.multiprocess
def test_eight_writers_and_two_servers_lose_nothing_and_leave_no_lsn_gap(pg_url: str) -> None:
    MemorySpace.open(pg_url, embedder=HashingEmbedder()).close()  # the schema, once
    servers = [_serve(pg_url) for _ in range(2)]
    try:
        targets = [pg_url if n % 2 == 0 else servers[(n // 2) % 2][1] for n in range(8)]
        writers = [
            subprocess.Popen(
                [sys.executable, str(WORKERS / "scale_writer.py"), t, str(n), str(PER_WRITER)],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=ENV,
            )
            for n, t in enumerate(targets)
        ]
        acknowledged: list[str] = []
        updated: list[str] = []
        for proc in writers:
            out, err = proc.communicate(timeout=600)
            assert proc.returncode == 0, err
            lines = out.splitlines()
            assert lines[-1] == "done", err
            acknowledged += [line for line in lines[:-1] if not line.startswith("updated ")]
            updated += [line.split()[1] for line in lines[:-1] if line.startswith("updated ")]
        # Each server sees every writer's changes (its own, the other server's, the direct
        # writers') through the feed.
        for _, base in servers:
            with MemoryClient(base) as client:
                assert {c.id for c in client.changes(0) if c.op == Op.ADD} == set(acknowledged)
    finally:
        for proc, _ in servers:
            proc.terminate()
            proc.wait(timeout=60)
    assert len(acknowledged) == 8 * PER_WRITER == len(set(acknowledged))
    with PostgresStore(pg_url) as store:
        stored = [m.id for m in store.scan(Filter(include_archived=True, include_expired=True))]
        assert Counter(stored) == Counter(acknowledged)  # every acknowledged write, once
        changes = store.changes(0)
        lsns = [c.lsn for c in changes]
        assert lsns == list(range(1, len(lsns) + 1))  # gap-free, ordered, no duplicates
        assert Counter(c.op for c in changes) == {
            Op.ADD: len(acknowledged),
            Op.UPDATE: len(updated),
        }
        for id in set(updated):
            assert store.get(id).content == f"updated {id}"
            assert store.get(id).version == store.history(id)[-1].lsn
