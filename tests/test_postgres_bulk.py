"""PostgreSQL's vector index built once a dimension holds enough vectors, and read replicas, on
the session's real server: writers in separate processes racing past the threshold lose
nothing and leave one valid index; a migration builds it once at its end; a database opened
read-only (asked for, or a server whose sessions are read-only, as a hot standby's are) is
opened and searched without a single write, and refuses writes with ``ReadOnly``.

A streaming replica is not started here: ``default_transaction_read_only`` on a database and a
role that may only read are what a standby's sessions and a read-only user look like to
MemorySpace (every write refused by the server)."""

from __future__ import annotations

import secrets
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import psycopg
import pytest

from memoryspace import HashingEmbedder, MemorySpace
from memoryspace.errors import NotFound, ReadOnly
from memoryspace.models import Filter
from memoryspace.store import migrate as migration
from memoryspace.store.postgres import PostgresStore, hnsw
from memoryspace.store.postgres.databases import fresh_database
from memoryspace.store.sqlite import SQLiteStore
from store_contract import make_memory, vec

WORKERS = Path(__file__).parent / "workers"


def _valid_indexes(url: str) -> list[tuple[str, bool]]:
    with psycopg.connect(url) as conn:
        return [
            (str(name), bool(valid))
            for name, valid in conn.execute(
                "SELECT c.relname, i.indisvalid FROM pg_index i "
                "JOIN pg_class c ON c.oid = i.indexrelid "
                "WHERE c.relname LIKE 'vectors_hnsw_%' ORDER BY 1"
            )
        ]


