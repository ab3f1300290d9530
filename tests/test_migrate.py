"""Migrating a database between SQLite and PostgreSQL by replaying its log, and proving the copy
equal: the library (``memoryspace.store.migrate``) and the ``memoryspace migrate`` command."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from memoryspace import HashingEmbedder, MemorySpace
from memoryspace.errors import Conflict
from memoryspace.store.migrate import migrate, verify
from memoryspace.store.postgres import PostgresStore
from memoryspace.store.sqlite import SQLiteStore
from store_contract import FakeClock


def _history_of_every_kind(path: Path) -> None:
    """A database with adds, edits, deletes, pins, archiving, vectors and sessions."""
    with MemorySpace.open(path, embedder=HashingEmbedder(), clock=FakeClock(step=1.0)) as ms:
        added = ms.add_many(
            [
                {"content": f"turn {i} about the lighthouse", "user": "u", "session": "s"}
                for i in range(12)
            ]
        )
        ms.add("Maren adopted a greyhound named Biscuit", user="maren", tags=["pets"])
        ms.update(added[0].id, content="the first turn, edited")
        ms.update(added[1].id, pinned=True, meta={"lang": "en"})
        ms.delete([added[2].id])
        ms.store.update(added[3].id, {"archived": True})


def test_sqlite_to_postgres_and_back_keeps_records_and_history(tmp_path: Path, pg_url: str) -> None:
    origin = tmp_path / "origin.db"
    _history_of_every_kind(origin)
    with SQLiteStore(origin) as source, PostgresStore(pg_url) as target:
        seen: list[tuple[int, int]] = []
        result = migrate(source, target, batch=4, progress=lambda d, t: seen.append((d, t)))
        assert result.differences == ()
        assert result.copied == source.last_lsn() == target.last_lsn() > 10
        assert seen[-1] == (result.copied, result.copied) and len(seen) > 1
        assert target.history(source.changes()[0].id) == source.history(source.changes()[0].id)
        middle = source.last_lsn() // 2
        with source.as_of(middle) as then_a, target.as_of(middle) as then_b:
            assert verify(then_a, then_b) == []
    with MemorySpace.open(pg_url, embedder=HashingEmbedder()) as ms:
        assert [h.memory.user for h in ms.search("greyhound Biscuit", k=1)] == ["maren"]
        fresh = ms.add("added after the migration")  # new keys follow the copied ones
        assert ms.get(fresh.id).content == "added after the migration"
        lsn = ms.lsn
    back = tmp_path / "back.db"
    with PostgresStore(pg_url) as source, SQLiteStore(back) as target:
        assert migrate(source, target).differences == ()
        assert target.last_lsn() == lsn


def test_an_interrupted_migration_resumes_where_it_stopped(tmp_path: Path, pg_url: str) -> None:
    origin = tmp_path / "origin.db"
    _history_of_every_kind(origin)

    def stop_after_two_batches(done: int, total: int) -> None:
        if done >= 6:
            raise KeyboardInterrupt

    with SQLiteStore(origin) as source, PostgresStore(pg_url) as target:
        with pytest.raises(KeyboardInterrupt):
            migrate(source, target, batch=3, progress=stop_after_two_batches)
        assert target.last_lsn() == 6
        result = migrate(source, target, batch=3)
        assert (result.resumed_at, result.copied) == (6, source.last_lsn() - 6)
        assert result.differences == ()


def test_a_target_with_another_history_is_refused(tmp_path: Path, pg_url: str) -> None:
    origin = tmp_path / "origin.db"
    _history_of_every_kind(origin)
    with MemorySpace.open(pg_url, embedder=HashingEmbedder()) as ms:
        ms.add("something else entirely")
    with SQLiteStore(origin) as source, PostgresStore(pg_url) as target:
        before = target.last_lsn()
        with pytest.raises(Conflict):
            migrate(source, target)
        assert target.last_lsn() == before


def test_the_migrate_command(tmp_path: Path, pg_url: str) -> None:
    origin = tmp_path / "origin.db"
    _history_of_every_kind(origin)
    env = {**os.environ, "MEMORYSPACE_EMBEDDER": "hashing"}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "memoryspace",
            "migrate",
            "--from",
            f"sqlite:///{origin}",
            "--to",
            pg_url,
            "--json",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["differences"] == [] and report["copied"] == report["lsn"] > 10
    assert report["memories"] == 12  # 13 added, 1 forgotten (the archived one is kept)
    again = subprocess.run(
        [sys.executable, "-m", "memoryspace", "migrate", "--from", str(origin), "--to", pg_url],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert again.returncode == 0, again.stderr
    assert "copied 0 log entries" in again.stdout and "verified" in again.stdout
