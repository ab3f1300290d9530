"""The vector index saved after adds in the background, from a frozen copy (issue 16): no add
waits for the file, ``close`` finishes a running save, and a process killed mid-save leaves the
previous file, which the next open loads and catches up from the log."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from memoryspace import MemorySpace, Settings
from memoryspace.embed.hashing import HashingEmbedder
from memoryspace.index import AdaptiveIndex, HNSWIndex, persist
from memoryspace.index.exact import ExactSnapshot
from memoryspace.retrieval.synced import SyncedIndex


def _records(start: int, count: int) -> list[str]:
    return [f"record {i} about topic {i % 11} and more words {i * 7}" for i in range(start, count)]


def test_frozen_copies_do_not_follow_later_writes() -> None:
    index = AdaptiveIndex(4, ann_threshold=10, background=False)
    index.add(np.arange(5), np.eye(5, 4, dtype=np.float32) + 0.1)
    exact = index.frozen()
    assert isinstance(exact, ExactSnapshot) and len(exact) == 5
    index.add(np.arange(5, 20), np.ones((15, 4), dtype=np.float32))  # switches to HNSW
    index.remove(np.array([0]))
    assert len(exact) == 5 and exact.export()[0].tolist() == [0, 1, 2, 3, 4]
    graph = index.frozen()
    assert isinstance(graph, HNSWIndex) and len(graph) == 19
    index.add(np.array([99]), np.ones((1, 4), dtype=np.float32))
    assert len(graph) == 19 and 99 not in graph and 99 in index


def test_the_add_that_crosses_the_mark_does_not_wait_for_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "m.db"
    started, release = threading.Event(), threading.Event()
    write_payload = persist._write_payload

    def slow_payload(*args: Any) -> dict[str, Any]:
        started.set()
        assert release.wait(60)  # the file write takes as long as the test wants
        return write_payload(*args)

    monkeypatch.setattr(persist, "_write_payload", slow_payload)
    settings = Settings(index_save_every=100, ann_threshold=10_000)
    ms = MemorySpace.open(path, embedder=HashingEmbedder(), settings=settings)
    try:
        ms.add_many(_records(0, 150))  # past the mark: a save starts and blocks in the thread
        assert started.wait(30)
        assert isinstance(ms.index, SyncedIndex) and ms.index.unsaved > 0
        ms.add_many(_records(150, 400))  # adds and searches go on while the file is written
        assert ms.search("record 321 about topic 2", k=1)[0].memory.content.startswith(
            "record 321 "
        )
        assert not ms.index.save_in_background()  # one save at a time
    finally:
        release.set()
        ms.close()  # waits for the running save, then saves the rest
    with MemorySpace.open(path, embedder=HashingEmbedder(), settings=settings) as ms:
        assert not ms.index.rebuilt and len(ms.index) == 400
        assert ms.index.lsn == ms.store.last_lsn()


KILLED_MID_SAVE = """
import sys, time
from memoryspace.embed import HashingEmbedder
from memoryspace.index import persist
from memoryspace.settings import Settings
from memoryspace.space import MemorySpace

settings = Settings(index_save_every=100, ann_threshold=10_000)
ms = MemorySpace.open(sys.argv[1], embedder=HashingEmbedder(), settings=settings)
ms.add_many([f"early record {i} of the crash test" for i in range(300)])
ms.index.save()  # the previous file: 300 vectors

def commit_never(target, content):  # the new payload is written, the manifest not yet
    print("saving", flush=True)
    time.sleep(600)

persist._write_atomically = commit_never
ms.add_many([f"late record {i} of the crash test" for i in range(300)])
ms.add_many([f"last record {i} of the crash test" for i in range(100)])
ms.index.wait_for_save()
"""


@pytest.mark.crash
def test_a_process_killed_mid_save_leaves_the_previous_file(tmp_path: Path) -> None:
    path = tmp_path / "memory.db"
    script = tmp_path / "killed.py"
    script.write_text(KILLED_MID_SAVE)
    proc = subprocess.Popen(
        [sys.executable, str(script), str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None and proc.stderr is not None
        line = proc.stdout.readline().strip()
        assert line == "saving", proc.stderr.read()
        proc.kill()
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    manifest = path.with_name(path.name + ".vectors")
    assert '"count": 300' in manifest.read_text()  # the previous file, untouched
    settings = Settings(index_save_every=100, ann_threshold=10_000)
    with MemorySpace.open(path, embedder=HashingEmbedder(), settings=settings) as ms:
        assert not ms.index.rebuilt  # loaded, then caught up from the log
        assert len(ms.index) == ms.count() >= 600
        hit = ms.search("late record 17 of the crash test", k=1, min_score=0.0)[0]
        assert hit.memory.content == "late record 17 of the crash test"
    payloads = [p.name for p in tmp_path.iterdir() if p.name.endswith(".exact")]
    assert len(payloads) == 1  # the close's save swept the dead save's payload
