"""``SQLiteStore``: the store contract on a real file and in memory, plus what only SQLite does.

The SQLite-specific tests open the database file with the standard ``sqlite3`` module to check
what is on disk, independently of the store's own reading code.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import sqlite3
import threading
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from memoryspace.errors import Closed, Conflict, ReadOnly
from memoryspace.models import Kind, Memory, Op
from memoryspace.store.base import Store
from memoryspace.store.schema import SCHEMA_VERSION
from memoryspace.store.sqlite import SQLiteStore
from store_contract import (
    FakeClock,
    StoreContract,
    all_vectors,
    live_state,
    make_memory,
    vec,
)


class TestSQLiteFileStore(StoreContract):
    def make_store(self, tmp_path: Path, clock: FakeClock) -> SQLiteStore:
        return SQLiteStore(tmp_path / "space.db", clock=clock)

    def reopen(self, store: Store, clock: FakeClock) -> SQLiteStore:
        assert isinstance(store, SQLiteStore) and store.path is not None
        return SQLiteStore(store.path, clock=clock)


class TestSQLiteMemoryStore(StoreContract):
    def make_store(self, tmp_path: Path, clock: FakeClock) -> SQLiteStore:
        return SQLiteStore(":memory:", clock=clock)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "space.db"


@pytest.fixture
def store(db_path: Path) -> Iterator[SQLiteStore]:
    with SQLiteStore(db_path, clock=FakeClock()) as store:
        yield store


def raw(path: Path | str) -> sqlite3.Connection:
    """A plain read-only connection, to look at the file without the store's code."""
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True)


def open_fds_to(path: Path) -> int:
    fd_dir = Path("/proc/self/fd")
    count = 0
    for entry in fd_dir.iterdir():
        try:
            if os.readlink(entry).startswith(str(path)):
                count += 1
        except OSError:
            continue  # closed while we looked
    return count


# -- the file on disk


def test_a_file_store_uses_wal_and_records_its_schema_version(
    store: SQLiteStore, db_path: Path
) -> None:
    store.insert([(make_memory("a"), None)])
    conn = raw(db_path)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    finally:
        conn.close()
    assert store.path == str(db_path)


