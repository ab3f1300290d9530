"""Vector storage precision of the HNSW graph: float32 (``HNSWIndex``'s default) or float16
(``Settings``' default for new databases)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from memoryspace import MemorySpace, Settings
from memoryspace.embed.hashing import HashingEmbedder
from memoryspace.errors import InvalidInput
from memoryspace.index import AdaptiveIndex, HNSWIndex, load_index, save_index
from memoryspace.retrieval.synced import SyncedIndex
from memoryspace.settings import setting_key

DIM = 64
MODEL = "test-model"


def unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=-1, keepdims=True)).astype(np.float32)


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Clustered unit vectors (closer to embeddings than noise), keys and nearby queries."""
    rng = np.random.default_rng(11)
    centres = unit(rng.standard_normal((40, DIM)))
    noise = rng.standard_normal((4000, DIM)) * 0.35 / np.sqrt(DIM)
    vectors = unit(centres[rng.integers(0, 40, 4000)] + noise)
    keys = np.arange(4000, dtype=np.int64) * 5 + 3
    queries = unit(vectors[rng.integers(0, 4000, 150)] + rng.normal(0, 0.05, (150, DIM)))
    return keys, vectors, queries


def recall_at_10(
    index: HNSWIndex, keys: np.ndarray, vectors: np.ndarray, queries: np.ndarray
) -> float:
    hits = 0
    for query in queries:
        truth = keys[np.argsort(-(vectors.astype(np.float64) @ query), kind="stable")[:10]]
        hits += len(set(index.search(query, 10)[0].tolist()) & set(truth.tolist()))
    return hits / (10 * len(queries))


def test_float16_keeps_recall_and_real_cosines_in_half_the_file(
    data: tuple[np.ndarray, np.ndarray, np.ndarray], tmp_path: Path
) -> None:
    keys, vectors, queries = data
    built = {}
    for precision in ("float32", "float16"):
        index = HNSWIndex(DIM, precision=precision)
        index.add(keys, vectors)
        index.save(tmp_path / precision)
        built[precision] = index
        assert index.precision == precision
    half, full = built["float16"], built["float32"]
    assert (
        recall_at_10(half, keys, vectors, queries)
        >= recall_at_10(full, keys, vectors, queries) - 0.02
    )
    found, scores = half.search(queries[0], 10)
    np.testing.assert_allclose(scores, vectors[(found - 3) // 5] @ queries[0], atol=2e-3)
    # The filtered exact path reads float16 rows back as float32 cosines too.
    allowed = keys[::7]
    found, scores = half.search(queries[1], 5, allowed=allowed)
    assert set(found.tolist()) <= set(allowed.tolist())
    np.testing.assert_allclose(scores, vectors[(found - 3) // 5] @ queries[1], atol=2e-3)
    # The file holds each vector in 2 bytes a value instead of 4; the graph is the same size.
    saved = (tmp_path / "float32").stat().st_size - (tmp_path / "float16").stat().st_size
    assert saved == len(keys) * DIM * 2


@pytest.mark.parametrize("bad", ["int8", "f16", "", 16, None])
def test_an_unknown_precision_is_refused(bad: object) -> None:
    with pytest.raises(InvalidInput, match="float32"):
        HNSWIndex(DIM, precision=bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="float32"):
        AdaptiveIndex(DIM, precision=bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="vector_precision"):
        Settings(vector_precision=bad)  # type: ignore[arg-type]


def test_the_adaptive_switch_builds_at_the_chosen_precision(
    data: tuple[np.ndarray, np.ndarray, np.ndarray], tmp_path: Path
) -> None:
    keys, vectors, _ = data
    index = AdaptiveIndex(DIM, ann_threshold=100, precision="float16")
    index.add(keys[:500], vectors[:500])
    assert index.wait_for_build(timeout=120)
    with index.locked() as backend:
        assert isinstance(backend, HNSWIndex) and backend.precision == "float16"
    path = tmp_path / "memory.db.vectors"
    save_index(index, path, lsn=7, model_id=MODEL)
    assert json.loads(path.read_text())["precision"] == "float16"
    loaded = load_index(path, dimension=DIM, model_id=MODEL, precision="float16")
    assert loaded is not None and loaded[0].precision == "float16" and loaded[1] == 7
    assert loaded[0].search(vectors[3], 1)[0].tolist() == [keys[3]]
    # The setting changed since the save: the stored graph is stale, so it is rebuilt.
    assert load_index(path, dimension=DIM, model_id=MODEL, precision="float32") is None


def test_a_manifest_from_before_the_field_is_float32(
    data: tuple[np.ndarray, np.ndarray, np.ndarray], tmp_path: Path
) -> None:
    keys, vectors, _ = data
    index = AdaptiveIndex(DIM, ann_threshold=10, background=False)
    index.add(keys[:100], vectors[:100])
    path = tmp_path / "v"
    save_index(index, path, lsn=1, model_id=MODEL)
    manifest = json.loads(path.read_text())
    del manifest["precision"]
    path.write_text(json.dumps(manifest))
    assert load_index(path, dimension=DIM, model_id=MODEL) is not None
    assert load_index(path, dimension=DIM, model_id=MODEL, precision="float16") is None


@pytest.mark.parametrize(
    ("given", "expected"), [(None, "float16"), ("float16", "float16"), ("float32", "float32")]
)
def test_the_setting_is_stored_and_used_by_the_space(
    tmp_path: Path, given: str | None, expected: str
) -> None:
    path = tmp_path / "a.db"
    settings = Settings(ann_threshold=50)  # a new database: float16 unless told otherwise
    if given is not None:
        settings = Settings(vector_precision=given, ann_threshold=50)  # type: ignore[arg-type]
    with MemorySpace.open(path, embedder=HashingEmbedder(), settings=settings) as ms:
        ms.add_many([{"content": f"memory number {i} about topic {i % 7}"} for i in range(120)])
        assert isinstance(ms.index, SyncedIndex)
        ms.search("topic", k=1)  # the index follows the log when searched
        assert ms.index.wait_for_build(timeout=120)
        assert (ms.index.kind, ms.index.precision) == ("hnsw", expected)
        # stored even at the default, so a later default cannot change what the file holds
        assert ms.store.get_setting(setting_key("vector_precision")) == json.dumps(expected)
    reopened = Settings(ann_threshold=50)  # not passed: the database's value holds
    with MemorySpace.open(path, embedder=HashingEmbedder(), settings=reopened) as ms:
        assert ms.settings.vector_precision == expected
        assert isinstance(ms.index, SyncedIndex)
        assert ms.index.precision == expected
        assert ms.search("memory number 3 about topic 3", k=1)[0].memory.content.startswith(
            "memory number 3"
        )
