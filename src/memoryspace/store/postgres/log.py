"""The op log on PostgreSQL: appending entries (LSNs in commit order), reading them back, and
waking tailers with ``LISTEN``/``NOTIFY``.

Writers hold the write lock (``connections.Connections.writing``) while they append, so
``max(lsn) + 1`` read inside the transaction is the next LSN in commit order, gapless (see
``store.py`` for why a sequence would not do). Each entry sends a ``NOTIFY`` on ``CHANNEL``
with its LSN, delivered when its transaction commits.
"""

from __future__ import annotations

from collections.abc import Callable

import psycopg

from memoryspace.models import Change, Memory, Op
from memoryspace.store.base import Vector
from memoryspace.store.codec import state_json, vector_blob
from memoryspace.store.oplog import CHANGE_COLUMNS, LOG_COLUMNS, LogRow, change_from_row
from memoryspace.store.postgres.connections import Conn, translate

CHANNEL = "memoryspace_changes"  # NOTIFY channel; the payload is the new LSN


def next_lsn(conn: Conn) -> int:
    """The next LSN; only under the write lock."""
    row = conn.execute("SELECT COALESCE(max(lsn), 0) + 1 FROM oplog").fetchone()
    assert row is not None
    return int(row[0])


def append(
    conn: Conn,
    lsn: int,
    when: float,
    op: Op,
    key: int,
    before: Memory | None,
    after: Memory | None,
    vector: Vector | None,
    actor: str | None,
) -> None:
    """Log one change (and announce it to listeners, at commit)."""
    id = (after or before).id  # type: ignore[union-attr]
    conn.execute(
        f"INSERT INTO oplog({LOG_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
        (
            lsn,
            when,
            str(op),
            id,
            key,
            state_json(before),
            state_json(after),
            vector_blob(vector),
            actor,
        ),
    )
    conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, str(lsn)))


def proof(lsn: int, when: float, id: str) -> Callable[[Conn], bool]:
    """Whether the entry appended as (``lsn``, ``when``, ``id``) is in the log: the test of
    whether its transaction committed, when the connection dropped while it did."""

    def committed(conn: Conn) -> bool:
        row = conn.execute(
            "SELECT 1 FROM oplog WHERE lsn = %s AND time = %s AND id = %s", (lsn, when, id)
        ).fetchone()
        return row is not None

    return committed


def changes(conn: Conn, since_lsn: int, limit: int | None) -> list[Change]:
    rows = conn.execute(
        f"SELECT {CHANGE_COLUMNS} FROM oplog o WHERE lsn > %s ORDER BY lsn LIMIT %s",
        (since_lsn, limit),
    ).fetchall()
    return [change_from_row(row) for row in rows]


def history(conn: Conn, id: str) -> list[Change]:
    rows = conn.execute(
        f"SELECT {CHANGE_COLUMNS} FROM oplog o WHERE id = %s ORDER BY lsn", (id,)
    ).fetchall()
    return [change_from_row(row) for row in rows]


def delta_rows(
    conn: Conn, since_lsn: int, batch: int = 2048
) -> list[tuple[int, str, int, bytes | None]]:
    """(lsn, op, key, vector bytes) of the entries a vector index must follow."""
    rows = conn.execute(
        "SELECT lsn, op, key, vector FROM oplog WHERE lsn > %s AND "
        "(op IN ('add', 'delete') OR vector IS NOT NULL) ORDER BY lsn LIMIT %s",
        (since_lsn, batch),
    ).fetchall()
    return [(int(a), str(b), int(c), None if d is None else bytes(d)) for a, b, c, d in rows]


def raw_rows(conn: Conn, after_lsn: int, upto_lsn: int) -> list[LogRow]:
    """Raw entries in (after_lsn, upto_lsn], in the format every backend replays."""
    rows = conn.execute(
        f"SELECT {LOG_COLUMNS} FROM oplog WHERE lsn > %s AND lsn <= %s ORDER BY lsn",
        (after_lsn, upto_lsn),
    ).fetchall()
    return [(*row[:7], None if row[7] is None else bytes(row[7]), row[8]) for row in rows]


def wait(url: str, read: Callable[[], list[Change]], timeout: float) -> list[Change]:
    """``read()``, after waiting up to ``timeout`` seconds for a ``NOTIFY`` when it is empty.

    The notification only wakes the waiter; ``read`` (the log) is the source of truth, so a
    lost notification delays, never loses.
    """
    found = read()
    if found or timeout <= 0:
        return found
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f"LISTEN {CHANNEL}")
            found = read()  # committed before LISTEN took effect
            if found:
                return found
            for _ in conn.notifies(timeout=timeout, stop_after=1):
                break
    except psycopg.Error as exc:
        raise translate(exc, url, "waiting for changes") from exc
    return read()
