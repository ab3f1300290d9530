"""A log that does not double the database: compact entries, vectors by reference,
``compact-log`` and ``vacuum`` (``memoryspace.store.logformat``, ``compaction``, ``vacuum``).

Real SQLite files, a real PostgreSQL server (``pg_server``), the CLI in a real process.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from memoryspace import MemorySpace
from memoryspace.errors import Conflict, InvalidInput, LogCompacted
from memoryspace.models import Memory
from memoryspace.store import logformat
from memoryspace.store.sqlite import SQLiteStore
from store_contract import FakeClock, live_state, make_memory, vec
from test_cli import cli
from test_store_properties import Run, check_log_properties, operations


def raw_log(path: Path) -> list[tuple[Any, ...]]:
    """(lsn, op, before, after, vector) of every entry, read with plain sqlite3."""
    with sqlite3.connect(path) as conn:
        return conn.execute(
            "SELECT lsn, op, before, after, vector FROM oplog ORDER BY lsn"
        ).fetchall()


def test_an_update_logs_only_what_it_changed_and_history_still_shows_full_records(
    tmp_path: Path,
) -> None:
    path = tmp_path / "space.db"
    clock = FakeClock()
    with SQLiteStore(path, clock=clock) as store:
        store.insert([(make_memory("a", "the red house by the river"), vec(1, 0))])
        states = [store.get("a")]
        for n in range(5):
            store.update("a", {"importance": n / 10})
            states.append(store.get("a"))
        store.delete(["a"])
        history = store.history("a")
    rows = raw_log(path)
    assert json.loads(rows[1][2]) == {"importance": 0.5}  # the old value
    assert json.loads(rows[1][3]) == {logformat.CHAIN: 1, "importance": 0.0}
    assert rows[-1][2:4] == (logformat.DELETED, None)
    strip = {"access_count": 0, "last_access": None}
    assert [c.after for c in history[:-1]] == [s.evolve(**strip) for s in states]
    assert [c.before for c in history[1:]] == [s.evolve(**strip) for s in states]
    assert history[-1].after is None


def test_every_keyframe_every_th_update_is_a_full_state_and_a_feed_from_anywhere_agrees(
    tmp_path: Path,
) -> None:
    path = tmp_path / "space.db"
    with SQLiteStore(path, clock=FakeClock(step=1)) as store:
        store.insert([(make_memory(id), None) for id in ("a", "b")])
        for n in range(2 * logformat.KEYFRAME_EVERY + 3):
            store.update("a" if n % 3 else "b", {"importance": (n % 10) / 10, "tags": (str(n),)})
        whole = store.changes(0)
        for since in range(0, store.last_lsn(), 7):
            assert store.changes(since, limit=9) == whole[since : since + 9]
    a_updates = [
        r
        for r in raw_log(path)
        if r[1] == "update" and r[0] in {c.lsn for c in whole if c.id == "a"}
    ]
    full = [n for n, r in enumerate(a_updates, 1) if "id" in json.loads(r[3])]
    assert full == [logformat.KEYFRAME_EVERY]  # a's 32nd update; b has fewer


def test_vectors_are_referenced_and_move_into_the_log_when_replaced_or_deleted(
    tmp_path: Path,
) -> None:
    path = tmp_path / "space.db"
    with SQLiteStore(path) as store:
        store.insert([(make_memory("a"), vec(1, 2)), (make_memory("b"), vec(3, 4))])
        assert [r[4] for r in raw_log(path)] == [b"", b""]  # both are the current vectors
        store.update("a", {"importance": 0.9})  # no vector: nothing moves
        store.update("a", {"importance": 0.1}, vector=vec(5, 6))
        store.delete(["b"])
        rows = raw_log(path)
        assert rows[0][4] == vec(1, 2).tobytes()  # replaced: copied into the add
        assert rows[1][4] == vec(3, 4).tobytes()  # deleted: copied into b's add
        assert rows[2][4] is None and rows[3][4] == b""
        resolved = [row[7] for row in store.log_rows(0, store.last_lsn())]
        assert resolved == [
            vec(1, 2).tobytes(),
            vec(3, 4).tobytes(),
            None,
            vec(5, 6).tobytes(),
            None,
        ]
        for lsn, a_vector in ((2, (1.0, 2.0)), (3, (1.0, 2.0)), (4, (5.0, 6.0))):
            past = store.as_of(lsn)
            try:
                assert live_state(past)["a"][1] == a_vector
            finally:
                past.close()


@settings(max_examples=30, deadline=None)
@given(ops=st.lists(operations, min_size=1, max_size=25), data=st.data())
def test_with_a_keyframe_every_third_update_the_log_still_rebuilds_every_state(
    ops: list[Any], data: st.DataObject
) -> None:
    keyframes = logformat.KEYFRAME_EVERY
    logformat.KEYFRAME_EVERY = 3  # keyframes and walks back over them, within a short run
    try:
        clock = FakeClock(step=0.5)
        with SQLiteStore(":memory:", clock=clock) as store:
            run = Run(store, clock)
            for op in ops:
                run.apply(op)
            check_log_properties(run, data)
    finally:
        logformat.KEYFRAME_EVERY = keyframes


def downgrade_to_full_state_log(path: Path, history: dict[str, list[Any]]) -> None:
    """Rewrite a database's log as MemorySpace wrote it before compact entries (schema 5):
    full states in every entry, every vector copied, no triggers."""
    with sqlite3.connect(path) as conn:
        conn.execute("DROP TRIGGER vectors_replaced")
        conn.execute("DROP TRIGGER vectors_deleted")
        conn.execute("DROP INDEX oplog_vector_ref")
        for changes in history.values():
            for change in changes:
                state = change.to_dict()
                conn.execute(
                    "UPDATE oplog SET before = ?, after = ? WHERE lsn = ?",
                    (
                        None if state["before"] is None else json.dumps(state["before"]),
                        None if state["after"] is None else json.dumps(state["after"]),
                        change.lsn,
                    ),
                )
        conn.execute(
            "UPDATE oplog SET vector = (SELECT v.vector FROM vectors v WHERE v.key = oplog.key) "
            "WHERE vector = x''"
        )
        conn.execute("PRAGMA user_version = 5")


def test_an_old_full_state_log_is_migrated_in_place_and_reads_the_same(tmp_path: Path) -> None:
    path = tmp_path / "space.db"
    with SQLiteStore(path, clock=FakeClock(step=1)) as store:
        store.insert([(make_memory(id, f"memory {id}"), vec(len(id), 1)) for id in ("a", "bb")])
        for n in range(logformat.KEYFRAME_EVERY + 2):
            store.update("a", {"importance": (n % 10) / 10})
        store.update("bb", {"content": "changed"}, vector=vec(7, 7))
        store.delete(["bb"])
        history = {id: store.history(id) for id in ("a", "bb")}
        feed, state, last = store.changes(0), live_state(store), store.last_lsn()
    downgrade_to_full_state_log(path, history)
    assert all("id" in json.loads(r[3]) for r in raw_log(path) if r[1] == "update")
    full_bytes = sum(len(r[2] or "") + len(r[3] or "") + len(r[4] or b"") for r in raw_log(path))

    with SQLiteStore(path) as store:
        assert {id: store.history(id) for id in ("a", "bb")} == history
        assert store.changes(0) == feed and live_state(store) == state
        past = store.as_of(3)
        try:
            assert live_state(past)["bb"][1] == (2.0, 1.0)
        finally:
            past.close()
        store.update("a", {"importance": 0.25}, vector=vec(9, 9))  # the triggers exist again
        assert store.history("a")[-1].before == history["a"][-1].after
        assert live_state(store.as_of(last))["a"][1] == (1.0, 1.0)
    rows = raw_log(path)
    compact_bytes = sum(len(r[2] or "") + len(r[3] or "") + len(r[4] or b"") for r in rows[:-1])
    assert compact_bytes < full_bytes / 3
    assert [r[1] for r in rows if r[4] == b""] == ["update"]  # only a's current vector


def checkpointed_space(path: Path) -> MemorySpace:
    ms = MemorySpace.open(path, embedder="hashing")
    ms.add_many([{"id": f"m{n}", "content": f"note {n} about rivers"} for n in range(6)])
    ms.update("m1", importance=0.9)
    ms.delete("m2")
    return ms


def test_compact_log_needs_a_checkpoint_then_drops_what_it_holds(tmp_path: Path) -> None:
    with checkpointed_space(tmp_path / "space.db") as ms:
        with pytest.raises(Conflict, match="take one first"):
            ms.compact_log(ms.lsn)
        with pytest.raises(InvalidInput):
            ms.compact_log(1.5)  # type: ignore[arg-type]
        middle = ms.checkpoint("middle")
        ms.update("m1", importance=0.2)
        ms.update("m3", content="a new note about stones")
        ms.delete("m4")
        history = {id: ms.history(id) for id in ("m1", "m3", "m4")}
        state, feed = live_state(ms.store), ms.changes(middle.lsn)
        result = ms.compact_log("middle")
        assert (result.horizon, result.checkpoint) == (middle.lsn, "middle")
        assert result.dropped == middle.lsn and result.kept == 3
        assert live_state(ms.store) == state and ms.changes(middle.lsn) == feed
        for id in ("m1", "m3", "m4"):  # the entries kept still read as full records
            assert ms.history(id) == [c for c in history[id] if c.lsn > middle.lsn]
        with pytest.raises(LogCompacted, match=f"up to LSN {middle.lsn}"):
            ms.changes(0)
        with pytest.raises(LogCompacted):
            ms.as_of(middle.lsn - 1)
        with pytest.raises(LogCompacted):
            ms.restore(None, to_lsn=2)
        past = ms.as_of(middle.lsn + 1)
        try:
            assert past.get("m1").importance == 0.2 and past.get("m3").content.startswith("note")
        finally:
            past.close()
        ms.restore("middle")
        assert ms.get("m4").content == "note 4 about rivers"
        assert [h.memory.id for h in ms.search("stones", k=3)] != ["m3"]


def test_an_index_saved_before_the_horizon_is_rebuilt_on_open(tmp_path: Path) -> None:
    from memoryspace.store.compaction import compact_log

    path = tmp_path / "space.db"
    with checkpointed_space(path) as ms:
        saved_at = ms.lsn  # the index is saved beside the database on close
    with SQLiteStore(path) as store:  # another process, without the index
        store.delete(["m0", "m3"])
        store.checkpoint("later")
        compact_log(store, "later")
    with MemorySpace.open(path, embedder="hashing") as ms:
        assert ms.index.rebuilt and ms.index.lsn > saved_at
        ids = {h.memory.id for h in ms.search("note about rivers", k=10)}
        assert ids == {"m1", "m4", "m5"}


def test_compact_log_refuses_postgres_and_vacuum_reclaims_there(pg_url: str) -> None:
    from memoryspace.store.compaction import compact_log
    from memoryspace.store.postgres import PostgresStore
    from memoryspace.store.vacuum import vacuum

    with PostgresStore(pg_url) as store:
        store.insert([(make_memory(f"m{n}", "x" * 2000), vec(n, 1)) for n in range(300)])
        store.update("m1", {"importance": 0.9}, vector=vec(9, 9))
        store.checkpoint("now")
        with pytest.raises(Conflict, match="LSN tags"):
            compact_log(store, "now")
        rows = store.log_rows(0, store.last_lsn())
        assert rows[1][7] == vec(1, 1).tobytes() and rows[-1][7] == vec(9, 9).tobytes()
        store.delete([f"m{n}" for n in range(2, 300)])
        result = vacuum(store)
        assert result.bytes_after < result.bytes_before
        assert store.history("m1")[-1].after == store.get("m1").evolve(access_count=0)


def test_the_cli_compacts_and_vacuums_a_database(tmp_path: Path) -> None:
    path = tmp_path / "space.db"
    with MemorySpace.open(path, embedder="hashing") as ms:
        ms.add_many([{"content": f"{n} " + "words of a long note " * 20} for n in range(400)])
        ms.checkpoint("kept")
        ms.delete([m.id for m in list(ms.scan())[:300]])
    compacted = cli(path, "compact-log", "--keep-after", "kept", "--json")
    assert json.loads(compacted.stdout)["dropped"] == 400
    vacuumed = json.loads(cli(path, "vacuum", "--json").stdout)
    assert vacuumed["bytes_after"] < vacuumed["bytes_before"] / 2
    refused = cli(path, "compact-log", "--keep-after", "nothing", check=False)
    assert refused.returncode == 1 and "no checkpoint named 'nothing'" in refused.stderr
    with MemorySpace.open(path, embedder="hashing") as ms:
        assert ms.count() == 100 and ms.as_of(ms.lsn).count() == 100


def test_logformat_decodes_entries_with_no_payload() -> None:
    memory = Memory(id="a", content="x", created_at=1.0, updated_at=1.0)
    state = memory.content_state()
    assert logformat.step(state, None, None) == (None, None)  # an erased entry
    assert logformat.step(None, '{"importance": 0.5}', '{"_chain": 2, "importance": 1}') == (
        None,
        None,
    )
    before, after = logformat.step(None, '{"importance": 0.5}', json.dumps(state))
    assert after == state and before == {**state, "importance": 0.5}
    assert np.isclose(memory.importance, 0.5)


def test_a_postgres_log_from_before_references_upgrades_in_place(pg_url: str) -> None:
    import psycopg

    from memoryspace.store.postgres import PostgresStore

    with PostgresStore(pg_url) as store:
        store.insert([(make_memory("a"), vec(1, 2)), (make_memory("b"), vec(3, 4))])
        store.update("a", {"importance": 0.9})
        history = store.history("a")
    with psycopg.connect(pg_url, autocommit=True) as conn:  # as schema 1 wrote it
        conn.execute("DROP TRIGGER vectors_replaced ON vectors")
        conn.execute("DROP TRIGGER vectors_deleted ON vectors")
        conn.execute("DROP FUNCTION memoryspace_vector_to_log")
        conn.execute("DROP INDEX oplog_vector_ref")
        conn.execute(
            "UPDATE oplog o SET vector = v.vector FROM vectors v "
            "WHERE v.key = o.key AND length(o.vector) = 0"
        )
        conn.execute("UPDATE settings SET value = '1' WHERE key = 'schema.version'")
    with PostgresStore(pg_url) as store:
        assert store.history("a") == history
        store.update("a", {"importance": 0.1}, vector=vec(5, 6))
        store.delete(["b"])
        rows = store.log_rows(0, store.last_lsn())
        assert [row[7] for row in rows] == [
            vec(1, 2).tobytes(),
            vec(3, 4).tobytes(),
            None,
            vec(5, 6).tobytes(),
            None,
        ]
    with psycopg.connect(pg_url) as conn:
        stored = [
            bytes(r[0])
            for r in conn.execute("SELECT vector FROM oplog ORDER BY lsn")
            if r[0] is not None
        ]
    assert stored == [vec(1, 2).tobytes(), vec(3, 4).tobytes(), b""]


@settings(max_examples=25, deadline=None)
@given(
    before=st.lists(operations, min_size=1, max_size=15),
    after=st.lists(operations, max_size=15),
)
def test_after_compact_log_every_state_from_the_checkpoint_on_is_rebuilt(
    before: list[Any], after: list[Any]
) -> None:
    from memoryspace.store.compaction import compact_log

    clock = FakeClock(step=0.5)
    with SQLiteStore(":memory:", clock=clock) as store:
        run = Run(store, clock)
        for op in before:
            run.apply(op)
        cut = store.checkpoint("cut")
        run.states[cut.lsn] = dict(run.model)
        for op in after:
            run.apply(op)
        histories = {id: store.history(id) for id in {c.id for c in store.changes()}}
        compact_log(store, "cut")
        assert live_state(store) == run.expected()
        for id, history in histories.items():
            kept = [c for c in history if c.lsn > cut.lsn or c.lsn == store.last_lsn()]
            if kept:
                assert store.history(id) == kept
        tagged = {0, *(c.lsn for c in store.checkpoints())}  # the empty state, checkpoints
        for lsn in sorted(run.states):
            if lsn < cut.lsn and lsn not in tagged:
                with pytest.raises(LogCompacted):
                    store.as_of(lsn).close()
                continue
            past = store.as_of(lsn)
            try:
                assert live_state(past) == run.expected(lsn)
            finally:
                past.close()
        latest = store.last_lsn()
        run.restore("cut", cut.lsn)  # back to the checkpoint, and forward again
        run.restore("cut", latest)
