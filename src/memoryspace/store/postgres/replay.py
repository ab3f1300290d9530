"""Applying raw op-log entries (``LogRow``s, from any backend) to a PostgreSQL database verbatim:
same keys, same LSNs, the full text and dialogue context following, as the original writes did.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from memoryspace.errors import Conflict
from memoryspace.models import Memory, Op
from memoryspace.store import erasure
from memoryspace.store.base import Vector
from memoryspace.store.codec import blob_vector, memory_from_row, row_values
from memoryspace.store.logformat import VECTOR_REF, replayed
from memoryspace.store.oplog import LOG_COLUMNS, LogRow
from memoryspace.store.postgres import text
from memoryspace.store.postgres.connections import Conn
from memoryspace.store.postgres.sql import ASSIGNMENTS, COLUMNS, PLACEHOLDERS, SELECT_MEMORY


def replay(
    conn: Conn, rows: Sequence[LogRow], put_vector: Callable[[Conn, int, Vector], None]
) -> None:
    """Apply ``rows`` in order inside the caller's write transaction (compact entries apply
    to the record as it is; vectors are stored and logged by reference).

    ``put_vector(conn, key, vector)`` stores a vector (and its HNSW index).

    Raises:
        Conflict: the first row does not follow the database's last LSN.
    """
    if not rows:
        return
    found = conn.execute("SELECT COALESCE(max(lsn), 0) FROM oplog").fetchone()
    last = int(found[0]) if found else 0
    if int(rows[0][0]) != last + 1:
        raise Conflict(
            f"log entry {rows[0][0]} does not follow this database's last LSN {last}; "
            "replay the entries in order into a database that holds the ones before them"
        )
    for row in rows:
        lsn, _time, op, _id, key, before_json, after_json, blob, _actor = row
        if erasure.skipped_by_replay(op, before_json, after_json):
            conn.execute(
                f"INSERT INTO oplog({LOG_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                row,
            )
            continue
        current = None if op == Op.ADD else _current(conn, key)
        before, after = replayed(before_json, after_json, current)
        if op == Op.ADD:
            assert after is not None
            conn.execute(
                f"INSERT INTO memories (key, {COLUMNS}, version) VALUES (%s, {PLACEHOLDERS}, %s)",
                (key, *row_values(after), lsn),
            )
            text.refresh_around(conn, after, key)
        elif op == Op.DELETE:
            assert before is not None
            for table in ("memories", "vectors", "access"):
                conn.execute(f"DELETE FROM {table} WHERE key = %s", (key,))
            text.refresh_around(conn, before, key)
        else:
            assert after is not None and before is not None
            conn.execute(
                f"UPDATE memories SET {ASSIGNMENTS}, version = %s WHERE key = %s",
                (*row_values(after), lsn, key),
            )
            text.change(conn, key, before, after)
        vector = blob_vector(None if blob is None else bytes(blob))
        if vector is not None and op != Op.DELETE:
            put_vector(conn, key, vector)
            row = (*row[:7], VECTOR_REF, row[8])
        conn.execute(
            f"INSERT INTO oplog({LOG_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)", row
        )
    # Keys were given, not drawn: new records must be numbered after them.
    conn.execute(
        "SELECT setval(pg_get_serial_sequence('memories', 'key'), "
        "GREATEST((SELECT max(key) FROM memories), (SELECT max(key) FROM oplog), 1))"
    )


def _current(conn: Conn, key: int) -> Memory | None:
    row = conn.execute(f"{SELECT_MEMORY} WHERE m.key = %s", (key,)).fetchone()
    return None if row is None else memory_from_row(row)[1]
