"""The full-text index keeps no copy of the text (an external-content FTS5 table over the view
``memories_fts_source``), so every write must tell FTS5 exactly what it had indexed. Random
sequences of adds, updates that move memories between sessions, users and times, deletes,
purges, restores and log compaction run on a real file, and after each one FTS5's
``integrity-check`` compares the index with what the view says it should hold.
"""

from __future__ import annotations

import contextlib
import sqlite3
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from memoryspace.errors import Conflict, InvalidInput, NotFound
from memoryspace.models import Memory
from memoryspace.store import schema
from memoryspace.store.compaction import compact_log
from memoryspace.store.sqlite import SQLiteStore
from store_contract import FakeClock

IDS = [f"m{i}" for i in range(12)]
WORDS = ["apple", "river", "stone", "cloud", "ember", "tiger"]
CHECK = "INSERT INTO memories_fts(memories_fts, rank) VALUES ('integrity-check', 1)"

contents = st.lists(st.sampled_from(WORDS), min_size=1, max_size=3).map(" ".join)
sessions = st.sampled_from(["s1", "s1", "s1", "s2", None])
users = st.sampled_from(["u1", "u1", "u1", "u2"])
times = st.sampled_from([1.0, 2.0, 2.0, 3.0, 4.0])  # ties: order falls back to the key
tags = st.lists(st.sampled_from(["red", "blue"]), max_size=2, unique=True).map(tuple)
patches = st.fixed_dictionaries(
    {},
    optional={
        "content": contents,
        "tags": tags,
        "session": sessions,
        "user": users,
        "created_at": times,
        "importance": st.sampled_from([0.1, 0.9]),
    },
)
adds = st.tuples(st.just("add"), st.sampled_from(IDS), contents, sessions, users, times)
# Adds are listed five times so that dialogues grow longer than a context's reach.
operations = st.one_of(
    adds,
    adds,
    adds,
    adds,
    adds,
    st.tuples(st.just("update"), st.sampled_from(IDS), patches),
    st.tuples(st.just("update"), st.sampled_from(IDS), patches),
    st.tuples(st.just("delete"), st.sampled_from(IDS)),
    st.tuples(st.just("purge"), st.sampled_from(IDS)),
    st.tuples(st.just("checkpoint")),
    st.tuples(st.just("restore"), st.floats(0, 1)),
    st.tuples(st.just("compact")),
)


def check(conn: sqlite3.Connection) -> None:
    """FTS5's own check of the index against the view (raises when they differ)."""
    conn.execute(CHECK)


def apply(store: SQLiteStore, op: tuple[Any, ...], lsns: list[int]) -> None:
    kind, *args = op
    if kind == "add":
        id, content, session, user, when = args
        if _exists(store, id):
            return
        memory = Memory(id=id, content=content, session=session, user=user)
        store.insert([(memory.evolve(created_at=when, updated_at=when), None)])
    elif kind in ("update", "delete", "purge"):
        if not _exists(store, args[0]):
            return
        if kind == "update":
            store.update(args[0], args[1])
        elif kind == "delete":
            store.delete([args[0]])
        else:
            store.purge([args[0]])
    elif kind == "checkpoint":
        store.checkpoint("cp", overwrite=True)
    elif kind == "restore":
        target = lsns[min(int(args[0] * len(lsns)), len(lsns) - 1)]
        bases = [c.name for c in store.checkpoints() if c.lsn <= target]
        store.restore(bases[-1] if bases else None, to_lsn=target)
    elif kind == "compact" and store.checkpoints():
        compact_log(store, "cp")
    lsns.append(store.last_lsn())


def _exists(store: SQLiteStore, id: str) -> bool:
    try:
        store.get(id)
    except NotFound:
        return False
    return True


@settings(max_examples=40, deadline=None)
@given(ops=st.lists(operations, min_size=10, max_size=40))
def test_every_write_forgets_exactly_what_the_index_held(ops: list[Any]) -> None:
    with (
        tempfile.TemporaryDirectory() as folder,
        SQLiteStore(Path(folder) / "space.db", clock=FakeClock(step=0.5)) as store,
    ):
        lsns = [0]
        for op in ops:
            # A refused restore or compaction changes nothing.
            with contextlib.suppress(InvalidInput, Conflict, NotFound):
                apply(store, op, lsns)
            check(store.connections.get())
        view = store.as_of(store.last_lsn())  # replayed from a checkpoint or the log
        try:
            check(view.connections.get())
        finally:
            view.close()


