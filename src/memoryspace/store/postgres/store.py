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
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import numpy as np

from memoryspace import validate
from memoryspace.errors import (
    Conflict,
    NotFound,
    ReadOnly,
)
from memoryspace.fingerprint import ContentKey
from memoryspace.heapview import HeapEntry
from memoryspace.models import Change, Checkpoint, Filter, Memory, Op, apply_patch, check_version
from memoryspace.store import timetravel
from memoryspace.store.access import AccessCounts
from memoryspace.store.base import IndexDelta, Keys, Store, Vector
from memoryspace.store.codec import (
    blob_vector,
    memory_from_row,
    row_values,
    vector_blob,
)
from memoryspace.store.erasure import PurgeReport
from memoryspace.store.fts import RADIUS
from memoryspace.store.heapscan import heap_entry, heap_query
from memoryspace.store.oplog import (
    LogRow,
    logged_change,
)
from memoryspace.store.postgres import log, purge, replay, text
from memoryspace.store.postgres.connections import Conn, Connections, redact
from memoryspace.store.postgres.schema import migrate
from memoryspace.store.postgres.sql import (
    ASSIGNMENTS,
    COLUMNS,
    PLACEHOLDERS,
    SELECT_MEMORY,
    where_clause,
)

_HNSW_MAX_DIMENSIONS = 2000  # pgvector's limit for an HNSW index on ``vector``


