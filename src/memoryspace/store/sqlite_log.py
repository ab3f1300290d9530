"""The op log of a SQLite database: appending entries (compact, see
``memoryspace.store.logformat``), reading them (the change feed, a record's history, what a
vector index must follow, raw rows for replay) and applying raw entries (``LogRow``s, from any
backend) verbatim: same keys, same LSNs, the full text following, as the original writes did.
The entries themselves are described in ``memoryspace.store.oplog``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence

from memoryspace.errors import NotFound
from memoryspace.models import Change, Memory, Op
from memoryspace.store import erasure, fts, logformat
from memoryspace.store.base import IndexDelta, Vector
from memoryspace.store.codec import (
    COLUMNS,
    SELECT_MEMORY,
    blob_vector,
    memory_from_row,
    row_values,
)
from memoryspace.store.connections import Connections
from memoryspace.store.logformat import RESOLVED_LOG_COLUMNS, VECTOR_REF, replayed
from memoryspace.store.loghorizon import HORIZON, check_kept
from memoryspace.store.oplog import CHANGE_COLUMNS, LOG_COLUMNS, LogRow

PLACEHOLDERS = ", ".join("?" * len(COLUMNS.split(",")))
ASSIGNMENTS = ", ".join(f"{c.strip()} = ?" for c in COLUMNS.split(","))


def append(
    conn: sqlite3.Connection,
    when: float,
    op: Op,
    key: int,
    before: Memory | None,
    after: Memory | None,
    vector: Vector | None,
    actor: str | None,
) -> int:
    """Log one change (a compact entry; ``vector``, already stored in ``vectors``, by
    reference) and return its LSN."""
    chain = None
    if op == Op.UPDATE and before is not None:
        found = conn.execute("SELECT after FROM oplog WHERE lsn = ?", (before.version,)).fetchone()
        chain = None if found is None else logformat.chain_of(found[0])
    before_json, after_json = logformat.encode(op, before, after, chain)
    cursor = conn.execute(
        "INSERT INTO oplog(time, op, id, key, before, after, vector, actor) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            when,
            str(op),
            (after or before).id,  # type: ignore[union-attr]
            key,
            before_json,
            after_json,
            None if vector is None else VECTOR_REF,
            actor,
        ),
    )
    return int(cursor.lastrowid or 0)


def put_vector(conn: sqlite3.Connection, key: int, blob: bytes) -> None:
    """Store a record's vector; the one it replaces moves into the log entry that referenced
    it (the ``vectors_replaced`` trigger)."""
    conn.execute(
        "INSERT INTO vectors(key, vector) VALUES (?, ?) "
        "ON CONFLICT(key) DO UPDATE SET vector = excluded.vector",
        (key, blob),
    )


def _current(conn: sqlite3.Connection, key: int) -> Memory | None:
    row = conn.execute(f"{SELECT_MEMORY} WHERE m.key = ?", (key,)).fetchone()
    return None if row is None else memory_from_row(row)[1]


def replay(conn: sqlite3.Connection, rows: Sequence[LogRow]) -> None:
    """Apply ``rows`` in order inside the caller's write transaction (compact entries apply
    to the record as it is; vectors are stored and logged by reference)."""
    for row in rows:
        _lsn, _time, op, _id, key, before_json, after_json, blob, _actor = row
        if erasure.skipped_by_replay(op, before_json, after_json):
            conn.execute(
                f"INSERT INTO oplog({LOG_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", row
            )
            continue
        current = None if op == Op.ADD else _current(conn, key)
        before, after = replayed(before_json, after_json, current)
        if op == Op.ADD:
            assert after is not None
            conn.execute(
                f"INSERT INTO memories (key, {COLUMNS}) VALUES (?, {PLACEHOLDERS})",
                (key, *row_values(after)),
            )
            fts.add(conn, key, after)
        elif op == Op.DELETE:
            assert before is not None
            for table in ("memories", "vectors", "access"):
                conn.execute(f"DELETE FROM {table} WHERE key = ?", (key,))
            fts.remove(conn, key, before)
        else:
            assert after is not None and before is not None
            conn.execute(
                f"UPDATE memories SET {ASSIGNMENTS} WHERE key = ?", (*row_values(after), key)
            )
            fts.change(conn, key, before, after)
        if blob is not None and op != Op.DELETE:
            put_vector(conn, key, blob)
            row = (*row[:7], VECTOR_REF, row[8])
        conn.execute(f"INSERT INTO oplog({LOG_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", row)
        if op != Op.DELETE:
            conn.execute("UPDATE memories SET version = ? WHERE key = ?", (row[0], key))


def older_entries(conn: sqlite3.Connection) -> logformat.Older:
    """``logformat.Older`` on this database: the newest entries of each id before an LSN
    (found on the ``oplog_id`` index alone, then read by LSN)."""

    def older(ids: Sequence[str], lsn: int, limit: int) -> list[tuple[object, ...]]:
        out: list[tuple[object, ...]] = []
        for start in range(0, len(ids), 500):
            chunk = list(ids[start : start + 500])
            marks = ", ".join("?" * len(chunk))
            lsns = [
                row[0]
                for row in conn.execute(
                    "SELECT lsn FROM (SELECT lsn, row_number() OVER "
                    f"(PARTITION BY id ORDER BY lsn DESC) AS n FROM oplog WHERE id IN ({marks}) "
                    "AND lsn < ?) WHERE n <= ?",
                    (*chunk, lsn, limit),
                )
            ]
            for at in range(0, len(lsns), 500):
                wanted = lsns[at : at + 500]
                out.extend(
                    conn.execute(
                        "SELECT id, lsn, before, after FROM oplog "
                        f"WHERE lsn IN ({', '.join('?' * len(wanted))})",
                        wanted,
                    ).fetchall()
                )
        return out

    return older


def changes(conn: sqlite3.Connection, since_lsn: int, limit: int | None) -> list[Change]:
    """Log entries after ``since_lsn``, oldest first, at most ``limit`` of them.

    Raises:
        LogCompacted: entries after ``since_lsn`` were dropped by ``compact-log``.
    """
    check_kept(_horizon(conn), since_lsn, "the change feed")
    rows = conn.execute(
        f"SELECT {CHANGE_COLUMNS} FROM oplog o WHERE lsn > ? ORDER BY lsn LIMIT ?",
        (since_lsn, -1 if limit is None else limit),
    ).fetchall()
    return logformat.changes_from_rows(rows, older_entries(conn))


def history(conn: sqlite3.Connection, id: str) -> list[Change]:
    """Every log entry of one memory, oldest first.

    Raises:
        NotFound: the log has no entry for that id.
    """
    rows = conn.execute(
        f"SELECT {CHANGE_COLUMNS} FROM oplog o WHERE id = ? ORDER BY lsn", (id,)
    ).fetchall()
    if not rows:
        raise NotFound(f"no memory with id {id!r} was ever stored")
    return logformat.changes_from_rows(rows, older_entries(conn))


def index_deltas(db: Connections, since_lsn: int) -> Iterator[IndexDelta]:
    """What a vector index must apply to follow the log after ``since_lsn``, read in batches
    (a short read transaction per batch).

    Raises:
        LogCompacted: entries after ``since_lsn`` were dropped by ``compact-log`` (rebuild
            the index from the store instead).
    """
    last = since_lsn
    with db.reading() as conn:
        check_kept(_horizon(conn), since_lsn, "a vector index")
    while True:
        with db.reading() as conn:
            rows = conn.execute(
                f"SELECT o.lsn, o.op, o.key, {logformat.RESOLVED_VECTOR} FROM oplog o "
                "WHERE o.lsn > ? AND (o.op IN ('add', 'delete', 'purge') OR o.vector IS NOT NULL) "
                "ORDER BY o.lsn LIMIT 2048",
                (last,),
            ).fetchall()
        if not rows:
            return
        for lsn, op, key, blob in rows:
            yield IndexDelta(lsn=lsn, op=Op(op), key=key, vector=blob_vector(blob))
        last = rows[-1][0]


def log_rows(conn: sqlite3.Connection, after_lsn: int, upto_lsn: int) -> list[LogRow]:
    """Raw log rows in (after_lsn, upto_lsn], oldest first, vectors resolved.

    Raises:
        LogCompacted: entries after ``after_lsn`` were dropped by ``compact-log``.
    """
    if after_lsn < upto_lsn:
        check_kept(_horizon(conn), after_lsn, "replaying the log")
    return conn.execute(
        f"SELECT {RESOLVED_LOG_COLUMNS} FROM oplog o WHERE o.lsn > ? AND o.lsn <= ? ORDER BY o.lsn",
        (after_lsn, upto_lsn),
    ).fetchall()


def _horizon(conn: sqlite3.Connection) -> int:
    """The LSN up to which ``compact-log`` dropped the log (0 when it never ran)."""
    row = conn.execute("SELECT value FROM settings WHERE key = ?", (HORIZON,)).fetchone()
    return 0 if row is None else int(row[0])
