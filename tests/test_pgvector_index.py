"""Dense search answered by PostgreSQL's HNSW index (``PgvectorIndex``) on the session's real
server: the default on PostgreSQL, the same hits and cosine scores as the in-process index,
filters honoured (exactly for few allowed keys, by an iterative index scan for many), and
another process's commits seen at once, with nothing to follow or rebuild."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from memoryspace import HashingEmbedder, MemorySpace, Settings
from memoryspace.errors import InvalidInput
from memoryspace.index.exact import ExactIndex
from memoryspace.models import Filter
from memoryspace.store.postgres import PostgresStore, vectors

TOPICS = ["cats", "dogs", "cello", "piano", "trains", "boats", "tea", "rain"]


# Vectors from which a dimension gets its HNSW index (exact scans below): small, so that the
# tests search both ways.
INDEXED_FROM = Settings(ann_threshold=64)


def _fill(ms: MemorySpace, n: int = 96, start: int = 0) -> None:
    ms.add_many(
        [
            {"content": f"note {i} about {TOPICS[i % len(TOPICS)]}", "user": f"u{i % 3}"}
            for i in range(start, start + n)
        ]
    )


def _agrees_with_exact(ms: MemorySpace) -> None:
    store = ms.backing
    assert isinstance(store, PostgresStore)
    exact = ExactIndex(ms.embedder.dimension)
    for keys, matrix in store.iter_vectors():
        exact.add(keys, matrix)
    for query in ["cello lessons", "a dog in the rain", "tea and boats"]:
        vector = ms.embedder.embed([query])[0]
        got_keys, got_scores = ms.index.search(vector, 10)
        _, want_scores = exact.search(vector, 10)
        # The same top 10 up to ties: the same scores, each the key's true cosine.
        np.testing.assert_allclose(got_scores, want_scores, atol=1e-5)
        stored = store.vectors([int(k) for k in got_keys])
        true = [float(stored[int(k)] @ vector) for k in got_keys]
        np.testing.assert_allclose(got_scores, true, atol=1e-5)


def test_postgres_searches_with_pgvector_by_default_and_agrees_with_the_memory_index(
    pg_url: str,
) -> None:
    with MemorySpace.open(pg_url, embedder=HashingEmbedder(), settings=INDEXED_FROM) as ms:
        _fill(ms, 48)
        assert ms.index.kind == "pgvector-exact"  # below the threshold: exact scans
        assert len(ms.index) == 48
        _agrees_with_exact(ms)
        _fill(ms, 48, start=48)  # past it: the HNSW index is built after the commit
        assert ms.index.kind == "pgvector-hnsw"
        assert len(ms.index) == 96
        _agrees_with_exact(ms)
        by_pgvector = [h.memory.id for h in ms.search("cello lessons", user="u1", k=5)]
    memory = Settings(vector_index="memory")
    with MemorySpace.open(pg_url, embedder=HashingEmbedder(), settings=memory) as ms:
        assert ms.index.kind != "pgvector-hnsw"
        assert [h.memory.id for h in ms.search("cello lessons", user="u1", k=5)] == by_pgvector


def test_filtered_dense_search_returns_only_allowed_keys(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with MemorySpace.open(pg_url, embedder=HashingEmbedder(), settings=INDEXED_FROM) as ms:
        _fill(ms)
        assert ms.index.kind == "pgvector-hnsw"
        store = ms.backing
        assert isinstance(store, PostgresStore)
        vector = ms.embedder.embed(["cello"])[0]
        allowed = np.sort(store.filter_keys(Filter(user="u2"), now=time.time()))
        exact_keys, exact_scores = ms.index.search(vector, 5, allowed)  # few: ranked exactly
        monkeypatch.setattr(vectors, "EXACT_UP_TO", 3)  # many keys: the iterative index scan
        scanned_keys, scanned_scores = ms.index.search(vector, 5, allowed)
        assert len(exact_keys) == 5 and set(exact_keys) <= set(allowed)
        assert len(scanned_keys) == 5 and set(scanned_keys) <= set(allowed)
        np.testing.assert_allclose(scanned_scores, exact_scores, atol=1e-5)  # same, up to ties
        assert len(ms.index.search(vector, 5, np.empty(0, dtype=np.int64))[0]) == 0


def test_another_process_write_is_found_at_once(pg_url: str) -> None:
    with MemorySpace.open(pg_url, embedder=HashingEmbedder()) as ms:
        _fill(ms, 16)
        assert ms.index.sync() == 0 and ms.index.save() is False  # nothing to follow or save
        code = (
            "import sys; from memoryspace import HashingEmbedder, MemorySpace\n"
            "with MemorySpace.open(sys.argv[1], embedder=HashingEmbedder()) as ms:\n"
            "    ms.add('a harpsichord in the attic', id='far', user='u0')\n"
        )
        subprocess.run([sys.executable, "-c", code, pg_url], check=True, timeout=120)
        vector = ms.embedder.embed(["harpsichord attic"])[0]
        keys, _ = ms.index.search(vector, 1)
        assert list(keys) == [ms.backing.key_of("far")]


def test_pgvector_is_refused_on_sqlite(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="needs a PostgreSQL database"):
        MemorySpace.open(
            tmp_path / "a.db",
            embedder=HashingEmbedder(),
            settings=Settings(vector_index="pgvector"),
        )
    with pytest.raises(InvalidInput, match="vector_index"):
        Settings(vector_index="faiss")  # type: ignore[arg-type]


def test_configure_vector_index_switches_the_open_handle_and_persists(pg_url: str) -> None:
    with MemorySpace.open(pg_url, embedder=HashingEmbedder()) as ms:
        _fill(ms, 32)
        before = [h.memory.id for h in ms.search("cello lessons", k=5)]
        ms.configure(vector_index="memory")
        assert ms.index.kind != "pgvector-hnsw"  # this handle, at once
        assert len(ms.index) == 32  # built from the store
        ms.add("a cello bow in its case", id="later")
        assert "later" in [h.memory.id for h in ms.search("cello bow case", k=3)]
        assert [h.memory.id for h in ms.search("cello lessons", k=5)][:1] == before[:1]
        ms.configure(vector_index="pgvector", pgvector_ef_search=40)
        assert ms.index.kind == "pgvector-exact"  # 33 vectors: below the threshold
        assert getattr(ms.index, "ef_search", None) == 40
    with MemorySpace.open(pg_url, embedder=HashingEmbedder()) as ms:  # stored for every process
        assert ms.settings.vector_index == "pgvector" and ms.index.kind == "pgvector-exact"
        assert getattr(ms.index, "ef_search", None) == 40


def test_configure_pgvector_on_sqlite_is_refused_and_changes_nothing(tmp_path: Path) -> None:
    with MemorySpace.open(tmp_path / "a.db", embedder=HashingEmbedder()) as ms:
        _fill(ms, 8)
        index = ms.index
        with pytest.raises(InvalidInput, match="needs a PostgreSQL database"):
            ms.configure(vector_index="pgvector")
        assert ms.index is index and ms.settings.vector_index == "auto"
        assert ms.backing.get_setting("shared.vector_index") is None
        ms.configure(vector_index="memory")  # the same provider here: kept, not rebuilt
        assert ms.index is index