class PostgresStore:
    """A ``Store`` in a PostgreSQL database (with the pgvector extension) at ``url``."""

    def __init__(
        self,
        url: str,
        *,
        clock: Callable[[], float] = time.time,
        access_flush_every: int = 1024,
        pool_size: int = 4,
        connect_timeout: float = 10.0,
        create: bool = True,
    ) -> None:
        """Connect to ``url`` (``postgresql://user:password@host:port/database``) and create or
        upgrade the schema.

        ``create=False`` opens only a database that already holds a MemorySpace schema.

        Raises:
            NotFound: ``create`` is false and the database holds no MemorySpace schema.
            BackendUnavailable: the server cannot be reached, or refuses the connection.
            Conflict: the database was written by a newer MemorySpace.
        """
        self._url = url
        self._clock = clock
        self._read_only = False
        self.as_of_lsn: int | None = None
        self._access = AccessCounts(access_flush_every)
        self._hnsw_dimensions: set[int] = set()
        # Records decoded and written through this object (``io_stats``); approximate when
        # threads race, exact otherwise.
        self._rows_read = 0
        self._rows_written = 0
        self._db = Connections(url, size=pool_size, timeout=connect_timeout)
        self.text_index = text.PostgresTextIndex(lambda: self._db.reading("searching text"))
        try:
            with self._db.reading("opening the database") as conn:
                if not create and not _has_schema(conn):
                    raise NotFound(
                        f"{redact(url)} holds no MemorySpace database; check the URL (or --db), "
                        "or add a memory to create one"
                    )
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

    def _reading(self, doing: str = "reading") -> AbstractContextManager[Conn]:
        return self._db.reading(doing)

    def _writing(self, doing: str = "writing") -> AbstractContextManager[Conn]:
        if self._read_only:
            raise ReadOnly("this is a read-only view; restore it to make it current")
        return self._db.writing(doing)

    # -- settings

    def get_setting(self, key: str) -> str | None:
        with self._reading() as conn:
            row = conn.execute("SELECT value FROM settings WHERE key = %s", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_setting(self, key: str, value: str) -> None:
        with self._writing() as conn:
            conn.execute(
                "INSERT INTO settings(key, value) VALUES (%s, %s) "
                "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
                (key, value),
            )

    # -- writes

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Writes made inside commit together, or none does when the block raises; a
        ``transaction`` inside another joins it (a savepoint).

        Raises:
            ReadOnly: a read-only view.
            BackendUnavailable: the server failed or cannot be reached.
        """
        with self._writing():
            yield

    def insert(
        self, items: Sequence[tuple[Memory, Vector | None]], *, actor: str | None = None
    ) -> list[Change]:
        """Add records (and their vectors) in one transaction.

        Raises:
            Conflict: a record with one of the ids exists already; nothing was added.
        """
        changes: list[Change] = []
        with self._writing() as conn:
            ids = [memory.id for memory, _ in items]
            taken = conn.execute(
                "SELECT id FROM memories WHERE id = ANY(%s) LIMIT 1", (ids,)
            ).fetchone()
            repeated = next((i for n, i in enumerate(ids) if i in ids[:n]), None)
            clash = taken[0] if taken is not None else repeated
            if clash is not None:
                raise Conflict(f"a memory with id {clash!r} exists; update it or choose another id")
            # A large batch refreshes the dialogue contexts once per session, at the end.
            per_session = len(items) > 2 * RADIUS
            for memory, vector in items:
                lsn = log.next_lsn(conn)
                row = conn.execute(
                    f"INSERT INTO memories ({COLUMNS}, version) VALUES ({PLACEHOLDERS}, %s) "
                    "RETURNING key",
                    (*row_values(memory), lsn),
                ).fetchone()
                assert row is not None
                key = int(row[0])
                if not per_session:
                    text.refresh_around(conn, memory, key)
                if vector is not None:
                    self._put_vector(conn, key, vector)
                changes.append(self._log(conn, lsn, Op.ADD, key, None, memory, vector, actor))
                self._rows_written += 1
            if per_session:
                text.refresh_sessions(
                    conn,
                    {(m.user, m.agent, m.session) for m, _ in items if m.session is not None},
                )
        return changes

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
        with self._writing() as conn:
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

    def delete(self, ids: Sequence[str], *, actor: str | None = None) -> list[Change]:
        """Delete records in one transaction.

        Raises:
            NotFound: one of the ids does not exist; nothing was deleted.
        """
        changes: list[Change] = []
        with self._writing() as conn:
            for id in ids:
                key, before = self._get_row(conn, id)
                for table in ("memories", "vectors", "access"):
                    conn.execute(f"DELETE FROM {table} WHERE key = %s", (key,))
                text.refresh_around(conn, before, key)
                lsn = log.next_lsn(conn)
                changes.append(self._log(conn, lsn, Op.DELETE, key, before, None, None, actor))
                self._rows_written += 1
        return changes

    def _put_vector(self, conn: Conn, key: int, vector: Vector) -> None:
        dimension = int(vector.shape[0])
        conn.execute(
            "INSERT INTO vectors(key, vector, embedding) VALUES (%s, %s, %s::vector) "
            "ON CONFLICT (key) DO UPDATE SET vector = EXCLUDED.vector, "
            "embedding = EXCLUDED.embedding",
            (key, vector_blob(vector), _vector_text(vector)),
        )
        if dimension not in self._hnsw_dimensions and 0 < dimension <= _HNSW_MAX_DIMENSIONS:
            conn.execute(
                f"CREATE INDEX IF NOT EXISTS vectors_hnsw_{dimension} ON vectors USING hnsw "
                f"((embedding::vector({dimension})) vector_cosine_ops) "
                f"WHERE vector_dims(embedding) = {dimension}"
            )
            self._hnsw_dimensions.add(dimension)

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
        return logged_change(lsn, now, op, before, after, actor)

    def touch(self, keys: Sequence[int], when: float) -> None:
        """Count one access to each key; written in batches by ``flush``, never logged."""
        if self._read_only:
            return
        if self._access.add(keys, when):
            self.flush()

    def flush(self) -> None:
        """Write buffered access counts (skipping keys deleted meanwhile) in one statement."""
        pending = self._access.take()
        if not pending or self._read_only or self._db.closed:
            return
        keys = sorted(pending)  # one order for every writer: no deadlock between flushes
        with self._reading("writing access counts") as conn:
            conn.execute(
                "INSERT INTO access(key, count, last) SELECT v.key, v.count, v.last "
                "FROM unnest(%s::bigint[], %s::bigint[], %s::float8[]) AS v(key, count, last) "
                "WHERE EXISTS (SELECT 1 FROM memories m WHERE m.key = v.key) "
                "ON CONFLICT (key) DO UPDATE SET count = access.count + EXCLUDED.count, "
                "last = GREATEST(access.last, EXCLUDED.last)",
                (keys, [pending[k][0] for k in keys], [pending[k][1] for k in keys]),
            )

    # -- reads

    def _get_row(self, conn: Conn, id: str) -> tuple[int, Memory]:
        row = conn.execute(f"{SELECT_MEMORY} WHERE m.id = %s", (id,)).fetchone()
        if row is None:
            raise NotFound(f"no memory with id {id!r}; search or list memories to find ids")
        return memory_from_row(row)

    def _with_pending(self, key: int, memory: Memory) -> Memory:
        self._rows_read += 1  # every record a read returns passes here
        return self._access.apply(key, memory)

    def _memories(self, sql: str, params: Sequence[Any]) -> list[tuple[int, Memory]]:
        with self._reading() as conn:
            rows = conn.execute(sql, params).fetchall()
        return [
            (key, self._with_pending(key, memory)) for key, memory in map(memory_from_row, rows)
        ]

    def get(self, id: str) -> Memory:
        """The memory with ``id``.

        Raises:
            NotFound: no memory has that id.
        """
        with self._reading() as conn:
            key, memory = self._get_row(conn, id)
        return self._with_pending(key, memory)

    def key_of(self, id: str) -> int:
        with self._reading() as conn:
            row = conn.execute("SELECT key FROM memories WHERE id = %s", (id,)).fetchone()
        if row is None:
            raise NotFound(f"no memory with id {id!r}")
        return int(row[0])

    def get_many(self, ids: Sequence[str]) -> list[Memory]:
        """The memories that exist among ``ids``, in the order asked."""
        found = {
            m.id: m for _, m in self._memories(f"{SELECT_MEMORY} WHERE m.id = ANY(%s)", [list(ids)])
        }
        return [found[i] for i in ids if i in found]

    def get_by_keys(self, keys: Sequence[int]) -> dict[int, Memory]:
        wanted = [int(k) for k in keys]
        return dict(self._memories(f"{SELECT_MEMORY} WHERE m.key = ANY(%s)", [wanted]))

    def find_same_content(
        self, wanted: Sequence[ContentKey], *, now: float
    ) -> dict[ContentKey, Memory]:
        """For each key, the oldest live (not archived, not expired) record it matches."""
        keys = set(wanted)
        found: dict[ContentKey, Memory] = {}
        rows = self._memories(
            f"{SELECT_MEMORY} WHERE m.content_hash = ANY(%s) AND m.archived = 0 "
            "AND (m.expires_at IS NULL OR m.expires_at > %s) ORDER BY m.key",
            [sorted({k.fingerprint for k in keys}), now],
        )
        for _, memory in rows:
            same = ContentKey.of(
                memory.content, memory.kind, memory.user, memory.agent, memory.session
            )
            if same in keys and same not in found:
                found[same] = memory
        return found

    def count(self, flt: Filter | None = None, *, now: float | None = None) -> int:
        where, params = where_clause(flt, now)
        with self._reading() as conn:
            row = conn.execute(f"SELECT count(*) FROM memories m WHERE {where}", params).fetchone()
        return int(row[0]) if row else 0

    def scan(
        self,
        flt: Filter | None = None,
        *,
        now: float | None = None,
        limit: int | None = None,
        offset: int = 0,
        newest_first: bool = False,
    ) -> Iterator[Memory]:
        """Memories matching ``flt`` in creation order (or newest first)."""
        where, params = where_clause(flt, now)
        order = "DESC" if newest_first else "ASC"
        sql = (
            f"{SELECT_MEMORY} WHERE {where} ORDER BY m.created_at {order}, m.key {order} "
            "LIMIT %s OFFSET %s"
        )
        for _, memory in self._memories(sql, [*params, limit, offset]):
            yield memory

    def heap(self) -> list[HeapEntry]:
        """The live records without their contents (see ``memoryspace.heapview``)."""
        with self._reading() as conn:
            return [heap_entry(row) for row in conn.execute(heap_query('"user"')).fetchall()]

    def expired(self, now: float, limit: int) -> list[Memory]:
        """Up to ``limit`` live (unarchived) records whose ``expires_at`` has passed, soonest
        expired first, through the ``memories_expires`` index."""
        rows = self._memories(
            f"{SELECT_MEMORY} WHERE m.expires_at IS NOT NULL AND m.expires_at <= %s "
            "AND m.archived = 0 ORDER BY m.expires_at, m.key LIMIT %s",
            [now, limit],
        )
        return [memory for _, memory in rows]

    def filter_keys(self, flt: Filter, *, now: float) -> Keys:
        where, params = where_clause(flt, now)
        with self._reading() as conn:
            rows = conn.execute(f"SELECT m.key FROM memories m WHERE {where}", params).fetchall()
        return np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))

    def text_search(
        self,
        terms: Sequence[str],
        k: int,
        flt: Filter | None = None,
        *,
        now: float | None = None,
        with_context: bool = True,
    ) -> list[tuple[int, float]]:
        """Top ``k`` (key, BM25 score) for memories holding any of ``terms``, best first (see
        ``memoryspace.store.postgres.text``)."""
        return self.text_index.search(terms, k, flt or Filter(), now, with_context=with_context)

    def text_bound(self, terms: Sequence[str], flt: Filter | None = None) -> float:
        return self.text_index.bound(terms, flt or Filter())

    def vectors(self, keys: Sequence[int]) -> Mapping[int, Vector]:
        with self._reading() as conn:
            rows = conn.execute(
                "SELECT key, vector FROM vectors WHERE key = ANY(%s)", ([int(k) for k in keys],)
            ).fetchall()
        out: dict[int, Vector] = {}
        for key, blob in rows:
            vector = blob_vector(bytes(blob))
            if vector is not None:
                out[int(key)] = vector
        return out

    def iter_vectors(self, batch: int = 4096) -> Iterator[tuple[Keys, Vector]]:
        """Every stored vector, ``batch`` at a time, as (keys, matrix)."""
        last = -1
        while True:
            with self._reading() as conn:
                rows = conn.execute(
                    "SELECT key, vector FROM vectors WHERE key > %s ORDER BY key LIMIT %s",
                    (last, batch),
                ).fetchall()
            if not rows:
                return
            keys = np.array([r[0] for r in rows], dtype=np.int64)
            matrix = np.vstack([np.frombuffer(bytes(r[1]), dtype="<f4") for r in rows])
            yield keys, matrix.astype(np.float32)
            last = int(keys[-1])

    def io_stats(self) -> dict[str, int]:
        """Records this object has read (decoded for a caller) and written (inserted, updated
        or deleted) since it was opened."""
        return {"rows_read": self._rows_read, "rows_written": self._rows_written}

    def summary(self) -> dict[str, Any]:
        """Counts by kind, pinned, archived and generation, the LSN, checkpoints and bytes."""
        with self._reading() as conn:
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

    # -- the log

    def last_lsn(self) -> int:
        with self._reading() as conn:
            row = conn.execute("SELECT COALESCE(max(lsn), 0) FROM oplog").fetchone()
        return int(row[0]) if row else 0

    def changes(self, since_lsn: int = 0, limit: int | None = None) -> list[Change]:
        """Log entries after ``since_lsn``, oldest first: a feed other agents can tail."""
        with self._reading() as conn:
            return log.changes(conn, since_lsn, limit)

    def wait_for_changes(self, since_lsn: int, timeout: float) -> list[Change]:
        """Log entries after ``since_lsn``, waiting up to ``timeout`` seconds for one to be
        committed (by any process on any host) when there is none yet (``LISTEN``/``NOTIFY``
        wakes the waiter; the log is read for the answer)."""
        self._db.check()
        return log.wait(self._url, lambda: self.changes(since_lsn), timeout)

    def history(self, id: str) -> list[Change]:
        """Every log entry of one memory, oldest first.

        Raises:
            NotFound: the log has no entry for that id.
        """
        with self._reading() as conn:
            found = log.history(conn, id)
        if not found:
            raise NotFound(f"no memory with id {id!r} was ever stored")
        return found

    def index_deltas(self, since_lsn: int) -> Iterator[IndexDelta]:
        """What a vector index must apply to follow the log after ``since_lsn``."""
        last = since_lsn
        while True:
            with self._reading() as conn:
                rows = log.delta_rows(conn, last)
            if not rows:
                return
            for lsn, op, key, blob in rows:
                yield IndexDelta(lsn=lsn, op=Op(op), key=key, vector=blob_vector(blob))
            last = rows[-1][0]

    def log_rows(self, after_lsn: int, upto_lsn: int) -> list[LogRow]:
        """Raw log rows in (after_lsn, upto_lsn], in the format every backend replays."""
        with self._reading() as conn:
            return log.raw_rows(conn, after_lsn, upto_lsn)

    def replay(self, rows: Sequence[LogRow]) -> None:
        """Apply raw log rows (``log_rows`` of any backend) verbatim: same keys, same LSNs.

        Raises:
            Conflict: the first row does not follow this database's last LSN.
        """
        with self._writing("replaying the log") as conn:
            replay.replay(conn, rows, self._put_vector)

    # -- checkpoints and time travel

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

    def checkpoint(self, name: str, *, overwrite: bool = False) -> Checkpoint:
        """Tag the current end of the log as checkpoint ``name``.

        Raises:
            InvalidInput: a name with characters other than letters, digits, ``_ . -``.
            Conflict: a checkpoint of that name exists and ``overwrite`` is false.
        """
        validate.checkpoint_name(name)
        self._db.check()
        self.flush()
        when = self._clock()
        with self._writing("taking a checkpoint") as conn:
            exists = conn.execute("SELECT 1 FROM checkpoints WHERE name = %s", (name,)).fetchone()
            if exists and not overwrite:
                raise Conflict(
                    f"checkpoint {name!r} exists; pass overwrite=True or choose another name"
                )
            lsn = log.next_lsn(conn) - 1
            conn.execute(
                "INSERT INTO checkpoints(name, lsn, created_at) VALUES (%s, %s, %s) "
                "ON CONFLICT (name) DO UPDATE SET lsn = EXCLUDED.lsn, "
                "created_at = EXCLUDED.created_at",
                (name, lsn, when),
            )
        return Checkpoint(name=name, lsn=lsn, created_at=when, path=None)

    def checkpoints(self) -> list[Checkpoint]:
        with self._reading() as conn:
            rows = conn.execute(
                "SELECT name, lsn, created_at FROM checkpoints ORDER BY lsn, created_at"
            ).fetchall()
        return [
            Checkpoint(name=n, lsn=int(lsn), created_at=float(c), path=None) for n, lsn, c in rows
        ]

    def delete_checkpoint(self, name: str) -> None:
        """Raises ``NotFound`` when there is no checkpoint called ``name``."""
        with self._writing() as conn:
            gone = conn.execute("DELETE FROM checkpoints WHERE name = %s", (name,)).rowcount
        if not gone:
            raise NotFound(f"no checkpoint named {name!r}; list them with checkpoints()")

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

    def replica(self, lsn: int, base: Checkpoint | None) -> Store:
        """The state after ``lsn`` replayed from the log into an in-memory SQLite store (a
        checkpoint here is only an LSN tag, so ``base`` changes nothing)."""
        from memoryspace.store.sqlite import SQLiteStore

        view = SQLiteStore(":memory:", clock=self._clock)
        try:
            view.replay(self.log_rows(0, lsn))
        except BaseException:
            view.close()
            raise
        view.make_read_only(lsn)
        return view


def _has_schema(conn: Conn) -> bool:
    row = conn.execute("SELECT to_regclass('memories') IS NOT NULL").fetchone()
    return bool(row and row[0])


def _vector_text(vector: Vector) -> str:
    """pgvector's text form of a vector (float32 values written exactly)."""
    return "[" + ",".join(repr(float(x)) for x in np.asarray(vector, dtype=np.float32)) + "]"
