"""``purge`` on PostgreSQL (a real server: ``pg_server``): rows deleted, log tombstoned, every
past state without the purged records, and no table holding the erased words."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from memoryspace import Filter, HashingEmbedder, MemorySpace, NotFound, Op
from store_contract import FakeClock
from test_purge import _states, _word


@pytest.fixture
def ms(pg_url: str) -> Iterator[MemorySpace]:
    space = MemorySpace.open(pg_url, embedder=HashingEmbedder(), clock=FakeClock(1_000.0, 0.5))
    yield space
    space.close()


def test_purge_erases_a_user_from_every_table(ms: MemorySpace, pg_url: str) -> None:
    rng = random.Random(5)
    secret = [_word(rng) for _ in range(6)]
    kept = ms.add("bob keeps his notes", user="bob", session="s")
    first = ms.add(f"ana said {secret[0]}", user="ana", session="s")
    ms.update(first.id, content=f"ana said {secret[0]} and {secret[1]}")
    ms.checkpoint("before")
    gone = ms.add(f"ana wrote {secret[2]}", user="ana")
    ms.delete(gone.id)
    ms.add(f"ana adds {secret[3]}", user="ana", session="s", tags=[secret[4]])
    before = _states(ms)

    report = ms.purge(user="ana", actor="dpo")

    assert gone.id in report.ids and first.id in report.ids and len(report.ids) == 3
    assert report.records == 2 and report.log_entries == 5
    assert report.notes and "VACUUM" in report.notes[0]
    assert [c.op for c in ms.history(gone.id)] == [Op.ADD, Op.DELETE, Op.PURGE]
    assert all(c.before is None and c.after is None for c in ms.history(first.id))
    assert ms.history(first.id)[-1].actor == "dpo"
    with pytest.raises(NotFound):
        ms.get(first.id)
    assert ms.get(kept.id).content == "bob keeps his notes"
    after = _states(ms)
    for lsn, state in before.items():
        assert after[lsn] == {i: s for i, s in state.items() if i not in report.ids}
    assert ms.store.count(Filter(user="ana")) == 0
    with psycopg.connect(pg_url) as conn:
        for table in ("memories", "oplog"):
            text = conn.execute(f"SELECT string_agg(t::text, ' ') FROM {table} t").fetchone()
            assert text is not None and text[0] is not None
            assert not [w for w in secret if w in text[0]], table
    hits = ms.search(f"ana said {secret[0]}", k=5)
    assert all(hit.memory.user == "bob" for hit in hits)


def test_a_purged_sqlite_database_migrates_to_postgres(tmp_path: Path, pg_url: str) -> None:
    from memoryspace.store.migrate import migrate
    from memoryspace.store.postgres import PostgresStore
    from memoryspace.store.sqlite import SQLiteStore

    with MemorySpace.open(tmp_path / "source.db", embedder="hashing") as ms:
        keep = ms.add("bob keeps this", user="bob", session="s")
        gone = ms.add("ana said zqmigrationword", user="ana", session="s")
        ms.update(gone.id, content="ana said zqmigrationword twice")
        ms.purge([gone.id])
    with SQLiteStore(tmp_path / "source.db") as source, PostgresStore(pg_url) as target:
        assert migrate(source, target).differences == ()
        assert [m.id for m in target.scan()] == [keep.id]
        assert [c.op for c in target.history(gone.id)] == [Op.ADD, Op.UPDATE, Op.PURGE]
