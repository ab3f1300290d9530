"""``PostgresStore``: records, op log, settings and checkpoints in one PostgreSQL database.

Many processes on many hosts may share the database. Every write runs in one transaction that
first takes a transaction-scoped advisory lock (``schema.WRITE_LOCK``), so writers commit one
at a time, as on SQLite. The LSN of a log entry is ``max(lsn) + 1`` read under that lock, in
the same transaction as the change, rather than ``nextval`` of a sequence: a sequence hands out
numbers in call order, not commit order, and loses them on rollback, so a reader tailing
``changes(since)`` could skip an entry whose smaller LSN commits after a larger one. Under the
lock the LSN order is the commit order, with no gaps and no duplicates, across every writer.

Reads take a pooled connection in autocommit mode (each statement sees the latest commits);
inside a ``transaction`` they use the transaction's connection and so see its own writes. The
full text (``text.py``) and the dialogue context follow the records in the same transaction;
vectors are stored as exact float32 bytes plus a pgvector ``embedding`` with an HNSW (cosine)
index per dimension. Checkpoints are LSN tags (the log is never truncated); a past state is
replayed from the log into an in-memory SQLite store (``replica``), so ``as_of`` views and
``restore`` work as on SQLite (``memoryspace.store.timetravel``).

This module opens the database and holds the settings and the writes; the reads are in
``reads.py``, the log and checkpoints in ``history.py``, vectors in ``vectors.py`` and the
state they share in ``base.py``.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from memoryspace import validate
from memoryspace.errors import Conflict, NotFound, ReadOnly
from memoryspace.models import Change, Memory, Op, apply_patch, check_version
from memoryspace.store import timetravel
from memoryspace.store.access import AccessCounts
from memoryspace.store.base import Store, Vector
from memoryspace.store.codec import row_values
from memoryspace.store.erasure import PurgeReport
from memoryspace.store.fts import RADIUS
from memoryspace.store.oplog import logged_change
from memoryspace.store.postgres import hnsw, log, purge, text, vectors
from memoryspace.store.postgres.connections import Conn, Connections, redact
from memoryspace.store.postgres.history import PostgresHistory
from memoryspace.store.postgres.reads import PostgresReads
from memoryspace.store.postgres.schema import check_schema_version, migrate
from memoryspace.store.postgres.sql import ASSIGNMENTS, COLUMNS, PLACEHOLDERS

# Records per INSERT of a batch add: 21 parameters each, under PostgreSQL's 65,535 per statement.
_ROWS_PER_STATEMENT = 2000


class PostgresStore(PostgresReads, PostgresHistory):
    """A ``Store`` in a PostgreSQL database (with the pgvector extension) at ``url``."""

    def __init__(
        self,
        url: str,
        *,
        clock: Callable[[], float] = time.time,
        access_flush_every: int = 1024,
        pool_size: int = 4,
        connect_timeout: float = 10.0,
        retries: int = 4,
        backoff: float = 0.25,
        create: bool = True,
        read_only: bool = False,
        hnsw_threshold: int = hnsw.DEFAULT_THRESHOLD,
        hnsw_build_memory: str | None = hnsw.DEFAULT_BUILD_MEMORY,
    ) -> None:
        """Connect to ``url`` (``postgresql://user:password@host:port/database``) and create or
        upgrade the schema.

        ``create=False`` opens only a database that already holds a MemorySpace schema.
        ``read_only`` (or a server whose sessions are read-only: a hot standby, a URL with
        ``options=-c default_transaction_read_only=on``) writes nothing, not even on opening:
        the schema version is read and checked, and every write raises ``ReadOnly``. A call
        whose connection drops is retried ``retries`` times, after ``backoff`` seconds doubled
        each time (see ``connections.py``: a write is never applied twice). A dimension's
        vectors get an HNSW index once ``hnsw_threshold`` of them are stored, built with
        ``hnsw_build_memory`` of ``maintenance_work_mem`` (None: the server's); see ``hnsw.py``.

        Raises:
            NotFound: ``create`` is false, or the store is read-only, and the database holds no
                MemorySpace schema.
            ReadOnly: read-only, and the schema needs an upgrade (open it once on the primary).
            BackendUnavailable: the server cannot be reached, or refuses the connection.
            Conflict: the database was written by a newer MemorySpace.
            InvalidInput: ``hnsw_threshold`` is not a positive integer.
        """
        hnsw_threshold = validate.positive_int("hnsw_threshold", hnsw_threshold)
        self._url = url
        self._clock = clock
        self._read_only = validate.flag("read_only", read_only)
        self.as_of_lsn: int | None = None
        self._access = AccessCounts(access_flush_every)
        self._hnsw_dimensions: set[int] = set()
        self._hnsw_written: set[int] = set()
        self._hnsw_threshold = hnsw_threshold
        self._hnsw_memory = hnsw_build_memory
        self._hnsw_deferred = 0
        # Records decoded and written through this object (``io_stats``); approximate when
        # threads race, exact otherwise.
        self._rows_read = 0
        self._rows_written = 0
        self._db = Connections(
            url, size=pool_size, timeout=connect_timeout, retries=retries, backoff=backoff
        )
        self.text_index = text.PostgresTextIndex(self._db)
        try:
            with self._db.reading("opening the database") as conn:
                if not self._read_only and _session_read_only(conn):
                    self._read_only = True  # a replica: open it as one
                if (self._read_only or not create) and not _has_schema(conn):
                    raise NotFound(
                        f"{redact(url)} holds no MemorySpace database; check the URL (or --db), "
                        "or add a memory to create one"
                        + (" on the primary" if self._read_only else "")
                    )
                if self._read_only:
                    check_schema_version(conn, redact(url))
                    return
                migrate(conn)
                conn.execute(
                    "INSERT INTO settings(key, value) VALUES ('database.id', %s) "
                    "ON CONFLICT (key) DO NOTHING",
                    (secrets.token_hex(16),),
                )
        except BaseException:
            self._db.close()
            raise

    # -- lifecycle

    @property
    def path(self) -> str | None:
        return None

    @property
    def url(self) -> str:
        """The database URL, without its password."""
        return redact(self._url)

    @property
    def connections(self) -> Connections:
        return self._db

    @property
    def read_only(self) -> bool:
        return self._read_only

    @property
    def database_id(self) -> str | None:
        return self.get_setting("database.id")

    def writable_on_disk(self) -> bool:
        return True

    def close(self) -> None:
        """Write buffered access counts and close the pool, even if writing fails."""
        if self._db.closed:
            return
        try:
            self.flush()
        finally:
            self._db.close()

    def __enter__(self) -> PostgresStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def summary(self) -> dict[str, Any]:
        """Counts by kind, pinned, archived and generation, the LSN, checkpoints and bytes."""

        def read(conn: Conn) -> tuple[dict[str, int], Any]:
            kinds = {
                str(k): int(n)
                for k, n in conn.execute("SELECT kind, count(*) FROM memories GROUP BY kind")
            }
            row = conn.execute(
                "SELECT count(*) FILTER (WHERE pinned <> 0), count(*) FILTER (WHERE archived <> 0),"
                " count(*) FILTER (WHERE archived = 0 AND generation = 0),"
                " count(*) FILTER (WHERE archived = 0 AND generation = 1),"
                " pg_database_size(current_database()) FROM memories"
            ).fetchone()
            return kinds, row

        kinds, row = self._read(read)
        assert row is not None
        pinned, archived, young, old, size = (int(x) for x in row)
        return {
            "path": self.url,
            "database_id": self.database_id,
            "memories": sum(kinds.values()),
            "by_kind": kinds,
            "pinned": pinned,
            "archived": archived,
            "generations": {"young": young, "old": old},
            "lsn": self.last_lsn(),
            "checkpoints": len(self.checkpoints()),
            "database_bytes": size,
        }

    # -- settings

    def get_setting(self, key: str) -> str | None:
        row = self._read(
            lambda conn: conn.execute(
                "SELECT value FROM settings WHERE key = %s", (key,)
            ).fetchone()
        )
        return None if row is None else str(row[0])

    def set_setting(self, key: str, value: str) -> None:
        def body(conn: Conn) -> None:
            self._db.expect(  # committed when the value is there
                lambda check: (
                    check.execute(
                        "SELECT 1 FROM settings WHERE key = %s AND value = %s", (key, value)
                    ).fetchone()
                    is not None
                )
            )
            conn.execute(
                "INSERT INTO settings(key, value) VALUES (%s, %s) "
                "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
                (key, value),
            )

        self._write("writing a setting", body)

    # -- writes

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Writes made inside commit together, or none does when the block raises; a
        ``transaction`` inside another joins it (a savepoint).

        Raises:
            ReadOnly: a read-only view.
            BackendUnavailable: the server failed or cannot be reached.
        """
        outermost = not self._db.in_transaction()
        with self._writing():
            yield
        if outermost:
            self._build_due_indexes()

    def insert(
        self, items: Sequence[tuple[Memory, Vector | None]], *, actor: str | None = None
    ) -> list[Change]:
        """Add records (and their vectors) in one transaction.

        Raises:
            Conflict: a record with one of the ids exists already; nothing was added.
        """

        def body(conn: Conn) -> list[Change]:
            changes: list[Change] = []
            ids = [memory.id for memory, _ in items]
            taken = conn.execute(
                "SELECT id FROM memories WHERE id = ANY(%s) LIMIT 1", (ids,)
            ).fetchone()
            repeated = next((i for n, i in enumerate(ids) if i in ids[:n]), None)
            clash = taken[0] if taken is not None else repeated
            if clash is not None:
                raise Conflict(f"a memory with id {clash!r} exists; update it or choose another id")
            if len(items) > 2 * RADIUS:
                return self._insert_batch(conn, items, actor)
            for memory, vector in items:
                lsn = log.next_lsn(conn)
                row = conn.execute(
                    f"INSERT INTO memories ({COLUMNS}, version) VALUES ({PLACEHOLDERS}, %s) "
                    "RETURNING key",
                    (*row_values(memory), lsn),
                ).fetchone()
                assert row is not None
                key = int(row[0])
                text.refresh_around(conn, memory, key)
                if vector is not None:
                    self._put_vector(conn, key, vector)
                changes.append(self._log(conn, lsn, Op.ADD, key, None, memory, vector, actor))
                self._rows_written += 1
            return changes

        return self._write("adding memories", body)

    def _insert_batch(
        self, conn: Conn, items: Sequence[tuple[Memory, Vector | None]], actor: str | None
    ) -> list[Change]:
        """``insert`` of many records in a few pipelined statements rather than five round
        trips each: consecutive LSNs (the write lock is held), the dialogue contexts refreshed
        once per session at the end."""
        first = log.next_lsn(conn)
        keys: list[int] = []
        # One multi-row statement per chunk, so the statement triggers (text statistics) run
        # once per chunk, not once per record; rows are matched back to their keys by id.
        for at in range(0, len(items), _ROWS_PER_STATEMENT):
            chunk = items[at : at + _ROWS_PER_STATEMENT]
            values = ", ".join([f"({PLACEHOLDERS}, %s)"] * len(chunk))
            params = [
                value
                for n, (memory, _) in enumerate(chunk, start=at)
                for value in (*row_values(memory), first + n)
            ]
            found = dict(
                conn.execute(
                    f"INSERT INTO memories ({COLUMNS}, version) VALUES {values} RETURNING id, key",
                    params,
                ).fetchall()
            )
            keys.extend(int(found[memory.id]) for memory, _ in chunk)
        pairs = [(key, v) for key, (_, v) in zip(keys, items, strict=True) if v is not None]
        if pairs:
            self._wrote_vectors(vectors.put_new(conn, pairs))
        now = self._clock()
        log.append_adds(
            conn,
            first,
            now,
            [(key, m, v is not None) for key, (m, v) in zip(keys, items, strict=True)],
            actor,
        )
        self._db.expect(log.proof(first, now, items[0][0].id))
        self._rows_written += len(items)
        text.refresh_sessions(
            conn, {(m.user, m.agent, m.session) for m, _ in items if m.session is not None}
        )
        return [
            logged_change(first + n, now, Op.ADD, None, m, actor) for n, (m, _) in enumerate(items)
        ]

    def update(
        self,
        id: str,
        patch: Mapping[str, Any],
        *,
        vector: Vector | None = None,
        actor: str | None = None,
        if_version: int | None = None,
    ) -> Change:
        """Apply ``patch`` to memory ``id`` as it is inside the transaction (under the write
        lock, so fields the patch does not name keep whatever another writer committed).

        Raises:
            NotFound: no memory has that id.
            Conflict: ``if_version`` is given and the record's version differs.
            InvalidInput: the patch names a field that cannot be set.
        """

        def body(conn: Conn) -> Change:
            key, before = self._get_row(conn, id)
            check_version(before, if_version)
            after = apply_patch(before, patch)
            lsn = log.next_lsn(conn)
            conn.execute(
                f"UPDATE memories SET {ASSIGNMENTS}, version = %s WHERE key = %s",
                (*row_values(after), lsn, key),
            )
            text.change(conn, key, before, after)
            if vector is not None:
                self._put_vector(conn, key, vector)
            self._rows_written += 1
            return self._log(conn, lsn, Op.UPDATE, key, before, after, vector, actor)

        return self._write("updating a memory", body)

    def delete(self, ids: Sequence[str], *, actor: str | None = None) -> list[Change]:
        """Delete records in one transaction.

        Raises:
            NotFound: one of the ids does not exist; nothing was deleted.
        """

        def body(conn: Conn) -> list[Change]:
            changes: list[Change] = []
            for id in ids:
                key, before = self._get_row(conn, id)
                for table in ("memories", "vectors", "access"):
                    conn.execute(f"DELETE FROM {table} WHERE key = %s", (key,))
                text.refresh_around(conn, before, key)
                lsn = log.next_lsn(conn)
                changes.append(self._log(conn, lsn, Op.DELETE, key, before, None, None, actor))
                self._rows_written += 1
            return changes

        return self._write("deleting memories", body)

    # -- time travel (the log and checkpoints: history.py)

    # -- erasure (see memoryspace.store.postgres.purge)

    def ever_stored(
        self, user: str | None = None, agent: str | None = None, session: str | None = None
    ) -> list[str]:
        return purge.ever_stored(self, user, agent, session)

    def purge(
        self, ids: Sequence[str], *, texts: Sequence[str] = (), actor: str | None = None
    ) -> PurgeReport:
        """Erase ``ids`` (``texts`` is unused: checkpoints here hold no copies)."""
        return purge.purge(self, ids, actor=actor)

    def restore(
        self, name: str | None, to_lsn: int | None = None, *, actor: str | None = None
    ) -> list[Change]:
        """Make the live state equal the state at a checkpoint (or at ``to_lsn`` after it),
        logged as ordinary changes (see ``memoryspace.store.timetravel``).

        Raises:
            NotFound: no checkpoint of that name.
            InvalidInput: ``to_lsn`` is before the checkpoint or after the end of the log.
        """
        if self._read_only:
            raise ReadOnly("this is a read-only view; restore the live database instead")
        return timetravel.restore(self, name, to_lsn, actor=actor)

    def as_of(self, lsn: int) -> Store:
        """A read-only in-memory copy of the state right after ``lsn`` was committed.

        Raises:
            InvalidInput: ``lsn`` is negative or after the end of the log.
        """
        return timetravel.as_of(self, lsn)

    def _log(
        self,
        conn: Conn,
        lsn: int,
        op: Op,
        key: int,
        before: Memory | None,
        after: Memory | None,
        vector: Vector | None,
        actor: str | None,
    ) -> Change:
        now = self._clock()
        log.append(conn, lsn, now, op, key, before, after, vector, actor)
        self._db.expect(log.proof(lsn, now, (after or before).id))  # type: ignore[union-attr]
        return logged_change(lsn, now, op, before, after, actor)


def _session_read_only(conn: Conn) -> bool:
    """Whether this server's sessions cannot write (a hot standby, or read-only by default)."""
    row = conn.execute("SELECT current_setting('transaction_read_only')").fetchone()
    return row is not None and str(row[0]) == "on"


def _has_schema(conn: Conn) -> bool:
    row = conn.execute("SELECT to_regclass('memories') IS NOT NULL").fetchone()
    return bool(row and row[0])
