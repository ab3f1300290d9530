"""Many writers on one PostgreSQL database: the LSN order is the commit order, and SIGKILL
never loses an acknowledged write nor leaves one half-written.

The writers are real processes (``workers/writer.py``) on the session's real server; a tailer
in this process follows ``changes(since)`` while they write, as another agent would.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from memoryspace import HashingEmbedder, MemorySpace
from memoryspace.store.postgres import PostgresStore

WORKERS = Path(__file__).parent / "workers"
CYCLES = int(os.environ.get("MEMORYSPACE_PG_CRASH_CYCLES", "8"))


def _writer(url: str, seed: int, *, wait_for: int = 1) -> tuple[subprocess.Popen[str], list[str]]:
    """A writer process, once it has acknowledged ``wait_for`` lines (so it did real work
    however loaded the machine is), and those lines."""
    proc = subprocess.Popen(
        [sys.executable, str(WORKERS / "writer.py"), url, str(seed)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    lines = []
    while len(lines) < wait_for:
        line = proc.stdout.readline()  # it is writing
        assert line, proc.stderr.read() if proc.stderr else "the writer printed nothing"
        lines.append(line.strip())
    return proc, lines


def _kill(proc: subprocess.Popen[str]) -> list[str]:
    """SIGKILL the writer; the ids it acknowledged (printed after ``add_many`` returned)."""
    proc.send_signal(signal.SIGKILL)
    out, _ = proc.communicate(timeout=30)
    return out.splitlines()


@pytest.mark.multiprocess
def test_a_tailer_sees_every_lsn_once_in_order_while_writers_race(pg_url: str) -> None:
    MemorySpace.open(pg_url, embedder=HashingEmbedder()).close()  # the schema, once
    writers = [_writer(pg_url, seed)[0] for seed in range(4)]
    seen: list[int] = []
    with PostgresStore(pg_url) as tail:
        try:
            deadline = time.monotonic() + 5.0
            while time.monotonic() < deadline:
                for change in tail.changes(seen[-1] if seen else 0):
                    seen.append(change.lsn)
        finally:
            for proc in writers:
                _kill(proc)
        seen.extend(c.lsn for c in tail.changes(seen[-1] if seen else 0))
        # A smaller LSN committing after a larger one would be skipped by the tailer: a gap.
        assert seen == list(range(1, len(seen) + 1))
        assert tail.last_lsn() == len(seen)
        writers_seen = {c.id.split("n")[0] for c in tail.changes()}
    assert len(writers_seen) == 4, "not every writer wrote while the others did"
    assert len(seen) > 100, "the writers did too little to race"


@pytest.mark.crash
def test_sigkill_never_loses_an_acknowledged_write_on_postgres(pg_url: str) -> None:
    rng = random.Random(4321)
    acknowledged: set[str] = set()
    updated: set[str] = set()
    touched: set[str] = set()  # an update began: either content may be stored
    for cycle in range(CYCLES):
        proc, first = _writer(pg_url, cycle, wait_for=3)
        time.sleep(rng.uniform(0.0, 0.3))
        for line in [*first, *_kill(proc)]:
            if line.startswith("updating "):
                touched.add(line.split()[1])
            elif line.startswith("updated "):
                updated.add(line.split()[1])
            elif line:
                acknowledged.add(line)
    assert len(acknowledged) > CYCLES  # the writers did real work
    with MemorySpace.open(pg_url, embedder=HashingEmbedder()) as ms:
        stored = {m.id for m in ms.scan()}
        assert acknowledged <= stored, f"lost: {sorted(acknowledged - stored)[:5]}"
        for id in updated:
            assert ms.get(id).content == f"updated {id}"
        for id in touched - updated:  # killed during the update: all or nothing of it
            seed, serial = id[1:].split("n")
            assert ms.get(id).content in (f"token{seed}x{serial} cycle {seed}", f"updated {id}")
        ms.index.sync()
        assert len(ms.index) == len(stored)
        for id in random.Random(7).sample(sorted(acknowledged - touched), 10):
            seed, serial = id[1:].split("n")
            assert ms.search(f"token{seed}x{serial}", k=1)[0].memory.id == id
        # Nothing half-written: log adds equal the records, vectors match, LSNs are 1..n.
        changes = ms.changes()
        assert sum(1 for c in changes if c.op == "add") == len(stored)
        assert [c.lsn for c in changes] == list(range(1, len(changes) + 1))
        keys = [ms.store.key_of(id) for id in stored]
        assert len(ms.store.vectors(keys)) == len(stored)