@pytest.mark.multiprocess
def test_writers_racing_past_the_threshold_lose_nothing_and_leave_one_valid_index(
    pg_url: str,
) -> None:
    PostgresStore(pg_url).close()  # the schema, once
    writers = [
        subprocess.Popen(
            [sys.executable, str(WORKERS / "vector_writer.py"), pg_url, f"w{n}", "12", "25", "400"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(4)
    ]
    acknowledged: list[str] = []
    for proc in writers:
        out, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err
        lines = out.splitlines()
        assert lines[-1] == "done", err
        acknowledged += lines[:-1]
    assert len(acknowledged) == 4 * 12 * 25
    assert _valid_indexes(pg_url) == [("vectors_hnsw_8", True)]  # built once, valid
    with PostgresStore(pg_url) as store:
        stored = [m.id for m in store.scan(Filter(include_archived=True, include_expired=True))]
        assert Counter(stored) == Counter(acknowledged)  # every acknowledged write, once
        lsns = [c.lsn for c in store.changes(0)]
        assert lsns == list(range(1, len(acknowledged) + 1))  # gap-free, ordered
        assert store.vector_count(8) == len(acknowledged)
        # The index answers as an exact ranking does (up to HNSW's recall).
        keys = np.concatenate([k for k, _ in store.iter_vectors()])
        matrix = np.vstack([m for _, m in store.iter_vectors()])
        query = matrix[17]
        want = set(keys[np.argsort(-(matrix @ query))[:10]].tolist())
        got = set(store.nearest(query, 10)[0].tolist())
        assert len(got & want) >= 8


def test_a_migration_builds_the_vector_index_once_at_its_end(
    tmp_path: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with SQLiteStore(tmp_path / "a.db") as source:
        for b in range(6):
            source.insert([(make_memory(f"m{b}-{i}"), vec(1, b, i)) for i in range(10)])
        built_at: list[int] = []
        real_build = hnsw.build

        def counting(
            conn: psycopg.Connection[tuple[object, ...]], dimension: int, **kw: object
        ) -> bool:
            row = conn.execute("SELECT count(*) FROM vectors").fetchone()
            built_at.append(int(row[0]) if row else -1)
            return real_build(conn, dimension, **kw)  # type: ignore[arg-type]

        monkeypatch.setattr(hnsw, "build", counting)
        with PostgresStore(pg_url, hnsw_threshold=10) as target:
            done = migration.migrate(source, target, batch=7)
            assert done.differences == ()
            assert built_at == [60]  # not at 10, 14, ...: once, over every vector
            assert target.has_vector_index(3)


@pytest.fixture
def filled(pg_url: str) -> str:
    with MemorySpace.open(pg_url, embedder=HashingEmbedder()) as ms:
        ms.add_many([{"content": f"note {i} about the cello"} for i in range(30)])
        ms.add("the train leaves at nine", id="train")
    return pg_url


def _no_writes_allowed(url: str) -> None:
    """New sessions on ``url``'s database may not write (as on a hot standby)."""
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("SELECT current_database()").fetchone()
        assert row is not None
        conn.execute(f'ALTER DATABASE "{row[0]}" SET default_transaction_read_only = on')


def test_a_read_only_server_is_opened_searched_and_never_written(filled: str) -> None:
    _no_writes_allowed(filled)  # as a hot standby's sessions: the server refuses every write
    with MemorySpace.open(filled, embedder=HashingEmbedder()) as ms:  # no write on opening
        assert ms.store.read_only
        assert [h.memory.id for h in ms.search("train at nine", k=1)] == ["train"]
        assert ms.get("train").content == "the train leaves at nine"
        with pytest.raises(ReadOnly, match="read-only"):
            ms.add("another note")
        with pytest.raises(ReadOnly):
            ms.store.insert([(make_memory("direct"), None)])
        with pytest.raises(ReadOnly):
            ms.update("train", content="the train leaves at ten")
        with pytest.raises(ReadOnly):
            ms.delete("train")
        store = ms.backing
        assert isinstance(store, PostgresStore)
        last = store.last_lsn()
        assert store.wait_for_changes(last, timeout=0.3) == []  # polled: no LISTEN on a standby
        assert [c.id for c in store.wait_for_changes(last - 1, timeout=0)] == ["train"]
    with psycopg.connect(filled) as conn:
        row = conn.execute("SELECT count(*) FROM memories").fetchone()
    assert row == (31,)


def test_read_only_opening_by_a_role_that_may_only_read(filled: str) -> None:
    reader = f"reader_{secrets.token_hex(4)}"
    with psycopg.connect(filled, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {reader} LOGIN")
        conn.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {reader}")
    url = filled.replace("postgresql://postgres:@", f"postgresql://{reader}:@", 1)
    if url == filled:
        pytest.skip("the server URL names no postgres user to swap for a reading role")
    try:
        with pytest.raises(ReadOnly, match="read_only=True"):  # the schema check writes
            MemorySpace.open(url, embedder=HashingEmbedder())
        with MemorySpace.open(url, embedder=HashingEmbedder(), read_only=True) as ms:
            assert ms.store.read_only
            assert ms.count() == 31
            assert [h.memory.id for h in ms.search("train at nine", k=1)] == ["train"]
            with pytest.raises(ReadOnly, match="read-only"):
                ms.add("another note")
            with pytest.raises(ReadOnly, match="primary"):
                ms.store.set_setting("x", "y")
    finally:
        with psycopg.connect(filled, autocommit=True) as conn:
            conn.execute(f"DROP OWNED BY {reader}")
            conn.execute(f"DROP ROLE {reader}")


def test_read_only_opening_checks_the_schema_by_reading(pg_url: str, postgres_server: str) -> None:
    with pytest.raises(NotFound, match="primary"):
        PostgresStore(pg_url, read_only=True)  # nothing there, and nothing created
    with psycopg.connect(pg_url) as conn:
        row = conn.execute("SELECT to_regclass('settings')").fetchone()
    assert row == (None,)
    with PostgresStore(pg_url) as store:
        store.insert([(make_memory("a"), None)])
        store.set_setting("schema.version", "2")  # as an older MemorySpace left it
    with pytest.raises(ReadOnly, match="upgrade"):
        PostgresStore(pg_url, read_only=True)
    with fresh_database(postgres_server, "ro") as other:
        _no_writes_allowed(other)
        with pytest.raises(NotFound, match="primary"):
            PostgresStore(other)  # a read-only server with nothing on it


def test_embeddings_stay_in_the_row_and_exact_bytes_go_out_of_it(pg_url: str) -> None:
    with PostgresStore(pg_url) as store:
        store.insert([(make_memory(f"m{i}"), np.full(384, i + 1, np.float32)) for i in range(3)])
    with psycopg.connect(pg_url) as conn:
        storage = dict(
            conn.execute(
                "SELECT attname, attstorage FROM pg_attribute "
                "WHERE attrelid = 'vectors'::regclass AND attname IN ('vector', 'embedding')"
            ).fetchall()
        )
        # Every embedding is read from the heap itself: none was moved to TOAST.
        row = conn.execute(
            "SELECT count(*) FILTER (WHERE pg_column_toast_chunk_id(embedding) IS NOT NULL), "
            "count(*) FILTER (WHERE pg_column_toast_chunk_id(vector) IS NOT NULL) FROM vectors"
        ).fetchone()
    assert storage == {"vector": "e", "embedding": "m"}
    assert row == (0, 3)
