"""``vacuum``: give the space freed by deletes and ``compact-log`` back to the file system.

SQLite: buffered access counts written, the full-text index merged (FTS5 ``optimize``), the
database rewritten without free pages (``VACUUM``) and the write-ahead log truncated.
PostgreSQL: ``VACUUM (FULL, ANALYZE)`` of MemorySpace's tables (rewritten compact; each is
locked while it is rewritten). Both report the bytes before and after.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from memoryspace.errors import Conflict, ReadOnly
from memoryspace.store.base import Store
from memoryspace.store.sqlite import SQLiteStore

if TYPE_CHECKING:  # psycopg is an optional dependency
    from memoryspace.store.postgres.store import PostgresStore

POSTGRES_TABLES = ("memories", "vectors", "access", "oplog", "settings", "checkpoints")


@dataclass(frozen=True, slots=True)
class Vacuumed:
    """Bytes the database took before and after ``vacuum``."""

    bytes_before: int
    bytes_after: int

    @property
    def reclaimed(self) -> int:
        return self.bytes_before - self.bytes_after

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "reclaimed": self.reclaimed}


def vacuum(store: Store) -> Vacuumed:
    """Reclaim the free space of ``store``'s database.

    Raises:
        ReadOnly: a read-only view or file.
        Conflict: the store is neither SQLite nor PostgreSQL.
        BackendUnavailable: another process held the database too long.
    """
    if store.read_only:
        raise ReadOnly("a read-only store cannot be vacuumed; open the database writable")
    store.flush()
    if isinstance(store, SQLiteStore):
        return _vacuum_sqlite(store)
    if type(store).__name__ == "PostgresStore":
        return _vacuum_postgres(store)  # type: ignore[arg-type]
    raise Conflict(f"vacuum knows SQLite and PostgreSQL stores, not {type(store).__name__}")


def sqlite_bytes(store: SQLiteStore) -> int:
    """The database's bytes: its file and write-ahead log (pages, for an in-memory one)."""
    if store.path is None:
        conn = store.connections.get()
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        return int(pages) * int(conn.execute("PRAGMA page_size").fetchone()[0])
    files = [store.path, store.path + "-wal"]
    return sum(os.path.getsize(f) for f in files if os.path.exists(f))


def _vacuum_sqlite(store: SQLiteStore) -> Vacuumed:
    before = sqlite_bytes(store)
    with store.connections.writing() as conn:
        conn.execute("INSERT INTO memories_fts(memories_fts) VALUES ('optimize')")
    conn = store.connections.get()  # VACUUM runs outside a transaction
    conn.execute("VACUUM")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return Vacuumed(before, sqlite_bytes(store))


def _postgres_bytes(store: PostgresStore) -> int:
    with store.connections.reading("measuring the database") as conn:
        row = conn.execute("SELECT pg_database_size(current_database())").fetchone()
    return 0 if row is None else int(str(row[0]))


def _vacuum_postgres(store: PostgresStore) -> Vacuumed:
    before = _postgres_bytes(store)
    with store.connections.reading("vacuuming") as conn:  # autocommit: VACUUM needs it
        for table in POSTGRES_TABLES:
            conn.execute(f"VACUUM (FULL, ANALYZE) {table}".encode())
    return Vacuumed(before, _postgres_bytes(store))
