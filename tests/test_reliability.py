"""Nothing acknowledged is lost: SIGKILL crash cycles and concurrent processes on one file."""

from __future__ import annotations

import json
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
from memoryspace.models import Filter

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
    touched: set[str] = set()  # an update began: either content may be stored
    for cycle in range(CYCLES):
        proc = subprocess.Popen(
            [sys.executable, str(WORKERS / "writer.py"), str(path), str(cycle)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout is not None
        first = [proc.stdout.readline() for _ in range(2)]  # wait until it is writing
        assert all(first), proc.stderr.read() if proc.stderr else "writer printed nothing"
        time.sleep(rng.uniform(0.0, 0.3))
        proc.send_signal(signal.SIGKILL)
        lines = [
            *(line.strip() for line in first),
            *_read_acknowledged(proc, time.monotonic() + 30),
        ]
        for line in lines:
            if line.startswith("updating "):
                touched.add(line.split()[1])
            elif line.startswith("updated "):
                updated.add(line.split()[1])
            elif line:
                acknowledged.add(line)
    assert len(acknowledged) > CYCLES  # the writers did real work

    with MemorySpace.open(path, embedder=HashingEmbedder()) as ms:
        stored = {m.id for m in ms.scan()}
        assert acknowledged <= stored, f"lost: {sorted(acknowledged - stored)[:5]}"
        for id in updated:
            assert ms.get(id).content == f"updated {id}"
        for id in touched - updated:  # killed during the update: all or nothing of it
            seed, serial = id[1:].split("n")
            assert ms.get(id).content in (f"token{seed}x{serial} cycle {seed}", f"updated {id}")
        # The vector index (loaded or rebuilt, then caught up) holds exactly the records.
        ms.index.sync()
        assert len(ms.index) == len(stored)
        # Every record can be found by its unique word through FTS and through its vector.
        sample = random.Random(7).sample(sorted(acknowledged - touched), 20)
        for id in sample:
            seed, serial = id[1:].split("n")
            hits = ms.search(f"token{seed}x{serial}", k=1)
            assert hits[0].memory.id == id
        # Nothing half-written: log adds minus deletes equals the records.
        adds = sum(1 for c in ms.changes() if c.op == "add")
        assert adds == len(stored)

    conn = sqlite3.connect(path)
    try:
        conn.execute("INSERT INTO memories_fts(memories_fts, rank) VALUES ('integrity-check', 1)")
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


def _tracked(ms: MemorySpace, ids: set[str]) -> dict[str, tuple[str, float]]:
    """(content, importance) of each of ``ids`` that exists (archived ones included)."""
    return {m.id: (m.content, m.importance) for m in ms.store.get_many(sorted(ids))}


def _apply(model: dict[str, tuple[str, float]], line: str, ms: MemorySpace) -> int:
    """Apply one acknowledgement of ``workers/every_op.py`` to the model; its LSN."""
    op, lsn, *rest = line.split(" ", 3)
    if op == "add":
        model[rest[0]] = (json.loads(rest[1]), 0.5)
    elif op == "edit":
        id, field, value = rest[0], *rest[1].split(" ", 1)
        content, importance = model[id]
        if field == "content":
            model[id] = (json.loads(value), importance)
        else:
            model[id] = (content, json.loads(value))
    elif op == "delete":
        del model[rest[0]]
    elif op == "restore":  # the state of the checkpoint's LSN, as the log tells it
        with ms.as_of(int(rest[0])) as past:
            model.clear()
            model.update(_tracked(past, set(_ever_added(ms))))
    return int(lsn)


def _ever_added(ms: MemorySpace) -> list[str]:
    return sorted({c.id for c in ms.changes() if c.op == "add" and c.id.startswith("c")})


@pytest.mark.crash
def test_sigkill_during_any_operation_keeps_every_acknowledged_change(tmp_path: Path) -> None:
    """Kills land in adds, edits, write-back flushes, deletes, GC, checkpoints and restores."""
    path = tmp_path / "ops.db"
    rng = random.Random(99)
    acknowledged = 0
    seen_ops: set[str] = set()
    for cycle in range(max(10, CYCLES // 2)):
        with MemorySpace.open(path, embedder=HashingEmbedder()) as ms:
            model = _tracked(ms, set(_ever_added(ms)))
            start_lsn = ms.lsn
        proc = subprocess.Popen(
            [sys.executable, str(WORKERS / "every_op.py"), str(path), str(cycle)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout is not None
        ready = proc.stdout.readline()
        assert ready.startswith("ready"), proc.stderr.read() if proc.stderr else ready
        time.sleep(rng.uniform(0.05, 1.5))
        proc.send_signal(signal.SIGKILL)
        lines = _read_acknowledged(proc, time.monotonic() + 30)
        with MemorySpace.open(path, embedder=HashingEmbedder()) as ms:
            last = start_lsn
            for line in lines:
                last = _apply(model, line, ms)
                seen_ops.add(line.split()[0])
            acknowledged += len(lines)
            assert ms.lsn >= last, "an acknowledged change is missing from the log"
            with ms.as_of(last) as then:  # everything acknowledged, as acknowledged
                assert _tracked(then, set(model)) == model
                assert {m.id for m in then.store.get_many(sorted(model))} == set(model)
            with ms.as_of(ms.lsn) as replayed:  # the live state is the log's state
                live = {
                    m.id: m.content_state()
                    for m in ms.store.scan(Filter(include_archived=True, include_expired=True))
                }
                again = {
                    m.id: m.content_state()
                    for m in replayed.store.scan(
                        Filter(include_archived=True, include_expired=True)
                    )
                }
                assert live == again
            ms.index.sync()
            assert len(ms.index) == ms.count(include_archived=True, include_expired=True)
        conn = sqlite3.connect(path)
        try:
            conn.execute(
                "INSERT INTO memories_fts(memories_fts, rank) VALUES ('integrity-check', 1)"
            )
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        finally:
            conn.close()
    assert acknowledged > 50
    assert {"add", "edit", "gc", "checkpoint"} <= seen_ops, seen_ops
    print(f"{acknowledged} acknowledged operations over {max(10, CYCLES // 2)} kills")
