"""Contract tests every ``VectorIndex`` passes, plus HNSW recall and the adaptive switch."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable

import numpy as np
import numpy.typing as npt
import pytest

import memoryspace.index
from memoryspace.errors import InvalidInput
from memoryspace.index import AdaptiveIndex, ExactIndex, HNSWIndex, VectorIndex

DIM = 16
# The contract is about behaviour, not recall (tested on its own below), so the HNSW indexes here
# search with a beam wider than any test index: HNSW then visits every node and is exact, and the
# tests stay deterministic although usearch's multi-threaded build is not.
WIDE = 512
Factory = Callable[[int], VectorIndex]
FACTORIES: dict[str, Factory] = {
    "exact": ExactIndex,
    "hnsw": lambda dimension: HNSWIndex(dimension, expansion_search=WIDE),
    "adaptive": lambda dimension: AdaptiveIndex(dimension, ann_threshold=8, expansion_search=WIDE),
}


def unit(rows: npt.ArrayLike) -> npt.NDArray[np.float32]:
    array = np.asarray(rows, dtype=np.float64)
    return (array / np.linalg.norm(array, axis=-1, keepdims=True)).astype(np.float32)


def random_unit(rng: np.random.Generator, count: int, dimension: int = DIM) -> np.ndarray:
    return unit(rng.standard_normal((count, dimension)))


def clustered(
    rng: np.random.Generator, count: int, dimension: int, clusters: int = 50
) -> np.ndarray:
    """Random but clustered unit vectors, closer to real embeddings than uniform noise."""
    centres = random_unit(rng, clusters, dimension)
    noise = rng.standard_normal((count, dimension)) * 0.35 / np.sqrt(dimension)
    return unit(centres[rng.integers(0, clusters, count)] + noise)


def brute_force(
    keys: np.ndarray, vectors: np.ndarray, query: np.ndarray, k: int
) -> tuple[list[int], np.ndarray]:
    """Ground truth computed independently of the indexes under test."""
    scores = vectors.astype(np.float64) @ query.astype(np.float64)
    order = np.argsort(-scores, kind="stable")[:k]
    return keys[order].tolist(), scores[order]


@pytest.fixture(params=sorted(FACTORIES))
def make(request: pytest.FixtureRequest) -> Factory:
    return FACTORIES[request.param]


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20240611)


@pytest.fixture
def filled(make: Factory, rng: np.random.Generator) -> tuple[VectorIndex, np.ndarray, np.ndarray]:
    """An index of 300 vectors under sparse, non-contiguous keys."""
    keys = np.arange(300, dtype=np.int64) * 7 + 1000
    vectors = random_unit(rng, 300)
    index = make(DIM)
    index.add(keys, vectors)
    return index, keys, vectors


# --- the contract -----------------------------------------------------------------------------


def test_empty_index_finds_nothing(make: Factory, rng: np.random.Generator) -> None:
    index = make(DIM)
    keys, scores = index.search(random_unit(rng, 1)[0], 5)
    assert (len(index), keys.dtype, scores.dtype, len(keys), len(scores)) == (
        0,
        np.int64,
        np.float32,
        0,
        0,
    )
    assert 1 not in index
    assert len(index.search(random_unit(rng, 1)[0], 5, allowed=np.array([1, 2]))[0]) == 0


def test_add_counts_and_contains(make: Factory, rng: np.random.Generator) -> None:
    index = make(DIM)
    index.add(np.array([10, 20, 30]), random_unit(rng, 3))
    assert len(index) == 3
    assert 20 in index and np.int64(30) in index
    assert 21 not in index and "20" not in index and None not in index


def test_add_replaces_an_existing_key(make: Factory, rng: np.random.Generator) -> None:
    index = make(DIM)
    old, new = random_unit(rng, 2)
    index.add(np.array([1, 2]), np.stack([old, random_unit(rng, 1)[0]]))
    index.add(np.array([1]), new[None, :])
    assert len(index) == 2
    keys, scores = index.search(new, 1)
    assert keys.tolist() == [1] and scores[0] == pytest.approx(1.0, abs=1e-5)
    keys, _ = index.search(old, 2)
    assert sorted(keys.tolist()) == [1, 2]


def test_a_key_repeated_in_one_add_keeps_its_last_vector(
    make: Factory, rng: np.random.Generator
) -> None:
    index = make(DIM)
    first, last, other = random_unit(rng, 3)
    index.add(np.array([5, 6, 5]), np.stack([first, other, last]))
    assert len(index) == 2
    keys, scores = index.search(last, 1)
    assert keys.tolist() == [5] and scores[0] == pytest.approx(1.0, abs=1e-5)


def test_remove_forgets_keys_and_ignores_unknown_ones(
    filled: tuple[VectorIndex, np.ndarray, np.ndarray],
) -> None:
    index, keys, vectors = filled
    gone = keys[::3]
    index.remove(np.concatenate([gone, [-1, 999_999]]))
    assert len(index) == len(keys) - len(gone)
    assert not any(int(key) in index for key in gone)
    assert all(int(key) in index for key in keys[1::3])
    for query in vectors[:30]:
        found, _ = index.search(query, 10)
        assert not set(found.tolist()) & set(gone.tolist())
    index.remove(np.array([], dtype=np.int64))
    assert len(index) == len(keys) - len(gone)


def test_removed_keys_can_come_back(make: Factory, rng: np.random.Generator) -> None:
    index = make(DIM)
    vectors = random_unit(rng, 20)
    keys = np.arange(20)
    index.add(keys, vectors)
    index.remove(keys)
    assert len(index) == 0 and len(index.search(vectors[0], 3)[0]) == 0
    index.add(keys[:5], vectors[10:15])
    assert len(index) == 5
    found, scores = index.search(vectors[12], 1)
    assert found.tolist() == [2] and scores[0] == pytest.approx(1.0, abs=1e-5)


def test_search_matches_ground_truth(
    filled: tuple[VectorIndex, np.ndarray, np.ndarray], rng: np.random.Generator
) -> None:
    index, keys, vectors = filled
    for query in random_unit(rng, 20):
        found, scores = index.search(query, 5)
        expected, expected_scores = brute_force(keys, vectors, query, 5)
        assert found.tolist() == expected
        np.testing.assert_allclose(scores, expected_scores, atol=1e-5)
        assert found.dtype == np.int64 and scores.dtype == np.float32


def test_search_after_removals_matches_ground_truth(
    filled: tuple[VectorIndex, np.ndarray, np.ndarray], rng: np.random.Generator
) -> None:
    index, keys, vectors = filled
    index.remove(keys[:150])
    for query in random_unit(rng, 10):
        found, _ = index.search(query, 5)
        assert found.tolist() == brute_force(keys[150:], vectors[150:], query, 5)[0]


def test_k_larger_than_the_index_returns_everything_best_first(
    make: Factory, rng: np.random.Generator
) -> None:
    index = make(DIM)
    keys, vectors = np.array([3, 1, 4, 15, 9]), random_unit(rng, 5)
    index.add(keys, vectors)
    query = random_unit(rng, 1)[0]
    found, scores = index.search(query, 50)
    assert found.tolist() == brute_force(keys, vectors, query, 5)[0]
    assert np.all(np.diff(scores) <= 0)


@pytest.mark.parametrize("share", [40, 250], ids=["few-allowed", "most-allowed"])
def test_allowed_returns_only_the_best_allowed_keys(
    filled: tuple[VectorIndex, np.ndarray, np.ndarray], rng: np.random.Generator, share: int
) -> None:
    index, keys, vectors = filled
    permitted = rng.choice(keys, share, replace=False)
    unknown = np.array([-5, 123_456_789])
    allowed = np.concatenate([permitted, permitted[:5], unknown])  # duplicates, unknown keys
    mask = np.isin(keys, permitted)
    for query in random_unit(rng, 20):
        found, scores = index.search(query, 8, allowed=allowed)
        assert set(found.tolist()) <= set(permitted.tolist())
        expected, expected_scores = brute_force(keys[mask], vectors[mask], query, 8)
        assert found.tolist() == expected
        np.testing.assert_allclose(scores, expected_scores, atol=1e-5)


def test_allowed_smaller_than_k_returns_just_those(
    filled: tuple[VectorIndex, np.ndarray, np.ndarray],
) -> None:
    index, keys, vectors = filled
    found, _ = index.search(vectors[0], 10, allowed=keys[[5, 9, 0]])
    assert sorted(found.tolist()) == sorted(keys[[0, 5, 9]].tolist())
    assert found[0] == keys[0]
    assert len(index.search(vectors[0], 10, allowed=np.array([], dtype=np.int64))[0]) == 0
    assert len(index.search(vectors[0], 10, allowed=np.array([-1, -2]))[0]) == 0


def test_negative_and_extreme_keys_round_trip(make: Factory, rng: np.random.Generator) -> None:
    index = make(DIM)
    keys = np.array([-5, -(2**63), 2**63 - 1, 0], dtype=np.int64)
    vectors = random_unit(rng, 4)
    index.add(keys, vectors)
    assert all(int(key) in index for key in keys)
    for key, vector in zip(keys.tolist(), vectors, strict=True):
        assert index.search(vector, 1)[0].tolist() == [key]
        assert index.search(vector, 1, allowed=keys[::-1])[0].tolist() == [key]
    index.remove(keys[:2])
    assert len(index) == 2 and -5 not in index and 2**63 - 1 in index


@pytest.mark.parametrize("name", ["hnsw", "adaptive"])
def test_key_minus_one_is_reserved(name: str, rng: np.random.Generator) -> None:
    """usearch marks free slots with the bit pattern of -1; it must never be stored."""
    index = FACTORIES[name](DIM)
    vectors = random_unit(rng, 2)
    with pytest.raises(InvalidInput, match="reserved"):
        index.add(np.array([3, -1]), vectors)
    assert len(index) == 0 and -1 not in index
    index.add(np.array([3]), vectors[:1])
    index.remove(np.array([-1]))
    assert len(index) == 1
    assert index.search(vectors[1], 5, allowed=np.array([-1, 3]))[0].tolist() == [3]


def test_accepts_other_numeric_dtypes(make: Factory, rng: np.random.Generator) -> None:
    index = make(DIM)
    vectors = random_unit(rng, 3).astype(np.float64)
    index.add(np.array([1, 2, 3], dtype=np.int32), vectors)
    found, _ = index.search(vectors[1], 1, allowed=np.array([2, 3], dtype=np.uint16))
    assert found.tolist() == [2]


BAD_ADDS = {
    "wrong dimension": (np.array([1]), np.ones((1, DIM + 1))),
    "1-D vectors": (np.array([1]), np.ones(DIM)),
    "NaN": (np.array([1, 2]), np.stack([np.ones(DIM), np.full(DIM, np.nan)])),
    "infinity": (np.array([1]), np.full((1, DIM), np.inf)),
    "more keys than vectors": (np.array([1, 2]), np.ones((1, DIM))),
    "more vectors than keys": (np.array([1]), np.ones((2, DIM))),
    "float keys": (np.array([1.5]), np.ones((1, DIM))),
    "2-D keys": (np.array([[1]]), np.ones((1, DIM))),
    "text vectors": (np.array([1]), np.full((1, DIM), "x")),
}


@pytest.mark.parametrize("case", sorted(BAD_ADDS))
def test_bad_adds_raise_and_change_nothing(
    case: str, filled: tuple[VectorIndex, np.ndarray, np.ndarray]
) -> None:
    index, keys, vectors = filled
    bad_keys, bad_vectors = BAD_ADDS[case]
    with pytest.raises(InvalidInput):
        index.add(bad_keys, bad_vectors)
    assert len(index) == len(keys)
    assert index.search(vectors[7], 1)[0].tolist() == [keys[7]]


def test_bad_searches_raise(filled: tuple[VectorIndex, np.ndarray, np.ndarray]) -> None:
    index, _, vectors = filled
    query = vectors[0]
    for k in (0, -1, 1.5, True, "3"):
        with pytest.raises(InvalidInput):
            index.search(query, k)  # type: ignore[arg-type]
    for bad_query in (np.ones(DIM + 1), np.ones((1, DIM)), np.full(DIM, np.nan)):
        with pytest.raises(InvalidInput):
            index.search(bad_query.astype(np.float32), 3)
    with pytest.raises(InvalidInput):
        index.search(query, 3, allowed=np.array([1.0, 2.0]))
    with pytest.raises(InvalidInput):
        index.remove(np.array(["a"]))


def test_exact_index_filters_thousands_of_allowed_keys(rng: np.random.Generator) -> None:
    """Beyond a few thousand allowed keys ExactIndex switches from dict look-ups to np.isin."""
    keys, vectors = rng.permutation(20_000)[:6000].astype(np.int64), random_unit(rng, 6000, 8)
    index = ExactIndex(8)
    index.add(keys, vectors)
    permitted = keys[:5000]
    allowed = np.concatenate([permitted, permitted[:100], np.arange(30_000, 31_000)])
    for query in random_unit(rng, 5, 8):
        found, _ = index.search(query, 10, allowed=allowed)
        assert found.tolist() == brute_force(permitted, vectors[:5000], query, 10)[0]


# --- HNSW ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def clustered_5k() -> tuple[HNSWIndex, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    vectors = clustered(rng, 5000, 64)
    keys = np.arange(5000, dtype=np.int64) * 3 + 1
    queries = unit(vectors[rng.integers(0, 5000, 200)] + rng.normal(0, 0.05, (200, 64)))
    index = HNSWIndex(64)
    index.add(keys, vectors)
    return index, keys, vectors, queries


def test_hnsw_recall_at_10_is_at_least_0_9(
    clustered_5k: tuple[HNSWIndex, np.ndarray, np.ndarray, np.ndarray],
) -> None:
    index, keys, vectors, queries = clustered_5k
    hits = 0
    for query in queries:
        found, scores = index.search(query, 10)
        hits += len(set(found.tolist()) & set(brute_force(keys, vectors, query, 10)[0]))
        # Scores are real cosines of the returned keys, not raw usearch distances.
        np.testing.assert_allclose(scores, vectors[(found - 1) // 3] @ query, atol=1e-5)
    assert hits / (10 * len(queries)) >= 0.9


def test_hnsw_every_vector_is_reachable(
    clustered_5k: tuple[HNSWIndex, np.ndarray, np.ndarray, np.ndarray],
) -> None:
    """A node the graph cannot reach is a memory that can never be recalled."""
    index, keys, vectors, _ = clustered_5k
    nearest = [int(index.search(vector, 1)[0][0]) for vector in vectors]
    assert nearest == keys.tolist()


def test_hnsw_oversampled_filter_keeps_recall(
    clustered_5k: tuple[HNSWIndex, np.ndarray, np.ndarray, np.ndarray],
) -> None:
    """4000 of 5000 allowed is too many to score exactly, so HNSW oversamples and filters."""
    index, keys, vectors, queries = clustered_5k
    rng = np.random.default_rng(3)
    permitted = rng.choice(keys, 4000, replace=False)  # unsorted on purpose
    mask = np.isin(keys, permitted)
    hits = 0
    for query in queries[:50]:
        found, _ = index.search(query, 10, allowed=permitted)
        assert len(found) == 10 and set(found.tolist()) <= set(permitted.tolist())
        hits += len(set(found.tolist()) & set(brute_force(keys[mask], vectors[mask], query, 10)[0]))
    assert hits / 500 >= 0.9


def test_hnsw_filter_falls_back_to_exact_when_allowed_keys_are_mostly_absent(
    clustered_5k: tuple[HNSWIndex, np.ndarray, np.ndarray, np.ndarray],
) -> None:
    index, keys, _, queries = clustered_5k
    absent = np.arange(3000, dtype=np.int64) * 3 + 100_000
    allowed = np.concatenate([absent, keys[[10, 2000, 4999]]])
    found, _ = index.search(queries[0], 10, allowed=allowed)
    assert sorted(found.tolist()) == sorted(keys[[10, 2000, 4999]].tolist())


def test_hnsw_still_returns_k_when_the_graph_comes_up_short(
    monkeypatch: pytest.MonkeyPatch, rng: np.random.Generator
) -> None:
    """If graph traversal misses live nodes, the search falls back to usearch's exact scan."""
    index = HNSWIndex(DIM)
    keys, vectors = np.arange(100, dtype=np.int64), random_unit(rng, 100)
    index.add(keys, vectors)
    graph = index._index
    real_search = graph.search

    def lossy_search(query: np.ndarray, count: int, **options: bool) -> object:
        matches = real_search(query, count, **options)
        return matches if options.get("exact") else real_search(query, count // 2)

    monkeypatch.setattr(graph, "search", lossy_search)
    query = random_unit(rng, 1)[0]
    assert index.search(query, 10)[0].tolist() == brute_force(keys, vectors, query, 10)[0]


def test_hnsw_rejects_bad_options() -> None:
    for options in ({"connectivity": 1}, {"expansion_add": 0}, {"expansion_search": -3}):
        with pytest.raises(InvalidInput):
            HNSWIndex(DIM, **options)
    with pytest.raises(InvalidInput):
        HNSWIndex(0)


# --- AdaptiveIndex ------------------------------------------------------------------------------


def test_adaptive_switches_once_it_grows_past_the_threshold(rng: np.random.Generator) -> None:
    index = AdaptiveIndex(DIM, ann_threshold=50, expansion_search=WIDE)
    vectors = random_unit(rng, 60)
    keys = np.arange(60, dtype=np.int64)
    for key in range(50):
        index.add(keys[key : key + 1], vectors[key : key + 1])
    assert index.kind == "exact" and len(index) == 50
    queries = random_unit(rng, 10)
    before = [index.search(query, 5) for query in queries]
    index.add(keys[50:51], vectors[50:51])
    assert index.wait_for_build(timeout=60)
    assert index.kind == "hnsw" and len(index) == 51
    assert all(int(key) in index for key in keys[:51])
    for query, (found, scores) in zip(queries, before, strict=True):
        after_found, after_scores = index.search(query, 5, allowed=keys[:50])
        assert after_found.tolist() == found.tolist()
        np.testing.assert_allclose(after_scores, scores, atol=1e-5)
        expected = brute_force(keys[:51], vectors[:51], query, 5)[0]
        assert index.search(query, 5)[0].tolist() == expected  # the HNSW graph, unfiltered


def test_adaptive_switches_on_a_batch_and_never_back(rng: np.random.Generator) -> None:
    index = AdaptiveIndex(DIM, ann_threshold=50, expansion_search=WIDE)
    keys, vectors = np.arange(120, dtype=np.int64), random_unit(rng, 120)
    index.add(keys, vectors)
    assert index.wait_for_build(timeout=60)
    assert index.kind == "hnsw"
    index.remove(keys[10:])
    assert index.kind == "hnsw" and len(index) == 10
    query = random_unit(rng, 1)[0]
    assert index.search(query, 3)[0].tolist() == brute_force(keys[:10], vectors[:10], query, 3)[0]


def test_adaptive_threshold_zero_is_hnsw_from_the_first_vector(rng: np.random.Generator) -> None:
    index = AdaptiveIndex(DIM, ann_threshold=0)
    assert index.kind == "exact" and len(index) == 0
    index.add(np.array([1]), random_unit(rng, 1))
    assert index.wait_for_build(timeout=60)
    assert index.kind == "hnsw"


def test_adaptive_rejects_bad_settings() -> None:
    for threshold in (-1, 2.5, True):
        with pytest.raises(InvalidInput):
            AdaptiveIndex(DIM, ann_threshold=threshold)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        AdaptiveIndex(DIM, connectivty=8)  # a typo must not pass silently
    with pytest.raises(InvalidInput):
        AdaptiveIndex(DIM, connectivity=0)


def test_adaptive_wrap_keeps_the_backend(rng: np.random.Generator) -> None:
    hnsw = HNSWIndex(DIM, connectivity=8)
    hnsw.add(np.array([1, 2]), random_unit(rng, 2))
    wrapped = AdaptiveIndex.wrap(hnsw, ann_threshold=10)
    assert wrapped.kind == "hnsw" and len(wrapped) == 2
    assert wrapped.hnsw_options["connectivity"] == 8

    exact = ExactIndex(DIM)  # a bare ExactIndex accepts -1; it could never switch to HNSW
    exact.add(np.array([-1]), random_unit(rng, 1))
    with pytest.raises(InvalidInput, match="reserved"):
        AdaptiveIndex.wrap(exact)


# --- package surface ----------------------------------------------------------------------------


def test_exported_names() -> None:
    assert memoryspace.index.__all__ == [
        "AdaptiveIndex",
        "ExactIndex",
        "HNSWIndex",
        "VectorIndex",
        "load_index",
        "save_index",
    ]


def test_importing_the_package_does_not_import_usearch() -> None:
    code = "import sys, memoryspace.index; print('usearch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"
