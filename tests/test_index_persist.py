"""Saving and loading vector indexes: round trips, damage detection and crash safety."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from memoryspace.errors import InvalidInput
from memoryspace.index import AdaptiveIndex, ExactIndex, HNSWIndex, load_index, save_index
from memoryspace.index import persist as persist_module

DIM = 16
MODEL = "all-MiniLM-L6-v2@test"


def unit_vectors(seed: int, count: int) -> np.ndarray:
    rows = np.random.default_rng(seed).standard_normal((count, DIM))
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def build(kind: str, count: int = 300, seed: int = 1) -> AdaptiveIndex:
    index = AdaptiveIndex(DIM, ann_threshold=50 if kind == "hnsw" else 10_000)
    index.add(np.arange(count, dtype=np.int64) * 2 + 5, unit_vectors(seed, count))
    assert index.wait_for_build(timeout=60)
    assert index.kind == kind
    return index


def answers(index: AdaptiveIndex) -> list[tuple[list[int], list[float]]]:
    """What the index says for fixed queries, with and without a filter."""
    results = []
    for query in unit_vectors(99, 8):
        for allowed in (None, np.arange(5, 400, 6, dtype=np.int64)):
            keys, scores = index.search(query, 7, allowed=allowed)
            results.append((keys.tolist(), scores.tolist()))
    return results


def index_files(directory: Path) -> list[Path]:
    """Every file but the advisory lock, which stays beside the index by design."""
    return [p for p in directory.iterdir() if not p.name.endswith(".lock")]


def payloads(directory: Path) -> list[Path]:
    return sorted(p for p in directory.iterdir() if p.suffix in (".exact", ".hnsw"))


def load(path: Path, **overrides: Any) -> tuple[AdaptiveIndex, int] | None:
    options: dict[str, Any] = {"dimension": DIM, "model_id": MODEL, **overrides}
    return load_index(path, **options)


@pytest.fixture(params=["exact", "hnsw"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def saved(kind: str, tmp_path: Path) -> tuple[Path, AdaptiveIndex]:
    path = tmp_path / "memory.db.vectors"
    index = build(kind)
    save_index(index, path, lsn=42, model_id=MODEL)
    return path, index


def test_round_trip_preserves_results_and_lsn(saved: tuple[Path, AdaptiveIndex]) -> None:
    path, original = saved
    loaded = load(path)
    assert loaded is not None
    index, lsn = loaded
    assert lsn == 42
    assert (index.kind, len(index), index.dimension) == (original.kind, len(original), DIM)
    assert answers(index) == answers(original)


def test_loaded_index_accepts_writes(saved: tuple[Path, AdaptiveIndex]) -> None:
    path, _ = saved
    loaded = load(path)
    assert loaded is not None
    index, _ = loaded
    vector = unit_vectors(7, 1)
    index.add(np.array([1_000_000]), vector)
    index.remove(np.array([5]))
    assert 1_000_000 in index and 5 not in index
    assert index.search(vector[0], 1)[0].tolist() == [1_000_000]


def test_hnsw_options_survive_a_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "v"
    index = AdaptiveIndex(DIM, ann_threshold=5, connectivity=8, expansion_search=40)
    index.add(np.arange(20), unit_vectors(3, 20))
    assert index.wait_for_build(timeout=60)
    save_index(index, path, lsn=1, model_id=MODEL)
    loaded = load(path)
    assert loaded is not None
    expected = {"connectivity": 8, "expansion_add": 128, "expansion_search": 40}
    assert loaded[0].hnsw_options == expected


@pytest.mark.parametrize("backend", [ExactIndex, HNSWIndex])
def test_bare_indexes_can_be_saved(backend: type[ExactIndex | HNSWIndex], tmp_path: Path) -> None:
    index = backend(DIM)
    index.add(np.arange(30), unit_vectors(4, 30))
    save_index(index, tmp_path / "v", lsn=0, model_id=MODEL)
    loaded = load(tmp_path / "v")
    assert loaded is not None
    assert loaded[0].kind == ("exact" if backend is ExactIndex else "hnsw")
    assert loaded[0].search(unit_vectors(4, 1)[0], 1)[0].tolist() == [0]


def test_empty_index_round_trips(tmp_path: Path) -> None:
    save_index(AdaptiveIndex(DIM), tmp_path / "v", lsn=0, model_id=MODEL)
    loaded = load(tmp_path / "v")
    assert loaded is not None and len(loaded[0]) == 0 and loaded[1] == 0


def test_a_new_save_replaces_the_old_one(saved: tuple[Path, AdaptiveIndex]) -> None:
    path, index = saved
    index.add(np.array([7_777]), unit_vectors(8, 1))
    save_index(index, path, lsn=43, model_id=MODEL)
    loaded = load(path)
    assert loaded is not None and loaded[1] == 43 and 7_777 in loaded[0]
    assert len(payloads(path.parent)) == 1
    lock = path.name + ".lock"  # the advisory lock that serialises saves across processes
    assert sorted(p.name for p in path.parent.iterdir() if p.name != lock) == sorted(
        [path.name, payloads(path.parent)[0].name]
    )


def test_concurrent_saves_from_many_processes_leave_a_loadable_index(tmp_path: Path) -> None:
    import multiprocessing

    path = tmp_path / "shared.vectors"
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=_save_repeatedly, args=(path, seed)) for seed in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
        assert worker.exitcode == 0
    loaded = load(path)
    assert loaded is not None and len(loaded[0]) == 16
    assert len(payloads(path.parent)) == 1


def _save_repeatedly(path: Path, seed: int) -> None:
    index = AdaptiveIndex(DIM)
    index.add(np.arange(16, dtype=np.int64), unit_vectors(DIM, 16))
    for round_ in range(20):
        save_index(index, path, lsn=seed * 100 + round_, model_id=MODEL)


# --- anything doubtful loads as None ----------------------------------------------------------


def test_missing_files_load_as_none(saved: tuple[Path, AdaptiveIndex], tmp_path: Path) -> None:
    path, _ = saved
    assert load(tmp_path / "never-saved") is None
    assert load(tmp_path) is None  # a directory, not a manifest
    payloads(path.parent)[0].unlink()
    assert load(path) is None


def test_missing_sidecar_loads_as_none(saved: tuple[Path, AdaptiveIndex]) -> None:
    path, _ = saved
    path.unlink()
    assert payloads(path.parent)  # the payload alone is not trusted
    assert load(path) is None


def test_another_model_or_dimension_loads_as_none(saved: tuple[Path, AdaptiveIndex]) -> None:
    path, _ = saved
    assert load(path, model_id="other-model") is None
    assert load(path, dimension=DIM + 1) is None
    assert load(path) is not None


def test_another_databases_index_loads_as_none_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "memory.db.vectors"
    save_index(build("exact"), path, lsn=42, model_id=MODEL, database_id="a" * 32)
    assert load(path, database_id="a" * 32) is not None
    assert load(path) is not None  # a caller that does not know its database's id
    with caplog.at_level(logging.WARNING):
        assert load(path, database_id="b" * 32) is None
    assert "another database" in caplog.text
    save_index(build("exact"), path, lsn=42, model_id=MODEL)  # saved without an id
    assert load(path, database_id="a" * 32) is None


def test_truncated_payload_loads_as_none(saved: tuple[Path, AdaptiveIndex]) -> None:
    path, _ = saved
    payload = payloads(path.parent)[0]
    payload.write_bytes(payload.read_bytes()[: payload.stat().st_size // 2])
    assert load(path) is None


def test_flipped_byte_loads_as_none(saved: tuple[Path, AdaptiveIndex]) -> None:
    path, _ = saved
    payload = payloads(path.parent)[0]
    data = bytearray(payload.read_bytes())
    data[len(data) // 2] ^= 0x01
    payload.write_bytes(bytes(data))
    assert load(path) is None


def edit_manifest(path: Path, **changes: Any) -> None:
    manifest = json.loads(path.read_text())
    manifest.update(changes)
    path.write_text(json.dumps(manifest))


@pytest.mark.parametrize(
    "changes",
    [
        {"version": 2},
        {"format": "something-else"},
        {"count": 299},
        {"lsn": -1},
        {"lsn": "42"},
        {"payload": "../elsewhere.0123456789abcdef.exact"},
        {"kind": "ivf"},
    ],
    ids=lambda changes: next(iter(changes)),
)
def test_doubtful_manifest_loads_as_none(
    saved: tuple[Path, AdaptiveIndex], changes: dict[str, Any]
) -> None:
    path, _ = saved
    edit_manifest(path, **changes)
    assert load(path) is None


def test_corrupt_manifest_loads_as_none(saved: tuple[Path, AdaptiveIndex]) -> None:
    path, _ = saved
    path.write_bytes(path.read_bytes()[:20])
    assert load(path) is None
    path.write_text("[1, 2, 3]")
    assert load(path) is None


def test_bad_save_arguments_raise(tmp_path: Path) -> None:
    index = AdaptiveIndex(DIM)
    for lsn, model_id in ((-1, MODEL), (1.5, MODEL), (1, ""), (1, None)):
        with pytest.raises(InvalidInput):
            save_index(index, tmp_path / "v", lsn=lsn, model_id=model_id)  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []


def test_bad_load_settings_raise_rather_than_rebuild(saved: tuple[Path, AdaptiveIndex]) -> None:
    path, _ = saved
    with pytest.raises(InvalidInput):
        load(path, ann_threshold=-1)
    with pytest.raises(InvalidInput):
        load(path, expansion_serch=10)


# --- crash safety -------------------------------------------------------------------------------


@pytest.mark.parametrize("failing_call", [1, 2], ids=["payload-replace", "manifest-replace"])
def test_interrupted_save_leaves_the_previous_index(
    saved: tuple[Path, AdaptiveIndex], monkeypatch: pytest.MonkeyPatch, failing_call: int
) -> None:
    path, original = saved
    before = answers(original)
    changed = build(original.kind, count=200, seed=2)
    calls = []
    real_replace = os.replace

    def replace(source: Any, target: Any) -> None:
        calls.append(target)
        if len(calls) == failing_call:
            raise OSError("disk full")
        real_replace(source, target)

    monkeypatch.setattr(persist_module.os, "replace", replace)
    with pytest.raises(OSError, match="disk full"):
        save_index(changed, path, lsn=99, model_id=MODEL)
    monkeypatch.undo()

    loaded = load(path)
    assert loaded is not None and loaded[1] == 42 and answers(loaded[0]) == before
    assert len(payloads(path.parent)) == 1  # the failed save cleaned up after itself


CRASHING_SAVE = """
import os, sys
import numpy as np
from memoryspace.index import AdaptiveIndex, save_index
from memoryspace.index import persist

