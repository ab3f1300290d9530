"""The op log on PostgreSQL: appending entries (LSNs in commit order), reading them back, and
waking tailers with ``LISTEN``/``NOTIFY``.

Writers hold the write lock (``connections.Connections.writing``) while they append, so
``max(lsn) + 1`` read inside the transaction is the next LSN in commit order, gapless (see
``store.py`` for why a sequence would not do). Each entry sends a ``NOTIFY`` on ``CHANNEL``
with its LSN, delivered when its transaction commits.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import psycopg

from memoryspace.models import Change, Memory, Op
from memoryspace.store import logformat
from memoryspace.store.base import Vector
from memoryspace.store.logformat import RESOLVED_LOG_COLUMNS, RESOLVED_VECTOR, VECTOR_REF
from memoryspace.store.oplog import CHANGE_COLUMNS, LOG_COLUMNS, LogRow
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
    """Log one change, compact (``memoryspace.store.logformat``; ``vector``, already stored,
    by reference), and announce it to listeners at commit."""
    id = (after or before).id  # type: ignore[union-attr]
    chain = None
    if op == Op.UPDATE and before is not None:
        found = conn.execute("SELECT after FROM oplog WHERE lsn = %s", (before.version,)).fetchone()
        chain = None if found is None else logformat.chain_of(_text(found[0]))
    before_json, after_json = logformat.encode(op, before, after, chain)
    conn.execute(
        f"INSERT INTO oplog({LOG_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
        (
            lsn,
            when,
            str(op),
            id,
            key,
            before_json,
            after_json,
            None if vector is None else VECTOR_REF,
            actor,
        ),
    )
    conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, str(lsn)))


def append_adds(
    conn: Conn,
    first_lsn: int,
    when: float,
    added: Sequence[tuple[int, Memory, bool]],
    actor: str | None,
) -> None:
    """Log a batch of adds (``(key, memory, has_vector)``) at LSNs ``first_lsn`` onwards in
    one pipelined statement, and one ``NOTIFY`` with the last: it only wakes tailers, who read
    every entry from the log."""
    with conn.cursor() as cursor:
        cursor.executemany(
            f"INSERT INTO oplog({LOG_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
            [
                (
                    first_lsn + offset,
                    when,
                    str(Op.ADD),
                    memory.id,
                    key,
                    *logformat.encode(Op.ADD, None, memory, None),
                    VECTOR_REF if has_vector else None,
                    actor,
                )
                for offset, (key, memory, has_vector) in enumerate(added)
            ],
        )
    conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, str(first_lsn + len(added) - 1)))


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def _older(conn: Conn) -> logformat.Older:
    def older(ids: Sequence[str], lsn: int, limit: int) -> list[tuple[object, ...]]:
        return conn.execute(
            "SELECT id, lsn, before, after FROM oplog WHERE lsn = ANY(SELECT lsn FROM ("
            "  SELECT lsn, row_number() OVER (PARTITION BY id ORDER BY lsn DESC) AS n"
            "  FROM oplog WHERE id = ANY(%s) AND lsn < %s) newest WHERE n <= %s)",
            (list(ids), lsn, limit),
        ).fetchall()

    return older


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
    return logformat.changes_from_rows(rows, _older(conn))


def history(conn: Conn, id: str) -> list[Change]:
    rows = conn.execute(
        f"SELECT {CHANGE_COLUMNS} FROM oplog o WHERE id = %s ORDER BY lsn", (id,)
    ).fetchall()
    return logformat.changes_from_rows(rows, _older(conn))


def delta_rows(
    conn: Conn, since_lsn: int, batch: int = 2048
) -> list[tuple[int, str, int, bytes | None]]:
    """(lsn, op, key, vector bytes) of the entries a vector index must follow."""
    rows = conn.execute(
        f"SELECT o.lsn, o.op, o.key, {RESOLVED_VECTOR} FROM oplog o WHERE o.lsn > %s AND "
        "(o.op IN ('add', 'delete', 'purge') OR o.vector IS NOT NULL) ORDER BY o.lsn LIMIT %s",
        (since_lsn, batch),
    ).fetchall()
    return [(int(a), str(b), int(c), None if d is None else bytes(d)) for a, b, c, d in rows]


def raw_rows(conn: Conn, after_lsn: int, upto_lsn: int) -> list[LogRow]:
    """Raw entries in (after_lsn, upto_lsn], vectors resolved: the format every backend
    replays."""
    rows = conn.execute(
        f"SELECT {RESOLVED_LOG_COLUMNS} FROM oplog o WHERE o.lsn > %s AND o.lsn <= %s "
        "ORDER BY o.lsn",
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
