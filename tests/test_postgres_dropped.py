"""Dropped connections under a running ``PostgresStore``, on the session's real server: killed
backends (``pg_terminate_backend``) and a loopback proxy (``pg_proxy``) that cuts connections
at ``COMMIT`` or refuses them as a stopped server would. Reads and writes are retried a bounded
number of times; a write is never applied twice nor half; then ``BackendUnavailable``."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import psycopg
import pytest

from memoryspace.errors import BackendUnavailable
from memoryspace.store.postgres import PostgresStore
from pg_proxy import CuttingProxy
from store_contract import make_memory, vec


@pytest.fixture
def proxy(pg_url: str) -> Iterator[CuttingProxy]:
    cutting = CuttingProxy(pg_url)
    try:
        yield cutting
    finally:
        cutting.close()


def _terminate_others(url: str) -> int:
    """Kill every other backend on this database; how many were killed."""
    with psycopg.connect(url, autocommit=True) as admin:
        rows = admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchall()
    return len(rows)


def _lsns(url: str) -> list[int]:
    with psycopg.connect(url, autocommit=True) as conn:
        return [int(r[0]) for r in conn.execute("SELECT lsn FROM oplog ORDER BY lsn")]


def test_reads_and_writes_go_on_after_the_backends_are_killed(pg_url: str) -> None:
    with PostgresStore(pg_url, backoff=0.05) as store:
        store.insert([(make_memory("a", content="alpha"), vec(1.0, 0.0))])
        assert _terminate_others(pg_url) >= 1
        assert store.get("a").content == "alpha"
        assert _terminate_others(pg_url) >= 1
        store.insert([(make_memory("b", content="beta"), vec(0.0, 1.0))])
        assert _terminate_others(pg_url) >= 1
        assert [key for key, _ in store.text_search(["beta"], 5)] == [store.key_of("b")]
        assert store.count() == 2
    assert _lsns(pg_url) == [1, 2]


def test_a_write_whose_backend_is_killed_mid_transaction_is_run_again_once(pg_url: str) -> None:
    with PostgresStore(pg_url, backoff=0.05) as store:
        store.insert([(make_memory("first"), None)])
        holder = psycopg.connect(pg_url)  # holds the write lock, so the insert waits inside it
        try:
            holder.execute("SELECT pg_advisory_xact_lock(%s)", (_write_lock(),))
            done: list[object] = []
            writer = threading.Thread(
                target=lambda: done.append(store.insert([(make_memory("second"), None)]))
            )
            writer.start()
            waiting = _wait_for_waiter(pg_url)
            with psycopg.connect(pg_url, autocommit=True) as admin:
                admin.execute("SELECT pg_terminate_backend(%s)", (waiting,))
            time.sleep(0.2)  # the retry queues up behind the lock again
        finally:
            holder.rollback()
            holder.close()
        writer.join(timeout=60)
        assert done, "the insert did not finish"
        assert [m.id for m in store.scan()] == ["first", "second"]
    assert _lsns(pg_url) == [1, 2]


@pytest.mark.parametrize("when", ["before", "after"])
def test_a_commit_cut_off_is_applied_exactly_once(
    pg_url: str, proxy: CuttingProxy, when: str
) -> None:
    """Cut before COMMIT reaches the server: rolled back, so run again. Cut after: committed
    but unacknowledged; the log entry (LSN, time, id) proves it, so it is not run again."""
    with PostgresStore(proxy.url_of(pg_url), backoff=0.05) as store:
        store.insert([(make_memory("first"), None)])
        proxy.cut(when)  # type: ignore[arg-type]
        changes = store.insert([(make_memory("second"), vec(1.0, 0.0))])
        assert proxy.cuts == 1
        assert [c.lsn for c in changes] == [2]
        proxy.cut(when)  # type: ignore[arg-type]
        change = store.update("second", {"content": "edited"})
        assert proxy.cuts == 2
        assert change.lsn == 3
        assert store.get("second").content == "edited"
    assert _lsns(pg_url) == [1, 2, 3]


def test_a_caller_transaction_cut_at_commit_raises_or_stands(
    pg_url: str, proxy: CuttingProxy
) -> None:
    with PostgresStore(proxy.url_of(pg_url), backoff=0.05) as store:
        proxy.cut("before")
        lost = pytest.raises(BackendUnavailable, match="nothing in the transaction was written")
        with lost, store.transaction():
            store.insert([(make_memory("lost"), None)])
        proxy.cut("after")
        with store.transaction():  # committed: the log entry shows it, so no error
            store.insert([(make_memory("kept"), None)])
        assert [m.id for m in store.scan()] == ["kept"]
    assert _lsns(pg_url) == [1]


def test_a_server_that_stays_away_gives_backend_unavailable_after_bounded_retries(
    pg_url: str, proxy: CuttingProxy
) -> None:
    with PostgresStore(proxy.url_of(pg_url), retries=2, backoff=0.05, connect_timeout=2.0) as store:
        store.insert([(make_memory("a"), None)])
        proxy.refuse()
        with pytest.raises(BackendUnavailable, match=r"3 times .*pg_isready") as read_error:
            store.get("a")
        assert "***" in str(read_error.value) or "password" not in str(read_error.value)
        with pytest.raises(BackendUnavailable, match="3 times"):
            store.insert([(make_memory("b"), None)])
        proxy.accept()
        assert store.get("a").id == "a"  # back: the same store works again
        store.insert([(make_memory("c"), None)])
    assert _lsns(pg_url) == [1, 2]


def _write_lock() -> int:
    from memoryspace.store.postgres.schema import WRITE_LOCK

    return WRITE_LOCK


def _wait_for_waiter(url: str) -> int:
    """The pid of the backend waiting for the write lock."""
    deadline = time.monotonic() + 30
    with psycopg.connect(url, autocommit=True) as admin:
        while time.monotonic() < deadline:
            row = admin.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock' AND query LIKE '%pg_advisory_xact_lock%'"
            ).fetchone()
            if row is not None:
                return int(row[0])
            time.sleep(0.05)
    raise AssertionError("no backend waited for the write lock")