def test_a_memory_store_has_no_path_and_keeps_checkpoints_in_memory() -> None:
    with SQLiteStore(":memory:") as store:
        assert store.path is None
        assert store.checkpoint("cp").path is None


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc to count files")
def test_a_file_from_a_newer_version_is_refused_and_left_alone(db_path: Path) -> None:
    SQLiteStore(db_path).close()
    conn = sqlite3.connect(db_path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    before = db_path.read_bytes()
    with pytest.raises(Conflict, match="newer"):
        SQLiteStore(db_path)
    assert open_fds_to(db_path) == 0  # the refused store closed what it opened
    assert db_path.read_bytes() == before


def test_reopening_keeps_records_log_vectors_and_checkpoints(db_path: Path) -> None:
    clock = FakeClock()
    with SQLiteStore(db_path, clock=clock) as store:
        memory = make_memory("a", "persistent otter", tags=("t",), meta={"k": "ü"})
        store.insert([(memory, vec(1, 2, 3)), (make_memory("b"), None)])
        store.checkpoint("cp")
        store.update("a", {"content": "edited otter"})
        store.touch([store.key_of("a")], when=77.0)  # flushed on close
        state, log = live_state(store), store.changes()
    assert (db_path.parent / "space.db.checkpoints" / "cp.db").is_file()
    with SQLiteStore(db_path, clock=clock) as again:
        assert live_state(again) == state
        assert again.changes() == log
        assert [(c.name, c.lsn) for c in again.checkpoints()] == [("cp", 2)]
        assert again.get("a").access_count == 1
        assert [k for k, _ in again.text_search(["otter"], 5)] == [again.key_of("a")]
        again.restore("cp")
        assert again.get("a").content == "persistent otter"


def test_a_checkpoint_is_a_standalone_database(store: SQLiteStore, tmp_path: Path) -> None:
    store.insert([(make_memory("a", "snapshot content"), vec(1, 0))])
    checkpoint = store.checkpoint("cp")
    store.delete(["a"])
    assert checkpoint.path is not None
    assert not Path(checkpoint.path + "-wal").exists()
    conn = raw(checkpoint.path)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("SELECT id FROM memories").fetchall() == [("a",)]
        assert conn.execute("SELECT count(*) FROM oplog").fetchone()[0] == 1
    finally:
        conn.close()
    copy = tmp_path / "copy.db"
    shutil.copy(checkpoint.path, copy)
    with SQLiteStore(copy) as opened:
        assert opened.get("a").content == "snapshot content"
        assert opened.last_lsn() == 1
        assert all_vectors(opened) == {opened.key_of("a"): (1.0, 0.0)}


def test_a_closed_store_makes_no_checkpoint_files(db_path: Path) -> None:
    store = SQLiteStore(db_path)
    store.checkpoint("before")
    store.close()
    with pytest.raises(Closed):
        store.checkpoint("after")
    assert [p.name for p in (db_path.parent / "space.db.checkpoints").iterdir()] == ["before.db"]


def test_a_read_only_store_on_a_file_refuses_writes(store: SQLiteStore, db_path: Path) -> None:
    store.insert([(make_memory("a"), None)])
    with SQLiteStore(db_path, read_only=True) as reader:
        assert reader.get("a").id == "a"
        with pytest.raises(ReadOnly):
            reader.insert([(make_memory("b"), None)])
        reader.touch([reader.key_of("a")], when=5.0)  # ignored, not an error
    assert store.get("a").access_count == 0
    assert store.count() == 1


def test_two_store_objects_on_one_file_see_each_others_writes(
    store: SQLiteStore, db_path: Path
) -> None:
    with SQLiteStore(db_path) as other:
        other.insert([(make_memory("from-other"), None)])
        store.insert([(make_memory("from-store"), None)])
        assert (
            {m.id for m in store.scan()}
            == {m.id for m in other.scan()}
            == {"from-other", "from-store"}
        )
        assert [c.lsn for c in other.changes()] == [1, 2]


def test_the_tracer_sees_the_sql(db_path: Path) -> None:
    statements: list[str] = []
    with SQLiteStore(db_path, tracer=statements.append) as store:
        store.insert([(make_memory("a"), None)])
    assert any(s.startswith("INSERT INTO memories") for s in statements)
    assert any(s.startswith("INSERT INTO oplog") for s in statements)


# -- threads and processes


def test_threads_insert_concurrently_into_one_file(store: SQLiteStore) -> None:
    threads, per_thread = 8, 50
    start = threading.Barrier(threads)
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            start.wait()
            for i in range(per_thread):
                store.insert([(make_memory(f"t{n}-{i}", f"thread {n} item {i}"), vec(n, i))])
        except BaseException as exc:  # surfaced by the assertion below
            errors.append(exc)

    workers = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert errors == []
    total = threads * per_thread
    assert store.count() == total
    log = store.changes()
    assert [c.lsn for c in log] == list(range(1, total + 1))
    assert {c.id for c in log} == {f"t{n}-{i}" for n in range(threads) for i in range(per_thread)}
    assert len(all_vectors(store)) == total


def fork_child(body: Callable[[], object]) -> int:
    """Fork and run ``body()`` in the child, which exits 0 if it returned and 1 if it raised."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through its exit code
        code = 1
        try:
            signal.alarm(10)  # a hung child dies (exit code -14) instead of hanging the suite
            body()
            code = 0
        except BaseException:
            traceback.print_exc()
        finally:
            os._exit(code)
    return pid


def exit_code(pid: int) -> int:
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
@pytest.mark.multiprocess
def test_a_forked_child_uses_the_parents_store_object(store: SQLiteStore) -> None:
    store.insert([(make_memory("parent-1"), vec(1, 1))])
    parent_conn = store.connections.get()

    def child() -> None:
        assert store.get("parent-1").id == "parent-1"
        assert store.connections.get() is not parent_conn
        store.insert([(make_memory(f"child-{i}"), vec(i, 0)) for i in range(3)])
        store.update("parent-1", {"content": "edited by child"})

    assert exit_code(fork_child(child)) == 0
    assert store.get("parent-1").content == "edited by child"
    assert {m.id for m in store.scan()} == {"parent-1", "child-0", "child-1", "child-2"}
    store.insert([(make_memory("parent-2"), None)])  # the parent's connection still works
    assert [c.lsn for c in store.changes()] == [1, 2, 3, 4, 5, 6]
    conn = raw(str(store.path))
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        conn.close()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
@pytest.mark.multiprocess
def test_a_child_forked_while_a_parent_thread_writes_does_not_hang(
    store: SQLiteStore,
) -> None:
    writing, forking = threading.Event(), threading.Event()
    os.register_at_fork(before=forking.set)  # runs first, as the fork begins

    def writer() -> None:
        with store.connections.writing():  # a write transaction open when the fork begins
            store.insert([(make_memory("from-thread"), None)])
            writing.set()
            forking.wait(10)

    thread = threading.Thread(target=writer)
    thread.start()
    assert writing.wait(10)
    try:
        pid = fork_child(lambda: store.insert([(make_memory("from-child"), None)]))
    finally:
        forking.set()
        thread.join()
    assert exit_code(pid) == 0
    assert {m.id for m in store.scan()} == {"from-thread", "from-child"}
    assert store.get("from-child").id == "from-child"


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
@pytest.mark.multiprocess
def test_parent_and_child_write_at_the_same_time(store: SQLiteStore) -> None:
    store.insert([(make_memory("seed"), None)])
    count = 60

    def child() -> None:
        for i in range(count):
            store.insert([(make_memory(f"child-{i}"), None)])

    pid = fork_child(child)
    for i in range(count):
        store.insert([(make_memory(f"parent-{i}"), None)])
    assert exit_code(pid) == 0
    assert store.count() == 2 * count + 1
    assert [c.lsn for c in store.changes()] == list(range(1, 2 * count + 2))


# -- the full-text index follows the records


VOCABULARY = ["otter", "falcon", "cedar", "harbor", "violet", "quartz", "meadow", "lantern"]


def test_full_text_index_matches_the_records_after_random_writes(
    store: SQLiteStore, db_path: Path
) -> None:
    rng = random.Random(1234)
    ids = [f"m{i}" for i in range(12)]

    def random_memory(id: str) -> Memory:
        words = rng.sample(VOCABULARY, rng.randint(1, 3))
        tags = tuple(rng.sample(VOCABULARY, rng.randint(0, 2)))
        return make_memory(id, " ".join(words), tags=tags, kind=rng.choice(list(Kind)))

    for _ in range(300):
        id = rng.choice(ids)
        exists = store.get_many([id]) != []
        if not exists:
            store.insert([(random_memory(id), None)])
        elif rng.random() < 0.3:
            store.delete([id])
        else:
            fresh = random_memory(id).content_state()
            store.update(id, {k: v for k, v in fresh.items() if k != "id"})

    records = {store.key_of(m.id): m for m in store.scan()}
    conn = raw(db_path)
    try:
        for word in VOCABULARY:
            indexed = {
                r[0]
                for r in conn.execute(
                    "SELECT rowid FROM memories_fts WHERE memories_fts MATCH ?", (word,)
                )
            }
            expected = {k for k, m in records.items() if word in (*m.content.split(), *m.tags)}
            assert indexed == expected, word
    finally:
        conn.close()
    assert {c.op for c in store.changes()} == {Op.ADD, Op.UPDATE, Op.DELETE}
    assert len(records) > 3


def test_vectors_are_stored_as_little_endian_float32(store: SQLiteStore, db_path: Path) -> None:
    wide = np.array([1.5, -2.0], dtype=np.float64)
    store.insert([(make_memory("a"), wide)])  # type: ignore[list-item]  # a float64 caller
    conn = raw(db_path)
    try:
        blob = conn.execute("SELECT vector FROM vectors").fetchone()[0]
    finally:
        conn.close()
    assert np.frombuffer(blob, dtype="<f4").tolist() == [1.5, -2.0]
    got = store.vectors([store.key_of("a")])[store.key_of("a")]
    assert got.dtype == np.float32 and got.tolist() == [1.5, -2.0]
