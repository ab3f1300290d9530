"""The op log of a SQLite database: reading its entries (the change feed, a record's history,
what a vector index must follow, raw rows for replay) and applying raw entries (``LogRow``s,
from any backend) verbatim: same keys, same LSNs, the full text following, as the original
writes did. The entries themselves are described in ``memoryspace.store.oplog``.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence

from memoryspace.errors import NotFound
from memoryspace.models import Change, Memory, Op
from memoryspace.store import erasure, fts
from memoryspace.store.base import IndexDelta
from memoryspace.store.codec import COLUMNS, blob_vector, memory_from_state, row_values
from memoryspace.store.connections import Connections
from memoryspace.store.oplog import CHANGE_COLUMNS, LOG_COLUMNS, LogRow, change_from_row

PLACEHOLDERS = ", ".join("?" * len(COLUMNS.split(",")))
ASSIGNMENTS = ", ".join(f"{c.strip()} = ?" for c in COLUMNS.split(","))


def tags_json(memory: Memory) -> str:
    """The tags column's text, as the full-text index stores it."""
    return json.dumps(list(memory.tags), ensure_ascii=False)


def replay(conn: sqlite3.Connection, rows: Sequence[LogRow]) -> None:
    """Apply ``rows`` in order inside the caller's write transaction."""
    for row in rows:
        _lsn, _time, op, _id, key, before_json, after_json, blob, _actor = row
        if erasure.skipped_by_replay(op, before_json, after_json):
            conn.execute(
                f"INSERT INTO oplog({LOG_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", row
            )
            continue
        after = memory_from_state(after_json)
        before = memory_from_state(before_json)
        if op == Op.ADD:
            assert after is not None
            conn.execute(
                f"INSERT INTO memories (key, {COLUMNS}) VALUES (?, {PLACEHOLDERS})",
                (key, *row_values(after)),
            )
            fts.add(conn, key, after, tags_json(after))
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
            fts.change(conn, key, before, after, tags_json(after))
        if blob is not None:
            conn.execute("INSERT OR REPLACE INTO vectors(key, vector) VALUES (?, ?)", (key, blob))
        conn.execute(f"INSERT INTO oplog({LOG_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", row)
        if op != Op.DELETE:
            conn.execute("UPDATE memories SET version = ? WHERE key = ?", (row[0], key))


def changes(conn: sqlite3.Connection, since_lsn: int, limit: int | None) -> list[Change]:
    """Log entries after ``since_lsn``, oldest first, at most ``limit`` of them."""
    rows = conn.execute(
        f"SELECT {CHANGE_COLUMNS} FROM oplog o WHERE lsn > ? ORDER BY lsn LIMIT ?",
        (since_lsn, -1 if limit is None else limit),
    ).fetchall()
    return [change_from_row(row) for row in rows]


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
    return [change_from_row(row) for row in rows]


def index_deltas(db: Connections, since_lsn: int) -> Iterator[IndexDelta]:
    """What a vector index must apply to follow the log after ``since_lsn``, read in batches
    (a short read transaction per batch)."""
    last = since_lsn
    while True:
        with db.reading() as conn:
            rows = conn.execute(
                "SELECT lsn, op, key, vector FROM oplog WHERE lsn > ? AND "
                "(op IN ('add', 'delete', 'purge') OR vector IS NOT NULL) ORDER BY lsn LIMIT 2048",
                (last,),
            ).fetchall()
        if not rows:
            return
        for lsn, op, key, blob in rows:
            yield IndexDelta(lsn=lsn, op=Op(op), key=key, vector=blob_vector(blob))
        last = rows[-1][0]


def log_rows(conn: sqlite3.Connection, after_lsn: int, upto_lsn: int) -> list[LogRow]:
    """Raw log rows in (after_lsn, upto_lsn], oldest first."""
    return conn.execute(
        f"SELECT {LOG_COLUMNS} FROM oplog WHERE lsn > ? AND lsn <= ? ORDER BY lsn",
        (after_lsn, upto_lsn),
    ).fetchall()
