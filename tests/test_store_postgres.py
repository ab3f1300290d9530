"""``PostgresStore``: the store contract on a real PostgreSQL server (see ``pg_server``), plus
what only PostgreSQL does (the LSN order across writers, the pgvector index, the schema)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from memoryspace.store.base import Store
from memoryspace.store.postgres import PostgresStore
from memoryspace.store.postgres.schema import SCHEMA_VERSION
from store_contract import FakeClock, StoreContract, make_memory, vec


class TestPostgresStore(StoreContract):
    @pytest.fixture(autouse=True)
    def _database(self, pg_url: str) -> None:
        self.url = pg_url

    def make_store(self, tmp_path: Path, clock: FakeClock) -> PostgresStore:
        return PostgresStore(self.url, clock=clock)

    def reopen(self, store: Store, clock: FakeClock) -> PostgresStore:
        return PostgresStore(self.url, clock=clock)


def test_a_waiting_reader_is_woken_by_a_commit_from_another_connection(pg_url: str) -> None:
    with PostgresStore(pg_url) as reader, PostgresStore(pg_url) as writer:
        writer.insert([(make_memory("before"), None)])
        assert [c.id for c in reader.wait_for_changes(0, timeout=0)] == ["before"]
        got: list[list[str]] = []
        waiter = threading.Thread(
            target=lambda: got.append([c.id for c in reader.wait_for_changes(1, timeout=600)])
        )
        waiter.start()
        time.sleep(0.5)  # let it LISTEN (a commit before that is found by its re-read anyway)
        writer.insert([(make_memory("woken"), None)])
        waiter.join(timeout=60)  # a lost NOTIFY would leave it waiting for 600 s
        assert not waiter.is_alive(), "the commit's NOTIFY did not wake the waiting reader"
        assert got == [["woken"]]


def test_lsns_come_from_the_log_in_the_writing_transaction(pg_url: str) -> None:
    with PostgresStore(pg_url) as store:
        store.insert([(make_memory(f"m{i}"), vec(1, 0, 0)) for i in range(3)])
        with pytest.raises(RuntimeError), store.transaction():
            store.insert([(make_memory("rolled-back"), None)])
            raise RuntimeError("abandon the transaction")
        store.update("m0", {"content": "after a rollback"})
        # A rolled-back write leaves no gap: the next commit takes the next LSN.
        assert [c.lsn for c in store.changes()] == [1, 2, 3, 4]
        assert store.get("m0").version == 4


def test_vectors_get_an_hnsw_cosine_index_per_dimension(pg_url: str) -> None:
    import psycopg

    with PostgresStore(pg_url) as store:
        store.insert([(make_memory("a"), vec(1, 0, 0)), (make_memory("b"), vec(0, 1, 0, 0))])
    with psycopg.connect(pg_url) as conn:
        indexes = {
            name: sql
            for name, sql in conn.execute(
                "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'vectors'"
            )
        }
    assert "hnsw" in indexes["vectors_hnsw_3"] and "vector_cosine_ops" in indexes["vectors_hnsw_3"]
    assert "vectors_hnsw_4" in indexes


def test_a_batch_and_single_adds_give_the_same_dialogue_contexts(pg_url: str) -> None:
    import psycopg

    turns = [f"turn {i} word{i}" for i in range(9)]
    with PostgresStore(pg_url) as store:
        store.insert([(make_memory("old", "earlier turn", session="s", user="batch"), None)])
        store.insert(  # a large batch: contexts refreshed once per session
            [
                (make_memory(f"b{i}", t, session="s", user="batch", created_at=200.0 + i), None)
                for i, t in enumerate(turns)
            ]
        )
        store.insert([(make_memory("old2", "earlier turn", session="s", user="one"), None)])
        for i, t in enumerate(turns):  # one by one: contexts refreshed around each
            store.insert(
                [(make_memory(f"o{i}", t, session="s", user="one", created_at=200.0 + i), None)]
            )
    with psycopg.connect(pg_url) as conn:
        contexts = dict(conn.execute("SELECT id, context FROM memories").fetchall())
    assert contexts["old"] == contexts["old2"] == "turn 0 word0 turn 1 word1"
    for i in range(len(turns)):
        assert contexts[f"b{i}"] == contexts[f"o{i}"] != ""


class TestTieredPostgresWriteBack(StoreContract):
    """The contract through a write-back hot tier in front of PostgreSQL."""

    @pytest.fixture(autouse=True)
    def _database(self, pg_url: str) -> None:
        self.url = pg_url

    def _tiered(self, clock: FakeClock) -> Store:
        from memoryspace.tiers import HotTier
        from memoryspace.tiers.store import TieredStore

        backing = PostgresStore(self.url, clock=clock)
        tier = HotTier(backing, capacity_records=3, write_policy="write_back", clock=clock)
        return TieredStore(backing, tier)

    def make_store(self, tmp_path: Path, clock: FakeClock) -> Store:
        return self._tiered(clock)

    def reopen(self, store: Store, clock: FakeClock) -> Store:
        return self._tiered(clock)


def test_schema_v2_folds_diacritics_in_a_database_written_before_it(pg_url: str) -> None:
    import psycopg

    with PostgresStore(pg_url) as store:
        store.insert([(make_memory("a", "a café in Zürich"), None)])
    with psycopg.connect(pg_url, autocommit=True) as conn:  # back to schema v1's text search
        conn.execute(
            "ALTER TEXT SEARCH CONFIGURATION memoryspace ALTER MAPPING FOR asciiword, "
            "asciihword, hword_asciipart, word, hword, hword_part WITH memoryspace_stem"
        )
        conn.execute("UPDATE memories SET context = context")
        conn.execute("UPDATE settings SET value = '1' WHERE key = 'schema.version'")
        found = conn.execute(
            "SELECT count(*) FROM memories WHERE tsv @@ to_tsquery('memoryspace', 'cafe')"
        ).fetchone()
        assert found == (0,)  # accents count again
    with PostgresStore(pg_url) as store:  # migrates: unaccent, every tsv computed again
        assert store.get_setting("schema.version") == str(SCHEMA_VERSION)
        assert [store.key_of("a")] == [k for k, _ in store.text_search(["cafe", "zurich"], 5)]