real_replace = os.replace
def replace(source, target):
    if str(target).endswith(sys.argv[2]):
        os._exit(17)  # die without cleaning up, as a power cut would
    real_replace(source, target)
persist.os.replace = replace

index = AdaptiveIndex(16, ann_threshold=int(sys.argv[3]))
rows = np.random.default_rng(5).standard_normal((100, 16))
index.add(np.arange(100), (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype("f4"))
index.wait_for_build()
save_index(index, sys.argv[1], lsn=99, model_id="all-MiniLM-L6-v2@test")
"""


@pytest.mark.crash
@pytest.mark.parametrize("dies_before", [".exact", ".hnsw", "vectors"])
def test_crash_mid_save_leaves_the_previous_index(tmp_path: Path, dies_before: str) -> None:
    path = tmp_path / "memory.db.vectors"
    original = build("exact")
    save_index(original, path, lsn=42, model_id=MODEL)
    threshold = "10" if dies_before == ".hnsw" else "1000"
    crashed = subprocess.run(
        [sys.executable, "-c", CRASHING_SAVE, str(path), dies_before, threshold], check=False
    )
    assert crashed.returncode == 17
    assert len(index_files(tmp_path)) > 2  # the dead process left files behind

    loaded = load(path)
    assert loaded is not None and loaded[1] == 42 and answers(loaded[0]) == answers(original)

    save_index(original, path, lsn=43, model_id=MODEL)  # the next save sweeps the leftovers
    assert len(index_files(tmp_path)) == 2


def test_periodic_saves_grow_apart_as_the_index_grows(tmp_path: Path) -> None:
    """A save writes the whole index, so a save every ``index_save_every`` entries would write
    quadratically many bytes; saves wait until the unsaved entries reach half the index."""
    import json

    from memoryspace import HashingEmbedder, MemorySpace, Settings

    db = tmp_path / "m.db"
    manifest = Path(f"{db}.vectors")
    saved_at: list[int] = []
    with MemorySpace.open(
        db, embedder=HashingEmbedder(), settings=Settings(index_save_every=10)
    ) as ms:
        for batch in range(200):
            ms.add_many([f"note {batch} {i}" for i in range(11)])  # 11: each add passes the mark
            ms.index.wait_for_save()  # saves run in the background
            if manifest.exists():
                lsn = json.loads(manifest.read_text())["lsn"]
                if not saved_at or lsn != saved_at[-1]:
                    saved_at.append(lsn)
        assert ms.index.lsn == ms.lsn  # every add still catches the index up
    assert saved_at[0] <= 22  # the first save comes early
    assert 5 <= len(saved_at) <= 20  # about log1.5(2,200 / 22) saves, not 200
    before_last, last = saved_at[-2:]
    assert last - before_last >= before_last // 2 - 11  # the last gap: half the index it followed
    with MemorySpace.open(db, embedder=HashingEmbedder()) as again:  # the close saved the rest
        assert not again.index.rebuilt
        assert again.index.lsn == again.lsn == 2_200
