"""Stored vectors at ``Settings.vector_precision`` (issue 16): float16 blobs in new databases,
float32 kept by databases made before, both readable in one database; portable checkpoints and
``migrate`` across precisions."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from memoryspace import MemorySpace, Settings
from memoryspace.embed.hashing import HashingEmbedder
from memoryspace.store.codec import blob_matrix, blob_vector, vector_blob
from memoryspace.store.migrate import migrate
from memoryspace.store.schema import _OLD_DATABASES_KEEP_FLOAT32_VECTORS, MIGRATIONS
from memoryspace.store.sqlite import SQLiteStore

DIM = HashingEmbedder().dimension


def _blob_sizes(path: Path) -> tuple[list[int], list[int]]:
    """Byte sizes of the stored vectors and of the op log's vector copies (references: 0)."""
    with sqlite3.connect(path) as conn:
        stored = [len(r[0]) for r in conn.execute("SELECT vector FROM vectors ORDER BY key")]
        logged = [
            len(r[0])
            for r in conn.execute("SELECT vector FROM oplog WHERE vector IS NOT NULL ORDER BY lsn")
        ]
    return stored, logged


def _make_old(path: Path) -> None:
    """A database as the version before this one left it: float32 vectors, no precision
    setting, schema just before the migration that keeps its float32."""
    with MemorySpace.open(
        path, embedder=HashingEmbedder(), settings=Settings(vector_precision="float32")
    ) as ms:
        ms.add_many([f"old memory {i} about the garden" for i in range(20)])
    with sqlite3.connect(path) as conn:
        conn.execute("DELETE FROM settings WHERE key = 'shared.vector_precision'")
        old = MIGRATIONS.index(_OLD_DATABASES_KEEP_FLOAT32_VECTORS)
        conn.execute(f"PRAGMA user_version = {old}")


def test_blobs_say_their_precision() -> None:
    vector = np.linspace(-1, 1, DIM, dtype=np.float32)
    full, half = vector_blob(vector), vector_blob(vector, "float16")
    assert full is not None and half is not None
    assert len(full) == 4 * DIM and len(half) == 2 * DIM + 1  # odd: float16 and its marker
    assert np.array_equal(blob_vector(full), vector)
    assert np.array_equal(blob_vector(half), vector.astype(np.float16).astype(np.float32))
    both = blob_matrix([half, full, half])  # a database may hold both
    assert both.dtype == np.float32 and both.shape == (3, DIM)
    assert np.array_equal(blob_matrix([half, half])[0], blob_vector(half))


def test_a_new_database_stores_half_size_vectors_in_the_table_and_the_log(
    tmp_path: Path,
) -> None:
    path = tmp_path / "new.db"
    with MemorySpace.open(path, embedder=HashingEmbedder()) as ms:
        ms.add_many([f"memory {i} about the river" for i in range(10)])
        ms.update(ms.search("memory 3 about the river", k=1)[0].memory.id, content="changed")
        assert ms.search("memory 7 about the river", k=1)[0].memory.content.endswith("river")
    stored, logged = _blob_sizes(path)
    assert stored == [2 * DIM + 1] * 10
    assert sorted(set(logged)) == [0, 2 * DIM + 1]  # references, and the replaced vector
    with SQLiteStore(str(path)) as store:
        assert store.vector_precision == "float16"
        _keys, matrix = next(store.iter_vectors())
        assert matrix.dtype == np.float32 and matrix.shape == (10, DIM)


def test_an_older_database_keeps_float32_and_can_switch(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    _make_old(path)
    with MemorySpace.open(path, embedder=HashingEmbedder()) as ms:  # the migration runs
        assert ms.settings.vector_precision == "float32"
        ms.add("one more old-style memory")
        ms.configure(vector_precision="float16")
        ms.add("a memory after the switch to float16")
    stored, _ = _blob_sizes(path)
    assert stored == [4 * DIM] * 21 + [2 * DIM + 1]
    with MemorySpace.open(path, embedder=HashingEmbedder()) as ms:
        assert len(ms.index) == 22  # a mixed database reads and indexes both kinds
        ms.index.rebuild()
        for text in ("old memory 4 about the garden", "a memory after the switch to float16"):
            assert ms.search(text, k=1)[0].memory.content == text


@pytest.mark.parametrize(("source", "target"), [("float32", "float16"), ("float16", "float32")])
def test_portable_checkpoints_cross_precisions(tmp_path: Path, source: str, target: str) -> None:
    file = tmp_path / "c.ckpt.gz"
    with MemorySpace.open(
        tmp_path / "a.db",
        embedder=HashingEmbedder(),
        settings=Settings(vector_precision=source),  # type: ignore[arg-type]
    ) as ms:
        ms.add_many([f"portable memory {i}" for i in range(12)])
        ms.checkpoint("c")
        ms.export_checkpoint("c", file)
        keys = [ms.store.key_of(m.id) for m in ms.store.scan()]
        expected = {ms.store.get_by_keys([k])[k].id: v for k, v in ms.store.vectors(keys).items()}
    with MemorySpace.open(
        tmp_path / "b.db",
        embedder=HashingEmbedder(),
        settings=Settings(vector_precision=target),  # type: ignore[arg-type]
    ) as ms:
        ms.add("already here")
        assert len(ms.import_checkpoint(file)) == 13  # 12 adds and a delete
        for id, vector in expected.items():
            key = ms.store.key_of(id)
            assert np.array_equal(ms.store.vectors([key])[key], vector)  # nothing lost
        assert ms.import_checkpoint(file) == []  # equal now: nothing to change
        assert ms.search("portable memory 5", k=1)[0].memory.content == "portable memory 5"


def test_migrate_copies_blobs_of_either_precision(tmp_path: Path) -> None:
    old = tmp_path / "old.db"
    _make_old(old)
    with MemorySpace.open(old, embedder=HashingEmbedder()) as ms:
        ms.configure(vector_precision="float16")
        ms.add("a half-size memory")
    source, copy = SQLiteStore(str(old)), SQLiteStore(str(tmp_path / "copy.db"))
    try:
        done = migrate(source, copy)
        assert done.differences == () and done.memories == 21
    finally:
        source.close()
        copy.close()
    assert _blob_sizes(tmp_path / "copy.db") == _blob_sizes(old)


def test_a_float16_database_saves_its_exact_index_at_half_size(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    with MemorySpace.open(path, embedder=HashingEmbedder()) as ms:
        ms.add_many([f"saved memory {i} about the lake" for i in range(50)])
        before = ms.search("saved memory 12 about the lake", k=3)
    manifest = json.loads(Path(f"{path}.vectors").read_text())
    assert (manifest["kind"], manifest["precision"]) == ("exact", "float16")
    assert manifest["payload_bytes"] == 50 * (8 + 2 * DIM)  # keys, then half floats
    with MemorySpace.open(path, embedder=HashingEmbedder()) as ms:
        assert not ms.index.rebuilt and len(ms.index) == 50
        after = ms.search("saved memory 12 about the lake", k=3)
    # float16 values saved as float16: the loaded index scores exactly as before
    assert [(h.memory.id, h.score) for h in after] == [(h.memory.id, h.score) for h in before]
