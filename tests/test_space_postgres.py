"""The facade's tests (``test_space``) on PostgreSQL, and ``MemorySpace.open`` by URL.

Every test of ``test_space`` that takes the ``ms`` fixture runs again here on a space opened
with a ``postgresql://`` URL (a fresh database per test); the ones that look at SQLite files
stay there.
"""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import test_space
from memoryspace import HashingEmbedder, InvalidInput, MemorySpace
from memoryspace.store.postgres import PostgresStore
from memoryspace.store.sqlite import SQLiteStore
from store_contract import FakeClock

# Tests whose subject is the SQLite file itself (paths, reopening the file, its sidecars).
_FILE_ONLY: set[str] = set()

for _name in dir(test_space):
    _test = getattr(test_space, _name)
    wanted = _name.startswith("test_") and callable(_test) and _name not in _FILE_ONLY
    if wanted and "ms" in inspect.signature(_test).parameters:
        globals()[_name] = _test

clock = test_space.clock


@pytest.fixture
def ms(pg_url: str, clock: FakeClock) -> Iterator[MemorySpace]:
    space = MemorySpace.open(pg_url, embedder=HashingEmbedder(), clock=clock)
    yield space
    space.close()


def test_open_by_postgres_url_keeps_memories_across_reopening(pg_url: str) -> None:
    with MemorySpace.open(pg_url, embedder=HashingEmbedder()) as ms:
        assert isinstance(ms.store, PostgresStore)
        first = ms.add("Maren adopted a greyhound named Biscuit", user="maren")
    with MemorySpace.open(pg_url, embedder=HashingEmbedder(), create=False) as ms:
        assert ms.get(first.id).content == first.content
        assert [h.memory.id for h in ms.search("greyhound", user="maren")] == [first.id]


def test_open_by_sqlite_url(tmp_path: Path) -> None:
    relative = tmp_path / "rel.db"
    with MemorySpace.open(f"sqlite:///{relative}", embedder=HashingEmbedder()) as ms:
        assert isinstance(ms.store, SQLiteStore) and ms.store.path == str(relative)
        ms.add("kept in a file")
    assert relative.exists()
    with MemorySpace.open("sqlite://", embedder=HashingEmbedder()) as ms:
        assert ms.store.path is None
    with pytest.raises(InvalidInput):
        MemorySpace.open("sqlite://host/file.db", embedder=HashingEmbedder())


def test_open_takes_a_built_store_and_closes_it(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "built.db")
    with MemorySpace.open(store, embedder=HashingEmbedder()) as ms:
        assert ms.store is store
        ms.add("through a store built by the caller")
    with pytest.raises(Exception, match="closed"):
        store.count()


def test_a_missing_postgres_database_is_not_created_without_create(pg_url: str) -> None:
    from memoryspace import NotFound

    with pytest.raises(NotFound):
        MemorySpace.open(pg_url, embedder=HashingEmbedder(), create=False)


def test_the_cli_takes_a_postgres_url_as_db(pg_url: str) -> None:
    env = {**os.environ, "MEMORYSPACE_EMBEDDER": "hashing"}

    def cli(*args: str) -> Any:
        done = subprocess.run(
            [sys.executable, "-m", "memoryspace", *args, "--db", pg_url, "--json"],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    added = cli("add", "Tobi is learning the cello", "--user", "tobi")
    hits = cli("search", "cello", "--user", "tobi")
    assert [h["memory"]["id"] for h in hits] == [added["id"]]


def test_read_only_open_of_a_sqlite_file_writes_nothing(tmp_path: Path) -> None:
    import hashlib

    from memoryspace.errors import NotFound, ReadOnly

    path = tmp_path / "a.db"
    with MemorySpace.open(path, embedder=HashingEmbedder()) as ms:
        ms.add("the train leaves at nine", id="train")

    def files() -> dict[str, str]:
        return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in tmp_path.iterdir()}

    before = files()
    with MemorySpace.open(path, embedder=HashingEmbedder(), read_only=True) as ms:
        assert [h.memory.id for h in ms.search("train at nine", k=1)] == ["train"]
        with pytest.raises(ReadOnly, match="opened read-only"):
            ms.add("another")
    assert files() == before
    with pytest.raises(NotFound):
        MemorySpace.open(tmp_path / "missing.db", embedder=HashingEmbedder(), read_only=True)
    assert files() == before
