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


def _vector_indexes(url: str) -> dict[str, str]:
    import psycopg

    with psycopg.connect(url) as conn:
        return {
            str(name): str(sql)
            for name, sql in conn.execute(
                "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'vectors' "
                "AND indexname LIKE 'vectors_hnsw_%'"
            )
        }


def test_a_dimension_gets_its_hnsw_cosine_index_once_it_holds_the_threshold(pg_url: str) -> None:
    with PostgresStore(pg_url, hnsw_threshold=3) as store:
        store.insert([(make_memory("a"), vec(1, 0, 0)), (make_memory("b"), vec(0, 1, 0, 0))])
        assert _vector_indexes(pg_url) == {}  # below the threshold: exact scans
        assert [int(k) for k in store.nearest(vec(1, 0, 0), 2)[0]] == [1]
        assert not store.has_vector_index(3)
        store.insert([(make_memory("c"), vec(0, 1, 0))])
        store.insert([(make_memory(f"d{i}"), vec(0, 0, 1)) for i in range(5)])  # one batch
        indexes = _vector_indexes(pg_url)
        assert set(indexes) == {"vectors_hnsw_3"}  # dimension 4 holds one vector: none
        assert "hnsw" in indexes["vectors_hnsw_3"]
        assert "vector_cosine_ops" in indexes["vectors_hnsw_3"]
        assert store.has_vector_index(3) and not store.has_vector_index(4)
        assert store.build_vector_index(4)  # on demand, whatever the count
        assert set(_vector_indexes(pg_url)) == {"vectors_hnsw_3", "vectors_hnsw_4"}
        keys, scores = store.nearest(vec(0, 1, 0), 2)
        assert [int(k) for k in keys][:1] == [3] and float(scores[0]) == pytest.approx(1.0)


def test_bulk_load_builds_the_index_once_at_its_end(pg_url: str) -> None:
    with PostgresStore(pg_url, hnsw_threshold=4) as store:
        with store.bulk_load():
            for i in range(3):
                store.insert([(make_memory(f"m{i}{j}"), vec(1, i, j)) for j in range(3)])
            assert _vector_indexes(pg_url) == {}  # 9 vectors, past the threshold: deferred
        assert set(_vector_indexes(pg_url)) == {"vectors_hnsw_3"}
        assert store.vector_count(3) == 9


def test_an_index_left_invalid_by_a_failed_build_is_built_again(pg_url: str) -> None:
    import psycopg

    with PostgresStore(pg_url, hnsw_threshold=2) as store:
        store.insert([(make_memory("a"), vec(1, 0, 0))])
        with psycopg.connect(pg_url, autocommit=True) as conn:
            # What a concurrent build killed half way leaves: an index marked invalid.
            conn.execute(
                "CREATE INDEX vectors_hnsw_3 ON vectors USING hnsw "
                "((embedding::vector(3)) vector_cosine_ops) WHERE vector_dims(embedding) = 3"
            )
            conn.execute(
                "UPDATE pg_index SET indisvalid = false "
                "WHERE indexrelid = 'vectors_hnsw_3'::regclass"
            )
        assert not store.has_vector_index(3)
        store.insert([(make_memory("b"), vec(0, 1, 0))])  # due: the invalid one is replaced
        assert store.has_vector_index(3)
        with psycopg.connect(pg_url) as conn:
            row = conn.execute(
                "SELECT indisvalid FROM pg_index WHERE indexrelid = 'vectors_hnsw_3'::regclass"
            ).fetchone()
        assert row == (True,)


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