def test_the_check_catches_a_wrong_delete(tmp_path: Path) -> None:
    with SQLiteStore(tmp_path / "space.db") as store:
        store.insert([(Memory(id="a", content="apple river", session="s1"), None)])
        conn = store.connections.get()
        check(conn)
        conn.execute(
            "INSERT INTO memories_fts(memories_fts, rowid, content, tags, context) "
            "VALUES ('delete', ?, 'stone', '[]', '')",
            (store.key_of("a"),),
        )
        with pytest.raises(sqlite3.DatabaseError):
            check(conn)


def _scores(conn: sqlite3.Connection, word: str) -> list[tuple[int, float]]:
    return conn.execute(
        "SELECT rowid, bm25(memories_fts, 1.0, 0.5, 0.3) FROM memories_fts "
        "WHERE memories_fts MATCH ? ORDER BY rowid",
        (word,),
    ).fetchall()


def test_a_database_with_the_old_index_migrates_with_the_same_scores(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with SQLiteStore(path) as store:
        for i in range(40):
            memory = Memory(
                id=f"m{i}",
                content=f"{WORDS[i % 6]} {WORDS[(i * 7) % 6]} turn {i}",
                session=f"s{i % 3}" if i % 5 else None,
                user=f"u{i % 2}",
                tags=("red",) if i % 4 == 0 else (),
            )
            store.insert([(memory.evolve(created_at=float(i // 2)), None)])
        store.delete(["m7"])
    # Turn it back into the previous schema: FTS5 holding its own copy of the text.
    conn = sqlite3.connect(path, isolation_level=None)
    old_version = schema.MIGRATIONS.index(schema._FTS_EXTERNAL_CONTENT)
    conn.executescript(
        "BEGIN;"
        "CREATE TABLE copy AS SELECT key, content, tags, context FROM memories_fts_source;"
        "DROP TABLE memories_fts; DROP VIEW memories_fts_source;"
        "CREATE VIRTUAL TABLE memories_fts USING fts5(content, tags, context,"
        " tokenize='porter unicode61 remove_diacritics 2');"
        "INSERT INTO memories_fts(rowid, content, tags, context) SELECT * FROM copy;"
        f"DROP TABLE copy; PRAGMA user_version = {old_version}; COMMIT;"
    )
    assert conn.execute("SELECT count(*) FROM memories_fts_content").fetchone()[0] == 39
    before = {word: _scores(conn, word) for word in [*WORDS, "red", "turn"]}
    conn.close()

    with SQLiteStore(path) as store:
        conn = store.connections.get()
        assert conn.execute("PRAGMA user_version").fetchone()[0] == schema.SCHEMA_VERSION
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
        assert "memories_fts_content" not in tables  # FTS5's copy of the text is gone
        check(conn)
        assert {word: _scores(conn, word) for word in before} == before
        assert all(before.values())
        store.update("m8", {"session": "s1", "content": "ember moved"})
        store.delete(["m9"])
        check(conn)


def _transactions(statements: list[str]) -> list[list[str]]:
    """Traced statements cut at each ``BEGIN`` (FTS5's own statements, ``-- ...``, included)."""
    out: list[list[str]] = []
    for statement in statements:
        if statement.startswith("BEGIN") or not out:
            out.append([])
        out[-1].append(statement)
    return out


def test_segments_are_merged_between_writes_not_inside_them(tmp_path: Path) -> None:
    with SQLiteStore(tmp_path / "space.db") as store:
        conn = store.connections.get()
        config = dict(conn.execute("SELECT k, v FROM memories_fts_config"))
        assert (config["automerge"], config["usermerge"], config["crisismerge"]) == (0, 16, 32)
        statements: list[str] = []
        conn.set_trace_callback(statements.append)
        for i in range(300):
            words = f"{WORDS[i % 6]} {WORDS[(i * 5) % 6]} turn{i}"
            store.insert([(Memory(id=f"m{i}", content=words, session=f"s{i // 20}"), None)])
        conn.set_trace_callback(None)
        transactions = _transactions(statements)
        steps = [
            t
            for t in transactions
            if any(
                s.startswith("INSERT INTO memories_fts(memories_fts, rank) VALUES ('merge'")
                for s in t
            )
        ]
        adds = [t for t in transactions if any(s.startswith("INSERT INTO memories ") for s in t)]
        assert len(steps) == len(adds) == 300  # one step after each write, on its own
        # FTS5 drops merged segments' pages with a range delete: only ever in a step.
        dropped = "-- DELETE FROM 'main'.'memories_fts_data' WHERE id>=? AND id<=?"
        assert not any(dropped in t for t in adds)
        assert sum(dropped in t for t in steps) >= 10
        check(conn)
        assert store.text_search(["turn7"], 10)[0][0] == store.key_of("m7")
