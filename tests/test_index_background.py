"""The switch from exact to HNSW search is built in the background and swapped in atomically.

The builder is held at a gate (a real ``threading.Event`` inside ``HNSWIndex.add``) so the tests
can write and search while a build is provably in progress; a real killed process checks that a
crash mid-build leaves a usable index.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from memoryspace.embed import HashingEmbedder
from memoryspace.index import AdaptiveIndex, HNSWIndex
from memoryspace.index.base import Keys, Vectors
from memoryspace.settings import Settings
from memoryspace.space import MemorySpace

DIM = 16
WIDE = 512  # a beam wider than the index: HNSW visits every node, so answers are exact


def unit_vectors(seed: int, count: int) -> np.ndarray:
    rows = np.random.default_rng(seed).standard_normal((count, DIM))
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def nearest(keys: list[int], vectors: np.ndarray, query: np.ndarray, k: int) -> list[int]:
    order = np.argsort(-(vectors.astype(np.float64) @ query), kind="stable")[:k]
    return [keys[i] for i in order]


class Gate:
    """Holds the first ``HNSWIndex.add`` of a build until ``open()``; records it was reached."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.reached, self.released = threading.Event(), threading.Event()
        real_add = HNSWIndex.add

        def gated_add(index: HNSWIndex, keys: Keys, vectors: Vectors) -> None:
            if not self.reached.is_set():
                self.reached.set()
                assert self.released.wait(60), "the test never opened the gate"
            real_add(index, keys, vectors)

        monkeypatch.setattr(HNSWIndex, "add", gated_add)

    def open(self) -> None:
        self.released.set()


@pytest.fixture
def gate(monkeypatch: pytest.MonkeyPatch) -> Iterator[Gate]:
    gate = Gate(monkeypatch)
    yield gate
    gate.open()  # never leave a builder thread waiting


def test_adds_and_searches_go_on_while_the_graph_is_built(gate: Gate) -> None:
    index = AdaptiveIndex(DIM, ann_threshold=50, expansion_search=WIDE)
    vectors = unit_vectors(1, 200)
    keys = list(range(1, 201))
    index.add(np.array(keys[:60]), vectors[:60])  # past the threshold: the build starts
    assert gate.reached.wait(30)
    assert index.building and index.kind == "exact"

    index.add(np.array(keys[60:]), vectors[60:])  # returns although the builder is held
    index.remove(np.array(keys[:10]))
    index.add(np.array([11]), vectors[199:200])  # a replaced vector must end up in the graph
    live_keys, live = keys[10:], vectors[10:].copy()
    live[0] = vectors[199]
    query = unit_vectors(2, 1)[0]
    assert index.search(query, 5)[0].tolist() == nearest(live_keys, live, query, 5)
    assert index.kind == "exact" and len(index) == 190

    gate.open()
    assert index.wait_for_build(timeout=60)
    assert index.kind == "hnsw" and index.builds == 1 and index.build_error is None
    assert len(index) == 190 and 1 not in index and 200 in index
    for seed in range(3, 8):
        query = unit_vectors(seed, 1)[0]
        found, scores = index.search(query, 5)
        assert found.tolist() == nearest(live_keys, live, query, 5)
        np.testing.assert_allclose(scores, np.sort(live @ query)[::-1][:5], atol=1e-5)


def test_a_failed_build_keeps_exact_search_and_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    real_add = HNSWIndex.add
    failures = [MemoryError("no room for the graph")]

    def failing_add(index: HNSWIndex, keys: Keys, vectors: Vectors) -> None:
        if failures:
            raise failures.pop()
        real_add(index, keys, vectors)

    monkeypatch.setattr(HNSWIndex, "add", failing_add)
    index = AdaptiveIndex(DIM, ann_threshold=20, expansion_search=WIDE)
    vectors = unit_vectors(3, 40)
    index.add(np.arange(30), vectors[:30])
    assert index.wait_for_build(timeout=60)
    assert index.kind == "exact" and isinstance(index.build_error, MemoryError)
    query = unit_vectors(4, 1)[0]
    assert index.search(query, 3)[0].tolist() == nearest(list(range(30)), vectors[:30], query, 3)

    index.add(np.arange(30, 40), vectors[30:])  # the next add past the threshold tries again
    assert index.wait_for_build(timeout=60)
    assert index.kind == "hnsw" and index.build_error is None and len(index) == 40


