"""Failure paths on real files: a full disk, read-only files and folders, bad paths, a locked or
damaged database, index and checkpoint files from another database, and ``close`` that always
releases its files. Every failure is a typed ``MemorySpaceError`` naming the path, and nothing
acknowledged is ever lost.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from memoryspace import (
    BackendUnavailable,
    Conflict,
    DiskFull,
    InvalidInput,
    MemorySpace,
    MemorySpaceError,
    NotFound,
    ReadOnly,
    Settings,
    SQLiteStore,
)
from memoryspace.store.connections import Connections

WORKERS = Path(__file__).parent / "workers"
SRC = Path(__file__).parent.parent / "src"


def open_space(path: Path, **options: object) -> MemorySpace:
    return MemorySpace.open(path, embedder="hashing", **options)  # type: ignore[arg-type]


def open_files_under(folder: Path) -> list[str]:
    """Paths under ``folder`` this process holds open (Linux ``/proc/self/fd``)."""
    found = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith(str(folder)):
            found.append(target)
    return found


def integrity(path: Path) -> str:
    conn = sqlite3.connect(path)
    try:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        conn.close()


def manifest_lsn(db: Path) -> int:
    return int(json.loads(Path(f"{db}.vectors").read_text())["lsn"])


# -- close()


def test_close_catches_the_index_up_before_saving(tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    ms = open_space(db)
    ms.add_many([f"memory number {i}" for i in range(600)])
    last = ms.lsn
    ms.close()
    assert manifest_lsn(db) == last == 600
    with open_space(db) as again:
        assert not again.index.rebuilt and again.index.lsn == last


def test_close_after_many_single_adds_saves_the_last_lsn(tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    ms = open_space(db)
    for i in range(600):
        ms.add(f"memory number {i}")
    ms.close()
    assert manifest_lsn(db) == 600


def test_close_releases_every_file_when_a_folder_is_in_the_way(tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    ms = open_space(db)
    ids = [m.id for m in ms.add_many([f"memory number {i}" for i in range(50)])]
    ms.search("memory")  # opens the database, and the index follows it
    Path(f"{db}.vectors").mkdir()  # where the index manifest should go
    with pytest.raises(InvalidInput, match=r"m\.db\.vectors is in the way") as raised:
        ms.close()
    assert f"{db}.vectors" in str(raised.value)
    assert open_files_under(tmp_path) == []
    ms.close()  # a second close is a no-op
    Path(f"{db}.vectors").rmdir()
    with open_space(db) as again:
        assert {m.id for m in again.scan()} == set(ids)
        assert again.index.rebuilt
    assert integrity(db) == "ok"


def test_a_failed_periodic_index_save_does_not_fail_the_committed_add(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    db = tmp_path / "m.db"
    ms = open_space(db, settings=Settings(index_save_every=5))
    Path(f"{db}.vectors").mkdir()
    with caplog.at_level(logging.WARNING, logger="memoryspace"):
        added = ms.add_many([f"memory number {i}" for i in range(20)])
        ms.index.wait_for_save()  # the periodic save runs in the background
    assert "vector index was not saved" in caplog.text
    assert ms.count() == len(added) == 20
    with pytest.raises(InvalidInput):
        ms.close()
    assert open_files_under(tmp_path) == []


# -- bad paths and create=False


def test_opening_a_folder_names_it(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="is a folder") as raised:
        open_space(tmp_path)
    assert str(tmp_path) in str(raised.value)
    assert list(tmp_path.iterdir()) == []


def test_a_missing_parent_folder_is_not_created(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="does not exist; create it first"):
        open_space(tmp_path / "missing" / "m.db")
    assert list(tmp_path.iterdir()) == []


def test_a_non_sqlite_file_is_refused_and_left_alone(tmp_path: Path) -> None:
    notes = tmp_path / "notes.db"
    notes.write_bytes(b"these are my notes, not a database\n" * 200)
    before = notes.read_bytes()
    with pytest.raises(InvalidInput, match="is not a MemorySpace database") as raised:
        open_space(notes)
    assert str(notes) in str(raised.value)
    assert notes.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["notes.db"]


def test_create_false_refuses_a_missing_database_and_makes_no_files(tmp_path: Path) -> None:
    db = tmp_path / "typo.db"
    with pytest.raises(NotFound, match="no database at") as raised:
        open_space(db, create=False)
    assert str(db) in str(raised.value)
    assert list(tmp_path.iterdir()) == []
    with open_space(db) as ms:  # the default still creates
        ms.add("now it exists")
    with open_space(db, create=False) as ms:
        assert ms.count() == 1


def test_a_damaged_database_raises_a_typed_error(tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    with open_space(db) as ms:
        ms.add_many([f"memory number {i} " + "padding " * 50 for i in range(300)])
    size = db.stat().st_size
    with open(db, "r+b") as file:  # keep the header, scribble over every page after the first
        file.seek(4096)
        file.write(os.urandom(size - 4096))
    with pytest.raises(BackendUnavailable, match="is damaged") as raised, open_space(db) as ms:
        ms.search("memory number 7")
        list(ms.scan())
    assert str(db) in str(raised.value)
    assert not isinstance(raised.value.__cause__, MemorySpaceError)


def test_a_database_locked_beyond_the_wait_is_backend_unavailable(tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    SQLiteStore(db).close()
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        waiting = Connections(str(db), busy_timeout=0.05, lock_wait=0.2)
        with (
            pytest.raises(BackendUnavailable, match="stayed locked") as raised,
            waiting.writing() as conn,
        ):
            conn.execute("INSERT INTO settings(key, value) VALUES ('x', 'y')")
        assert str(db) in str(raised.value)
        waiting.close()
    finally:
        holder.execute("ROLLBACK")
        holder.close()


# -- durability


@pytest.mark.parametrize(("durability", "level"), [("normal", 1), ("full", 2)])
def test_durability_sets_sqlite_synchronous(tmp_path: Path, durability: str, level: int) -> None:
    settings = Settings(durability=durability)
    with (
        open_space(tmp_path / "m.db", settings=settings) as ms,
        ms.store.connections.reading() as c,
    ):
        assert c.execute("PRAGMA synchronous").fetchone()[0] == level


@pytest.mark.parametrize("bad", ["fast", "FULL", "", 2, None])
def test_durability_is_validated(bad: object) -> None:
    with pytest.raises(InvalidInput, match="durability must be 'normal' or 'full'"):
        Settings(durability=bad)  # type: ignore[arg-type]


# -- a full disk


@pytest.fixture
def small_filesystem() -> Iterator[Path]:
    """A 2 MiB tmpfs, mounted for the test and unmounted after (root only)."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a small tmpfs needs root; the RLIMIT_FSIZE variant still runs")
    folder = Path(tempfile.mkdtemp(prefix="memoryspace-full-"))
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(folder)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        folder.rmdir()
        pytest.skip(f"this machine does not allow mount: {mounted.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=True)
        folder.rmdir()


def test_a_full_disk_is_typed_and_writes_resume_once_space_is_freed(
    small_filesystem: Path,
) -> None:
    db = small_filesystem / "m.db"
    ballast = small_filesystem / "ballast"
    ballast.write_bytes(b"\0" * 600_000)
    ms = open_space(db)
    acknowledged: list[str] = []
    with pytest.raises(DiskFull) as raised:
        for batch in range(10_000):
            items = [f"record {batch}-{i} " + "lorem ipsum dolor sit amet " * 40 for i in range(10)]
            acknowledged += [m.id for m in ms.add_many(items)]
    assert str(db) in str(raised.value) and "free space" in str(raised.value)
    assert isinstance(raised.value, BackendUnavailable)
    assert len(acknowledged) > 0
    # Reads keep working on a full disk.
    assert ms.count() == len(acknowledged)
    assert ms.get(acknowledged[-1]).content.startswith("record")
    with pytest.raises(DiskFull, match="taking checkpoint 'when-full'"):
        ms.checkpoint("when-full")
    assert ms.checkpoints() == []
    assert not [p for p in small_filesystem.rglob("*partial*")]

    ballast.unlink()  # space is freed: the same handle writes again
    more = [m.id for m in ms.add_many([f"after freeing space {i}" for i in range(20)])]
    assert {m.id for m in ms.scan()} == set(acknowledged) | set(more)
    assert [hit.memory.id for hit in ms.search("after freeing space 7", k=1)] == [more[7]]

    fill_the_disk(small_filesystem / "ballast-again")
    # Saving the index needs space too: close says so, and still releases every file.
    with pytest.raises(DiskFull, match=r"m\.db\.vectors"):
        ms.close()
    assert open_files_under(small_filesystem) == []
    ms.close()  # a no-op

    (small_filesystem / "ballast-again").unlink()
    with open_space(db) as ms:
        assert {m.id for m in ms.scan()} == set(acknowledged) | set(more)
        assert [hit.memory.id for hit in ms.search("after freeing space 3", k=1)] == [more[3]]
    assert integrity(db) == "ok"
    assert manifest_lsn(db) == len(acknowledged) + len(more)


def fill_the_disk(path: Path) -> None:
    """Write ``path`` until its file system has no room left."""
    with open(path, "wb", buffering=0) as file:
        try:
            while True:
                file.write(b"\0" * 4096)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC


def test_a_file_size_limit_is_typed_and_writes_resume_when_lifted(tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    SQLiteStore(db).close()
    result = subprocess.run(
        [sys.executable, str(WORKERS / "fill_until_limit.py"), str(db), str(1_500_000)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(SRC)},
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["error"] in ("BackendUnavailable", "DiskFull"), report["message"]
    assert str(db) in report["message"]
    assert report["readable_while_full"] == len(report["acknowledged"]) > 0
    with open_space(db) as ms:
        assert {m.id for m in ms.scan()} == set(report["acknowledged"]) | set(report["after"])
    assert integrity(db) == "ok"


# -- read-only files, folders and file systems


def probe_without_write_access(db: Path) -> dict[str, object]:
    """Run the read-only probe in a process that file permissions bind: as root, one without
    the capabilities that override them (root may otherwise write any file)."""
    command = [sys.executable, str(WORKERS / "read_only_probe.py"), str(db)]
    if os.geteuid() == 0:
        if shutil.which("setpriv") is None:
            pytest.skip("as root, this needs setpriv (util-linux) to drop CAP_DAC_OVERRIDE")
        command = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search,-fowner", *command]
    result = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(SRC)},
    )
    assert result.returncode == 0, result.stderr
    report: dict[str, object] = json.loads(result.stdout)
    return report


@pytest.fixture
def shared_folder(tmp_path: Path) -> Iterator[Path]:
    """A folder whose permissions the test may take away; given back afterwards."""
    try:
        yield tmp_path
    finally:
        for path in [tmp_path, *tmp_path.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)


def make_small_database(db: Path) -> None:
    with open_space(db) as ms:
        ms.add_many(["Maren adopted a greyhound called Biscuit", "Tobi plays the cello"])


def test_a_read_only_file_reads_and_refuses_writes(shared_folder: Path) -> None:
    folder = shared_folder / "writable-folder"
    folder.mkdir()
    db = folder / "m.db"
    make_small_database(db)
    db.chmod(0o444)  # the folder stays writable: SQLite can make the WAL side files
    report = probe_without_write_access(db)
    assert report["count"] == 2 and report["immutable"] is False
    assert report["hits"] == ["Maren adopted a greyhound called Biscuit"]
    assert report["add_error"] == "ReadOnly"
    assert str(db) in str(report["add_message"]) and "writable" in str(report["add_message"])
    assert report["close_error"] is None
    with open_space(db) as ms:
        assert ms.count() == 2


def test_a_read_only_folder_reads_and_refuses_writes(shared_folder: Path) -> None:
    folder = shared_folder / "locked-folder"
    folder.mkdir()
    db = folder / "m.db"
    make_small_database(db)
    files_before = sorted(p.name for p in folder.iterdir())
    folder.chmod(0o555)  # no -wal/-shm files can be made here
    report = probe_without_write_access(db)
    assert report["count"] == 2 and report["immutable"] is True
    assert report["hits"] == ["Maren adopted a greyhound called Biscuit"]
    assert report["add_error"] == "ReadOnly"
    assert str(db) in str(report["add_message"])
    assert report["close_error"] is None
    assert sorted(p.name for p in folder.iterdir()) == files_before


def test_a_read_only_file_system_reads_and_refuses_writes(small_filesystem: Path) -> None:
    db = small_filesystem / "m.db"
    make_small_database(db)
    conn = sqlite3.connect(db, isolation_level=None)  # as if made before databases had ids
    conn.execute("DELETE FROM settings WHERE key = 'database.id'")
    conn.close()
    subprocess.run(["mount", "-o", "remount,ro", str(small_filesystem)], check=True)
    ms = open_space(db, create=False)
    assert ms.store.database_id is None  # it cannot be given one, and still reads
    assert ms.count() == 2
    assert ms.search("greyhound", k=1)[0].memory.content.startswith("Maren")
    with pytest.raises(ReadOnly, match="read-only") as raised:
        ms.add("this must not be stored")
    assert str(db) in str(raised.value)
    with pytest.raises(ReadOnly):
        ms.checkpoint("daily")
    ms.close()  # the index is not saved on a read-only database, and that is no error
    assert open_files_under(small_filesystem) == []
    with pytest.raises(ReadOnly, match="while creating the database"):
        open_space(small_filesystem / "new.db")


# -- identity: database ids, foreign and damaged index and checkpoint files


def test_each_database_gets_a_stable_random_id(tmp_path: Path) -> None:
    with open_space(tmp_path / "a.db") as a, open_space(tmp_path / "b.db") as b:
        first, other = a.store.database_id, b.store.database_id
    assert first is not None and other is not None and first != other
    assert len(first) == 32 and int(first, 16) >= 0
    with open_space(tmp_path / "a.db") as again:
        assert again.store.database_id == first
        assert again.stats()["database_id"] == first


def test_an_old_database_is_given_an_id(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    with open_space(db) as ms:
        ms.add("from before ids")
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("DELETE FROM settings WHERE key = 'database.id'")
    conn.close()
    with open_space(db) as ms:
        assert ms.store.database_id is not None and len(ms.store.database_id) == 32
        assert ms.count() == 1


def two_databases(tmp_path: Path) -> tuple[Path, Path, list[str], list[str]]:
    """Two databases of the same size and embedder but different memories, closed."""
    a, b = tmp_path / "a" / "memory.db", tmp_path / "b" / "memory.db"
    a.parent.mkdir()
    b.parent.mkdir()
    texts_a = [f"alpha fact {i} about {uuid.uuid4().hex}" for i in range(60)]
    texts_b = [f"beta note {i} on {uuid.uuid4().hex}" for i in range(60)]
    with open_space(a) as ms:
        ms.add_many(texts_a)
        ms.checkpoint("daily")
    with open_space(b) as ms:
        ms.add_many(texts_b)
        ms.checkpoint("daily")
    return a, b, texts_a, texts_b


def test_a_vector_index_from_another_database_is_rebuilt(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    a, b, _, texts_b = two_databases(tmp_path)
    for leftover in b.parent.glob("memory.db.vectors*"):
        leftover.unlink()
    for file in a.parent.glob("memory.db.vectors*"):
        shutil.copy(file, b.parent / file.name)
    with caplog.at_level(logging.WARNING), open_space(b) as ms:
        assert ms.index.rebuilt
        assert "another database" in caplog.text
        wrong = 0
        for memory in ms.scan():
            vector = ms.embedder.embed([memory.content])[0]
            keys, _ = ms.index.search(vector, 1)
            wrong += int(keys[0]) != ms.store.key_of(memory.id)
        assert wrong == 0
        assert ms.search(texts_b[7], k=1)[0].memory.content == texts_b[7]


def test_a_checkpoint_from_another_database_is_listed_and_refused(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    a, b, _, texts_b = two_databases(tmp_path)
    shutil.copy(Path(f"{a}.checkpoints") / "daily.db", Path(f"{b}.checkpoints") / "copied.db")
    with open_space(b) as ms:
        listed = {c.name: c for c in ms.checkpoints()}
        assert listed["daily"].damaged is None
        assert listed["copied"].damaged is not None
        assert "another database" in listed["copied"].damaged
        with pytest.raises(Conflict, match="another database"):
            ms.restore("copied")
        assert ms.count() == 60
        with caplog.at_level(logging.WARNING), ms.as_of(ms.lsn) as past:
            assert sorted(m.content for m in past.scan()) == sorted(texts_b)
        assert "copied" in caplog.text


@pytest.mark.parametrize("damage", ["truncated", "zeroed", "scribbled"])
def test_a_damaged_checkpoint_is_listed_and_refused(tmp_path: Path, damage: str) -> None:
    db = tmp_path / "m.db"
    with open_space(db) as ms:
        ms.add_many([f"memory {i} " + "padding " * 40 for i in range(200)])
        made = ms.checkpoint("daily")
        ms.add("after the checkpoint")
    assert made.path is not None
    file = Path(made.path)
    size = file.stat().st_size
    if damage == "truncated":
        with open(file, "r+b") as handle:
            handle.truncate(size // 2)
    elif damage == "zeroed":
        file.write_bytes(b"\0" * size)
    else:  # header and size intact, the pages after the first two are noise
        with open(file, "r+b") as handle:
            handle.seek(8192)
            handle.write(np.random.default_rng(7).bytes(size - 8192))
    with open_space(db) as ms:
        listed = ms.checkpoints()
        assert [c.name for c in listed] == ["daily"]  # never silently hidden
        if damage != "scribbled":
            assert listed[0].damaged is not None
        with pytest.raises(BackendUnavailable, match="damaged") as raised:
            ms.restore("daily")
        assert str(file) in str(raised.value)
        assert ms.count() == 201
        if listed[0].damaged is not None:  # as_of goes around it, through the log
            with ms.as_of(made.lsn) as past:
                assert past.count() == 200
        else:
            with pytest.raises(BackendUnavailable, match="damaged"):
                ms.as_of(made.lsn)


def test_checkpoints_work_in_a_folder_whose_name_looks_like_a_uri(tmp_path: Path) -> None:
    folder = tmp_path / "notes?mode=rw#1 %20"
    folder.mkdir()
    with open_space(folder / "m.db") as ms:
        ms.add("kept in an oddly named folder")
        ms.checkpoint("daily")
        ms.add("after the checkpoint")
        assert [(c.name, c.damaged) for c in ms.checkpoints()] == [("daily", None)]
        with ms.as_of(1) as past:
            assert [m.content for m in past.scan()] == ["kept in an oddly named folder"]
        ms.restore("daily")
        assert ms.count() == 1
