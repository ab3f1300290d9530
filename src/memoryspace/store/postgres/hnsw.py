"""When a dimension's HNSW index is created: once it holds ``threshold`` vectors, by one
``CREATE INDEX CONCURRENTLY`` after the write that got it there has committed.

pgvector inserts into an HNSW graph one vector at a time, each a search of the graph, and that
dominated adding: about 8 ms a vector on the benchmark machine, while building the graph over
vectors already stored is one pass with parallel workers (pgvector's advice: load, then index).
Below the threshold an exact scan answers a search quickly (and exactly), as the SQLite side's
``ann_threshold`` exact index does, so a table is loaded with no graph to keep up and indexed
once. The build runs outside any write transaction: other writers keep adding (a concurrent
build blocks no writer) and searches go on by exact scan until the index is valid.

One process builds a dimension's index at a time (a session advisory lock, tried, not waited
for: whoever does not get it leaves the build to whoever has it). A build that failed half way
leaves an invalid index, which the next build drops first; one still being built is never seen
as failed, because its builder holds the lock.
"""

from __future__ import annotations

from memoryspace.store.postgres.connections import Conn
from memoryspace.store.postgres.schema import INDEX_LOCK

HNSW_MAX_DIMENSIONS = 2000  # pgvector's limit for an HNSW index on ``vector``
# Vectors of one dimension from which they get an HNSW index: the SQLite side's default
# ``ann_threshold``, below which an exact search takes a few milliseconds.
DEFAULT_THRESHOLD = 20_000
# ``maintenance_work_mem`` for a build, at least: pgvector builds fastest with the whole graph in
# memory (about 2 KB a 384-dimension vector); a build that outgrows it goes on, more slowly, by
# inserting the rest. A server configured with more keeps its own.
DEFAULT_BUILD_MEMORY = "512MB"


def index_name(dimension: int) -> str:
    return f"vectors_hnsw_{dimension}"


def state(conn: Conn, dimension: int) -> bool | None:
    """Whether the index of ``dimension`` is valid (True), being built or failed (False), or
    absent (None)."""
    row = conn.execute(
        "SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass(%s)",
        (index_name(dimension),),
    ).fetchone()
    return None if row is None else bool(row[0])


def due(conn: Conn, dimension: int, threshold: int) -> bool:
    """Whether ``dimension`` may have an index and holds at least ``threshold`` vectors: the
    memories' count first (one row the text statistics keep; a memory has at most one vector),
    then at most ``threshold`` vectors counted."""
    if not 0 < dimension <= HNSW_MAX_DIMENSIONS:
        return False
    memories = conn.execute("SELECT documents FROM text_totals").fetchone()
    if memories is not None and int(memories[0]) < threshold:
        return False
    row = conn.execute(
        "SELECT count(*) FROM (SELECT 1 FROM vectors WHERE vector_dims(embedding) = %s "
        "LIMIT %s) held",
        (dimension, threshold),
    ).fetchone()
    return row is not None and int(row[0]) >= threshold


def build(conn: Conn, dimension: int, *, memory: str | None = DEFAULT_BUILD_MEMORY) -> bool:
    """Create the HNSW index of ``dimension`` on ``conn`` (autocommit, in no transaction);
    True once it is valid, False when another process is building it.

    Raises:
        psycopg.Error: the build failed (the invalid index left is dropped by the next build).
    """
    lock = (INDEX_LOCK, dimension)
    row = conn.execute("SELECT pg_try_advisory_lock(%s::int, %s::int)", lock).fetchone()
    if row is None or not row[0]:
        return False
    try:
        valid = state(conn, dimension)
        if valid:
            return True
        name = index_name(dimension)
        if valid is False:  # a build that failed: its builder no longer holds the lock
            conn.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")
        if memory is not None:  # raised, never lowered: a server given more keeps it
            conn.execute(
                "SELECT set_config('maintenance_work_mem', %s, false) WHERE "
                "pg_size_bytes(current_setting('maintenance_work_mem')) < pg_size_bytes(%s)",
                (memory, memory),
            )
        try:
            conn.execute(
                f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} ON vectors USING hnsw "
                f"((embedding::vector({dimension})) vector_cosine_ops) "
                f"WHERE vector_dims(embedding) = {dimension}"
            )
        finally:
            if memory is not None:
                conn.execute("RESET maintenance_work_mem")
        return True
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s::int, %s::int)", lock)