def test_cancel_leaves_the_exact_index(gate: Gate) -> None:
    index = AdaptiveIndex(DIM, ann_threshold=5)
    index.add(np.arange(20), unit_vectors(5, 20))
    assert gate.reached.wait(30)
    gate.open()
    index.cancel_build()
    assert not index.building and index.kind in ("exact", "hnsw")  # it may have won the race
    index.add(np.array([99]), unit_vectors(6, 1))
    assert 99 in index


def test_background_false_switches_inside_the_add() -> None:
    index = AdaptiveIndex(DIM, ann_threshold=5, background=False)
    index.add(np.arange(6), unit_vectors(7, 6))
    assert index.kind == "hnsw" and not index.building


def test_a_space_reopened_past_the_threshold_searches_while_it_builds(
    tmp_path: Path, gate: Gate
) -> None:
    path = tmp_path / "memory.db"
    texts = [f"note {i} about topic {i % 7} and item {i}" for i in range(80)]
    with MemorySpace.open(
        path, embedder=HashingEmbedder(), settings=Settings(ann_threshold=1000)
    ) as ms:
        ms.add_many(texts)
    for sidecar in tmp_path.glob("memory.db.vectors*"):
        sidecar.unlink()  # no saved index: the next open rebuilds from the store
    ms = MemorySpace.open(path, embedder=HashingEmbedder(), settings=Settings(ann_threshold=50))
    try:
        assert gate.reached.wait(30)
        assert ms.index.building and ms.index.kind == "exact"
        hits = ms.search("topic 3 item 10", k=3, min_score=0.0)
        assert hits and len(ms.index) == 80
    finally:
        gate.open()
        ms.close()  # waits for the build and saves the graph
    with MemorySpace.open(
        path, embedder=HashingEmbedder(), settings=Settings(ann_threshold=50)
    ) as ms:
        assert ms.index.kind == "hnsw" and not ms.index.rebuilt and len(ms.index) == 80


KILLED_MID_BUILD = """
import sys
import numpy as np
from memoryspace.embed import HashingEmbedder
from memoryspace.settings import Settings
from memoryspace.space import MemorySpace

ms = MemorySpace.open(sys.argv[1], embedder=HashingEmbedder(), settings=Settings(ann_threshold=100))
ms.add_many([f"record {i} of the crash test, topic {i % 13}" for i in range(4000)])
ms.index.save()  # what a checkpoint or an earlier close would have written: the exact index
print("building" if ms.index.building else "built", flush=True)
ms.add_many([f"late record {i}" for i in range(50)])
while True:
    pass  # the parent kills this process while the graph is (most likely) being built
"""


@pytest.mark.crash
def test_a_process_killed_mid_build_leaves_a_usable_index(tmp_path: Path) -> None:
    path = tmp_path / "memory.db"
    script = tmp_path / "killed.py"
    script.write_text(KILLED_MID_BUILD)
    proc = subprocess.Popen(
        [sys.executable, str(script), str(path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        proc.kill()
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert line in ("building", "built"), line

    settings = Settings(ann_threshold=100)
    with MemorySpace.open(path, embedder=HashingEmbedder(), settings=settings) as ms:
        assert not ms.index.rebuilt  # the saved index was intact and caught up from the log
        total = ms.count()
        assert total >= 4000 and len(ms.index) == total
        hits = ms.search("record 17 of the crash test", k=5, min_score=0.0)
        assert any(hit.memory.content == "record 17 of the crash test, topic 4" for hit in hits)
        assert ms.index.wait_for_build(timeout=300) and ms.index.kind == "hnsw"
        assert len(ms.index) == total
