"""EmbeddingCache and CachedEmbedder on real SQLite files."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from memoryspace.embed import (
    CachedEmbedder,
    Embedder,
    EmbeddingCache,
    HashingEmbedder,
    default_cache_path,
)
from memoryspace.embed.base import Vectors
from memoryspace.errors import BackendUnavailable, InvalidInput

MODEL = "hashing-8-v1"
ROW_BYTES = 8 * 4 + 32 + len(MODEL)  # vector blob + sha256 key + model id, as stats() counts


class CountingEmbedder:
    """Wraps HashingEmbedder and counts how often each text is embedded."""

    def __init__(self, dimension: int = 8) -> None:
        self.inner = HashingEmbedder(dimension=dimension)
        self.counts: Counter[str] = Counter()
        self.calls = 0
        self.lock = threading.Lock()

    @property
    def model_id(self) -> str:
        return self.inner.model_id

    @property
    def dimension(self) -> int:
        return self.inner.dimension

    def embed(self, texts: Sequence[str]) -> Vectors:
        with self.lock:
            self.calls += 1
            self.counts.update(texts)
        return self.inner.embed(texts)


def vectors_for(texts: Sequence[str]) -> Vectors:
    return HashingEmbedder(dimension=8).embed(texts)


def test_get_put_round_trip_in_memory() -> None:
    with EmbeddingCache(None) as cache:
        texts = ["a", "b"]
        assert cache.get_many(MODEL, texts) == [None, None]
        cache.put_many(MODEL, texts, vectors_for(texts))
        got = cache.get_many(MODEL, ["b", "missing", "a"])
        assert got[1] is None
        assert got[0] is not None and got[2] is not None
        np.testing.assert_array_equal(got[0], vectors_for(["b"])[0])
        np.testing.assert_array_equal(got[2], vectors_for(["a"])[0])
        assert got[0].dtype == np.float32
        stats = cache.stats()
        assert (stats.hits, stats.misses, stats.entries) == (2, 3, 2)
        assert stats.bytes == 2 * ROW_BYTES


def test_models_do_not_share_vectors() -> None:
    with EmbeddingCache(None) as cache:
        cache.put_many(MODEL, ["a"], vectors_for(["a"]))
        assert cache.get_many("other-model", ["a"]) == [None]


def test_put_replaces_and_keeps_totals_right() -> None:
    with EmbeddingCache(None) as cache:
        cache.put_many(MODEL, ["a"], vectors_for(["a"]))
        cache.put_many(MODEL, ["a"], vectors_for(["b"]))
        (got,) = cache.get_many(MODEL, ["a"])
        assert got is not None
        np.testing.assert_array_equal(got, vectors_for(["b"])[0])
        assert cache.stats().entries == 1
        assert cache.stats().bytes == ROW_BYTES


def test_persists_across_reopen(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "embeddings.sqlite"
    texts = [f"text {i}" for i in range(50)]
    with EmbeddingCache(path) as cache:
        cache.put_many(MODEL, texts, vectors_for(texts))
    with EmbeddingCache(path) as cache:
        got = cache.get_many(MODEL, texts)
        assert cache.stats().entries == 50
    assert all(vector is not None for vector in got)
    np.testing.assert_array_equal(np.vstack(got), vectors_for(texts))  # type: ignore[arg-type]


def test_evicts_least_recently_used_beyond_max_entries(tmp_path: Path) -> None:
    with EmbeddingCache(tmp_path / "c.sqlite", max_entries=3) as cache:
        for text in ["a", "b", "c"]:
            cache.put_many(MODEL, [text], vectors_for([text]))
        cache.get_many(MODEL, ["a"])  # "a" is now more recent than "b" and "c"
        cache.put_many(MODEL, ["d"], vectors_for(["d"]))
        assert cache.stats().entries == 3
        present = [v is not None for v in cache.get_many(MODEL, ["a", "b", "c", "d"])]
        assert present == [True, False, True, True]


def test_a_large_write_is_culled_to_the_bound(tmp_path: Path) -> None:
    texts = [f"t{i}" for i in range(2500)]  # more than one cull batch
    with EmbeddingCache(tmp_path / "c.sqlite", max_entries=100) as cache:
        cache.put_many(MODEL, texts[:100], vectors_for(texts[:100]))
        cache.put_many(MODEL, texts[100:], vectors_for(texts[100:]))
        assert cache.stats().entries <= 100
        assert cache.get_many(MODEL, ["t0"]) == [None]  # the older write went first


def test_evicts_beyond_max_bytes(tmp_path: Path) -> None:
    limit = 10 * ROW_BYTES + ROW_BYTES // 2
    with EmbeddingCache(tmp_path / "c.sqlite", max_bytes=limit) as cache:
        for i in range(30):
            cache.put_many(MODEL, [f"t{i}"], vectors_for([f"t{i}"]))
            assert cache.stats().bytes <= limit
        assert cache.stats().entries == 10
        assert cache.get_many(MODEL, ["t29"])[0] is not None
        assert cache.get_many(MODEL, ["t0"]) == [None]


def test_clear_empties_the_cache(tmp_path: Path) -> None:
    with EmbeddingCache(tmp_path / "c.sqlite") as cache:
        cache.put_many(MODEL, ["a", "b"], vectors_for(["a", "b"]))
        cache.clear()
        assert cache.get_many(MODEL, ["a", "b"]) == [None, None]
        assert (cache.stats().entries, cache.stats().bytes) == (0, 0)


def test_delete_many_forgets_one_models_texts_and_keeps_totals(tmp_path: Path) -> None:
    with EmbeddingCache(tmp_path / "c.sqlite") as cache:
        cache.put_many("m", ["a", "b", "c"], np.eye(3, dtype=np.float32))
        cache.put_many("other", ["a"], np.ones((1, 3), dtype=np.float32))
        before = cache.stats().bytes
        assert cache.delete_many("m", ["a", "b", "a", "missing"]) == 2
        assert cache.get_many("m", ["a", "b", "c"])[:2] == [None, None]
        assert cache.get_many("other", ["a"])[0] is not None
        stats = cache.stats()
        assert stats.entries == 2 and stats.bytes < before
        assert cache.delete_many("m", []) == 0


def test_wal_mode_on_files(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    with EmbeddingCache(path) as cache:
        cache.put_many(MODEL, ["a"], vectors_for(["a"]))
        assert (tmp_path / "c.sqlite-wal").exists()


def test_closed_cache_refuses() -> None:
    cache = EmbeddingCache(None)
    cache.close()
    cache.close()  # twice is fine
    with pytest.raises(BackendUnavailable, match="closed"):
        cache.get_many(MODEL, ["a"])


def test_not_a_database_is_backend_unavailable(tmp_path: Path) -> None:
    path = tmp_path / "junk.sqlite"
    path.write_bytes(b"this is not a sqlite file" * 100)
    with pytest.raises(BackendUnavailable, match="cannot open"):
        EmbeddingCache(path)


def test_put_rejects_mismatched_rows() -> None:
    with EmbeddingCache(None) as cache, pytest.raises(InvalidInput, match="one vector row"):
        cache.put_many(MODEL, ["a", "b"], vectors_for(["a"]))


def test_bounds_must_be_positive() -> None:
    with pytest.raises(InvalidInput):
        EmbeddingCache(None, max_entries=0)


def test_two_caches_share_one_file(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    with EmbeddingCache(path) as first, EmbeddingCache(path) as second:
        first.put_many(MODEL, ["shared"], vectors_for(["shared"]))
        assert second.get_many(MODEL, ["shared"])[0] is not None


def test_default_cache_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MEMORYSPACE_CACHE", str(tmp_path))
    assert default_cache_path() == tmp_path / "embeddings.sqlite"
    monkeypatch.delenv("MEMORYSPACE_CACHE")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert (
        default_cache_path() == tmp_path / "home" / ".cache" / "memoryspace" / "embeddings.sqlite"
    )


def test_cached_embedder_embeds_each_distinct_text_once(tmp_path: Path) -> None:
    inner = CountingEmbedder()
    with EmbeddingCache(tmp_path / "c.sqlite") as cache:
        embedder = CachedEmbedder(inner, cache)
        assert isinstance(embedder, Embedder)
        assert (embedder.model_id, embedder.dimension) == (inner.model_id, 8)
        first = embedder.embed(["a", "b", "a", "c", "b"])
        second = embedder.embed(["c", "a", "d", "d"])
        assert inner.counts == Counter({"a": 1, "b": 1, "c": 1, "d": 1})
        assert inner.calls == 2
        embedder.embed(["a", "b", "c", "d"])
        assert inner.calls == 2  # everything was cached: the inner embedder was not called
    np.testing.assert_array_equal(first, vectors_for(["a", "b", "a", "c", "b"]))
    np.testing.assert_array_equal(second, vectors_for(["c", "a", "d", "d"]))
    assert first.dtype == np.float32


def test_cached_embedder_survives_reopen(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    with EmbeddingCache(path) as cache:
        CachedEmbedder(CountingEmbedder(), cache).embed(["persisted"])
    inner = CountingEmbedder()
    with EmbeddingCache(path) as cache:
        CachedEmbedder(inner, cache).embed(["persisted"])
    assert inner.calls == 0


def test_cached_embedder_empty_batch() -> None:
    inner = CountingEmbedder()
    with EmbeddingCache(None) as cache:
        assert CachedEmbedder(inner, cache).embed([]).shape == (0, 8)
    assert inner.calls == 0


def test_cached_embedder_rejects_non_strings() -> None:
    with EmbeddingCache(None) as cache, pytest.raises(InvalidInput):
        CachedEmbedder(CountingEmbedder(), cache).embed(["a", 1])  # type: ignore[list-item]


def test_threads_share_a_cache(tmp_path: Path) -> None:
    inner = CountingEmbedder()
    errors: list[BaseException] = []
    results: dict[int, Vectors] = {}
    texts = [f"text {i % 40}" for i in range(120)]
    with EmbeddingCache(tmp_path / "c.sqlite", max_entries=1000) as cache:
        embedder = CachedEmbedder(inner, cache)

        def work(n: int) -> None:
            try:
                for start in range(0, len(texts), 10):
                    results[n * 1000 + start] = embedder.embed(texts[start : start + 10])
            except BaseException as exc:  # surfaced below: a thread cannot fail the test
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(n,)) for n in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert cache.stats().entries == 40
    expected = vectors_for(texts)
    for key, got in results.items():
        start = key % 1000
        np.testing.assert_array_equal(got, expected[start : start + 10])
    assert set(inner.counts) == set(texts)
    # Racing threads may embed a new text at the same moment, but never more often than that.
    assert max(inner.counts.values()) <= len(threads)
