"""Portable checkpoints: a checkpoint exported from one backend and imported into the other
(SQLite and PostgreSQL on the session's real server) gives the same records, content and
vectors as the checkpoint's state; damaged files and another embedder's are refused."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from memoryspace import HashingEmbedder, MemorySpace
from memoryspace.errors import Conflict, InvalidInput
from memoryspace.models import Filter
from memoryspace.store.base import Store
from memoryspace.store.codec import state_json

EVERYTHING = Filter(include_archived=True, include_expired=True)


def _state(store: Store) -> dict[str, tuple[str | None, bytes | None]]:
    """id -> (logged state, vector bytes) of every record."""
    out: dict[str, tuple[str | None, bytes | None]] = {}
    for memory in store.scan(EVERYTHING):
        key = store.key_of(memory.id)
        vector = store.vectors([key]).get(key)
        out[memory.id] = (state_json(memory), None if vector is None else vector.tobytes())
    return out


def _half(raw: bytes | None) -> bytes | None:
    """float32 vector bytes as a float16 database keeps them (rounded, read back as float32)."""
    if raw is None:
        return None
    return np.frombuffer(raw, dtype=np.float32).astype(np.float16).astype(np.float32).tobytes()


def _fill(ms: MemorySpace) -> int:
    """Memories of several kinds and scopes, a checkpoint ("before"), then changes after it;
    returns the checkpoint's LSN."""
    ms.add_many(
        [
            {
                "id": f"t{n}",
                "content": f"Ana said turn {n} about the cello",
                "user": "ana",
                "session": "s1",
                "tags": ["music"],
                "meta": {"n": n, "flag": n % 2 == 0},
            }
            for n in range(8)
        ]
    )
    ms.add("Bruno's dog is called Pixel", user="bruno", id="dog", importance=0.9)
    ms.pin("dog")
    ms.update("t3", content="Ana changed her mind about the cello")
    lsn = ms.checkpoint("before").lsn
    ms.delete("t1")
    ms.add("after the checkpoint", user="ana", id="late")
    ms.update("dog", content="Bruno's dog is called Pixie")
    return lsn


def _roundtrip(source_db: str, target_db: str, file: Path) -> None:
    with MemorySpace.open(source_db, embedder=HashingEmbedder()) as source:
        lsn = _fill(source)
        exported = source.export_checkpoint("before", file)
        assert exported.lsn == lsn and len(exported.records) == 9
        past = source.backing.as_of(lsn)
        try:
            expected = _state(past)
        finally:
            past.close()
    with MemorySpace.open(target_db, embedder=HashingEmbedder()) as target:
        changes = target.import_checkpoint(file)
        assert len(changes) == 9
        if getattr(target.backing, "vector_precision", "float32") == "float16":
            expected = {i: (state, _half(raw)) for i, (state, raw) in expected.items()}
        assert _state(target.backing) == expected
        assert target.get("dog").pinned and target.get("dog").content.endswith("Pixel")
        assert target.search("cello", user="ana", k=3)[0].memory.user == "ana"
        assert target.import_checkpoint(file) == []  # already equal: nothing to change


def test_a_sqlite_checkpoint_imports_into_postgres(tmp_path: Path, pg_url: str) -> None:
    _roundtrip(str(tmp_path / "a.db"), pg_url, tmp_path / "before.ckpt.gz")


def test_a_postgres_checkpoint_imports_into_sqlite(tmp_path: Path, pg_url: str) -> None:
    _roundtrip(pg_url, str(tmp_path / "b.db"), tmp_path / "before.ckpt.gz")


def test_an_import_converges_an_existing_database_and_can_be_undone(tmp_path: Path) -> None:
    file = tmp_path / "c.gz"
    with MemorySpace.open(tmp_path / "a.db", embedder=HashingEmbedder()) as source:
        _fill(source)
        source.export_checkpoint("before", file)
    with MemorySpace.open(tmp_path / "b.db", embedder=HashingEmbedder()) as target:
        target.add("only here", id="mine")
        target.add("will be overwritten", id="t0")
        mark = target.lsn
        target.import_checkpoint(file, actor="importer")
        assert "mine" not in {m.id for m in target.scan()}
        assert target.get("t0").content == "Ana said turn 0 about the cello"
        assert {c.actor for c in target.changes(mark)} == {"importer"}
        target.restore(None, to_lsn=mark)
        assert {m.id for m in target.scan()} == {"mine", "t0"}


def test_a_damaged_or_foreign_file_is_refused(tmp_path: Path) -> None:
    file = tmp_path / "c.gz"
    with MemorySpace.open(tmp_path / "a.db", embedder=HashingEmbedder()) as source:
        _fill(source)
        source.export_checkpoint("before", file)
    lines = gzip.decompress(file.read_bytes()).decode().splitlines()
    record = json.loads(lines[2])
    record["memory"]["content"] = "tampered"
    damaged = tmp_path / "damaged.gz"
    damaged.write_bytes(
        gzip.compress("\n".join([*lines[:2], json.dumps(record), *lines[3:]]).encode())
    )
    cut = tmp_path / "cut.gz"
    cut.write_bytes(gzip.compress("\n".join(lines[:-1]).encode()))
    newer = tmp_path / "newer.gz"
    header = json.loads(lines[0]) | {"version": 99}
    newer.write_bytes(gzip.compress("\n".join([json.dumps(header), *lines[1:]]).encode()))
    (tmp_path / "plain.txt").write_text("hello")
    with MemorySpace.open(tmp_path / "b.db", embedder=HashingEmbedder()) as target:
        for bad, why in [
            (damaged, "hash differs"),
            (cut, "cut short"),
            (newer, "version 99"),
            (tmp_path / "plain.txt", "not a readable portable checkpoint"),
        ]:
            with pytest.raises(InvalidInput, match=why):
                target.import_checkpoint(bad)
        assert target.count() == 0
        with pytest.raises(InvalidInput, match="path must be"):
            target.import_checkpoint(42)  # type: ignore[arg-type]
    other = MemorySpace.open(tmp_path / "c.db", embedder=HashingEmbedder(dimension=64))
    with other, pytest.raises(Conflict, match="import it into a database of that embedder"):
        other.import_checkpoint(file)


def test_the_export_and_import_commands(tmp_path: Path, pg_url: str) -> None:
    env = {**os.environ, "MEMORYSPACE_EMBEDDER": "hashing"}

    def cli(*args: str) -> Any:
        done = subprocess.run(
            [sys.executable, "-m", "memoryspace", *args, "--json"],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    db = str(tmp_path / "a.db")
    cli("add", "Tobi is learning the cello", "--user", "tobi", "--db", db)
    cli("checkpoint", "one", "--db", db)
    file = str(tmp_path / "one.gz")
    assert cli("export-checkpoint", "one", file, "--db", db)["records"] == 1
    assert cli("import-checkpoint", file, "--db", pg_url) == {"changes": 1, "lsn": 1}
    hits = cli("search", "cello", "--user", "tobi", "--db", pg_url)
    assert [h["memory"]["content"] for h in hits] == ["Tobi is learning the cello"]
