"""Where a SQLite database's bytes go, from SQLite's ``dbstat`` virtual table.

Every table and index is put in one part: the records (``memories`` and its indexes, access
counts, settings), the op log (``oplog*``), the stored vectors (``vectors*``), the full-text index
(``memories_fts*``) and free pages; the vector index files beside the database and the WAL are
counted from the file system.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

PARTS = ("records", "log", "vectors", "fulltext", "free", "index_files", "wal")


def part_of(name: str) -> str:
    """The part a table or index named ``name`` belongs to."""
    if name.startswith("memories_fts"):
        return "fulltext"
    if name.startswith("oplog") or name.startswith("op_log"):
        return "log"
    if name.startswith("vectors"):
        return "vectors"
    return "records"


def breakdown(database: Path) -> dict[str, int] | None:
    """Bytes per part (see ``PARTS``) of the SQLite file ``database`` and the files beside it,
    or None when this SQLite build has no ``dbstat`` table."""
    parts = dict.fromkeys(PARTS, 0)
    connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        try:
            rows = connection.execute(
                "SELECT name, sum(pgsize) FROM dbstat GROUP BY name"
            ).fetchall()
        except sqlite3.OperationalError:
            return None
        page_size = connection.execute("PRAGMA page_size").fetchone()[0]
        parts["free"] = connection.execute("PRAGMA freelist_count").fetchone()[0] * page_size
    finally:
        connection.close()
    for name, size in rows:
        parts[part_of(str(name))] += int(size)
    for sidecar in database.parent.glob(database.name + "*"):
        if sidecar == database or not sidecar.is_file():
            continue
        if sidecar.name.endswith(("-wal", "-shm")):
            parts["wal"] += sidecar.stat().st_size
        else:
            parts["index_files"] += sidecar.stat().st_size
    return parts
