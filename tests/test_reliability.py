"""Nothing acknowledged is lost: SIGKILL crash cycles and concurrent processes on one file."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from memoryspace import HashingEmbedder, MemorySpace

WORKERS = Path(__file__).parent / "workers"
CYCLES = int(os.environ.get("MEMORYSPACE_CRASH_CYCLES", "50"))


def _read_acknowledged(proc: subprocess.Popen[str], deadline: float) -> list[str]:
    """Lines the writer printed before it died (they were acknowledged by add_many)."""
    assert proc.stdout is not None
    out, _ = proc.communicate(timeout=max(1.0, deadline - time.monotonic()))
    return out.splitlines()


@pytest.mark.crash
def test_sigkill_never_loses_an_acknowledged_write(tmp_path: Path) -> None:
    path = tmp_path / "crash.db"
    rng = random.Random(1234)
    acknowledged: set[str] = set()
    updated: set[str] = set()
    for cycle in range(CYCLES):
        proc = subprocess.Popen(
            [sys.executable, str(WORKERS / "writer.py"), str(path), str(cycle)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout is not None
        first = proc.stdout.readline()  # wait until it is writing
        assert first, proc.stderr.read() if proc.stderr else "writer printed nothing"
        time.sleep(rng.uniform(0.0, 0.3))
        proc.send_signal(signal.SIGKILL)
        lines = [first.strip(), *_read_acknowledged(proc, time.monotonic() + 30)]
        for line in lines:
            if line.startswith("updated "):
                updated.add(line.split()[1])
            elif line:
                acknowledged.add(line)
    assert len(acknowledged) > CYCLES  # the writers did real work

    with MemorySpace.open(path, embedder=HashingEmbedder()) as ms:
        stored = {m.id for m in ms.scan()}
        assert acknowledged <= stored, f"lost: {sorted(acknowledged - stored)[:5]}"
        for id in updated:
            assert ms.get(id).content == f"updated {id}"
        # The vector index (loaded or rebuilt, then caught up) holds exactly the records.
        ms.index.sync()
        assert len(ms.index) == len(stored)
        # Every record can be found by its unique word through FTS and through its vector.
        sample = random.Random(7).sample(sorted(acknowledged - updated), 20)
        for id in sample:
            seed, serial = id[1:].split("n")
            hits = ms.search(f"token{seed}x{serial}", k=1)
            assert hits[0].memory.id == id
        # Nothing half-written: log adds minus deletes equals the records.
        adds = sum(1 for c in ms.changes() if c.op == "add")
        assert adds == len(stored)

    conn = sqlite3.connect(path)
    try:
        conn.execute("INSERT INTO memories_fts(memories_fts) VALUES ('integrity-check')")
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        vectors = conn.execute("SELECT count(*) FROM vectors").fetchone()[0]
        assert vectors == len(stored)
    finally:
        conn.close()


@pytest.mark.multiprocess
def test_four_processes_share_one_file(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    with MemorySpace.open(path, embedder=HashingEmbedder()) as ms:
        ms.add("seed memory about topic0")
    per_worker = 60
    procs = [
        subprocess.Popen(
            [sys.executable, str(WORKERS / "mixed.py"), str(path), str(w), str(per_worker)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for w in range(4)
    ]
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        assert out.strip() == "ok"
    with MemorySpace.open(path, embedder=HashingEmbedder()) as ms:
        assert ms.count() == 1 + 4 * per_worker
        for worker in range(4):
            assert ms.count(user=f"u{worker}") == per_worker
        assert ms.search("worker3 note59", k=1)[0].memory.id == "w3n59"
        assert len(ms.index) == ms.count()
