"""The embedded store: one SQLite file in WAL mode holding records, vectors, FTS5 and the log.

Every mutation and its log entry commit in one transaction, and the FTS5 index follows the
records through triggers in that same transaction, so the three never disagree. Checkpoints and
time travel live in ``memoryspace.store.snapshots``.
"""

from __future__ import annotations

import os
import secrets
import sqlite3
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from memoryspace.errors import Conflict, NotFound, ReadOnly
from memoryspace.fingerprint import ContentKey
from memoryspace.heapview import HeapEntry
from memoryspace.models import Change, Checkpoint, Filter, Memory, Op, apply_patch, check_version
from memoryspace.store import fts, snapshots, sqlite_log, sqlite_purge, sqlite_vectors, timetravel
from memoryspace.store.access import AccessCounts
from memoryspace.store.base import IndexDelta, Keys, Vector
from memoryspace.store.codec import (
    COLUMNS,
    PRECISION_SETTING,
    SELECT_MEMORY,
    memory_from_row,
    row_values,
    stored_precision,
    vector_blob,
    where_clause,
)
from memoryspace.store.connections import Connections, Tracer
from memoryspace.store.erasure import PurgeReport
from memoryspace.store.failures import translate
from memoryspace.store.filterkeys import FilterKeys
from memoryspace.store.heapscan import heap_entry, heap_query
from memoryspace.store.oplog import (
    LogRow,
    logged_change,
)
from memoryspace.store.schema import migrate
from memoryspace.store.sqlite_log import ASSIGNMENTS, PLACEHOLDERS
from memoryspace.store.sqlite_vectors import chunks


class SQLiteStore:
    """The default ``Store``: a single SQLite database file (or ``":memory:"``).

    Safe to share between threads (one connection per thread, one writer at a time) and between
    processes on one file (SQLite's WAL locking).
    """

    def __init__(
        self,
        path: str | Path = ":memory:",
        *,
        read_only: bool = False,
        clock: Callable[[], float] = time.time,
        busy_timeout: float = 10.0,
        access_flush_every: int = 1024,
        tracer: Tracer | None = None,
        durability: str = "normal",
        create: bool = True,
        _seed: sqlite3.Connection | None = None,
    ) -> None:
        """Open (or, with ``create``, create) the database at ``path``.

        ``durability`` is ``"normal"`` or ``"full"`` (SQLite ``synchronous``; see the README).

        Raises:
            NotFound: ``create`` is false and there is no database at ``path``.
            InvalidInput: ``path`` is a folder, a missing folder's file or not a database.
            ReadOnly: the file needs a schema upgrade but cannot be written.
            Conflict: the file was written by a newer MemorySpace.
        """
        self._path = str(path)
        self._read_only = read_only
        self._clock = clock
        self._db = Connections(
            self._path,
            busy_timeout=busy_timeout,
            tracer=tracer,
            durability=durability,
            create=create,
        )
        self.text_index = fts.FTS5Index(self._db)
        self.filter_index = FilterKeys(self._db)
        self._access = AccessCounts(access_flush_every)
        # Records decoded and written through this object (``io_stats``); approximate when
        # threads race, exact otherwise.
        self._rows_read = 0
        self._rows_written = 0
        self.as_of_lsn: int | None = None
        # Checkpoints of an in-memory store live as long as the store.
        self.memory_checkpoints: dict[str, tuple[sqlite3.Connection, Checkpoint]] = {}
        try:
            if _seed is not None:
                _seed.backup(self._db.get())
                with self._db.writing() as conn:
                    conn.execute("DELETE FROM settings WHERE key LIKE 'checkpoint.%'")
            migrate(self._db.get())
            self._vector_precision = stored_precision(self.get_setting(PRECISION_SETTING))
            if not read_only:
                self._assign_id()
        except BaseException as exc:
            self._db.close()  # a refused file (e.g. a newer schema) is not left open
            typed = translate(exc, self._path, "opening the database")
            if typed is exc:
                raise
            raise typed from exc

    # -- lifecycle

    @property
    def path(self) -> str | None:
        return None if self._db.in_memory else self._path

    @property
    def read_only(self) -> bool:
        return self._read_only

    @property
    def connections(self) -> Connections:
        return self._db

    def _assign_id(self) -> None:
        """Give the database its random id if it has none (new, or older than ids). A read-only
        file that predates ids stays without one: nothing can be checked against it."""
        if self.get_setting("database.id") is not None:
            return
        try:
            with self._db.writing() as conn:  # OR IGNORE: another process may have been first
                conn.execute(
                    "INSERT OR IGNORE INTO settings(key, value) VALUES ('database.id', ?)",
                    (secrets.token_hex(16),),
                )
        except ReadOnly:
            pass

    @property
    def database_id(self) -> str | None:
        """The random id this database got at creation (``None`` for a read-only file that
        predates ids); checkpoints and the saved vector index carry it."""
        return self.get_setting("database.id")

    def make_read_only(self, lsn: int) -> None:
        """Turn this store into a read-only view of the state at ``lsn`` (for ``as_of``)."""
        self._read_only = True
        self.as_of_lsn = lsn

    def writable_on_disk(self) -> bool:
        """Whether this process may write the database file and its folder."""
        return self._db.writable_on_disk()

    def close(self) -> None:
        """Write buffered access counts and close every connection, even if writing fails.

        Raises:
            MemorySpaceError: the access counts could not be written (after closing).
        """
        if self._db.closed:
            return
        try:
            if not self._read_only:
                self.flush()
        finally:
            for conn, _ in self.memory_checkpoints.values():
                conn.close()
            self.memory_checkpoints.clear()
            self._db.close()

    def __enter__(self) -> SQLiteStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _writing(self) -> Iterator[sqlite3.Connection]:
        """The store's write transaction; after the outermost one commits, one bounded step
        of full-text segment merging in its own transaction (``fts.merge_step``)."""
        if self._read_only:
            at = f" at LSN {self.as_of_lsn}" if self.as_of_lsn is not None else ""
            raise ReadOnly(f"this is a read-only view{at}; restore it to make it current")
        outermost = not self._db.get().in_transaction
        with self._db.writing() as conn:
            yield conn
        if outermost:
            fts.merge_step(self._db)

    # -- settings

    def get_setting(self, key: str) -> str | None:
        with self._db.reading() as conn:
            row = conn.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_setting(self, key: str, value: str) -> None:
        with self._writing() as conn:
            conn.execute("INSERT OR REPLACE INTO settings(key, value) VALUES (?, ?)", (key, value))
        if key == PRECISION_SETTING:
            self._vector_precision = stored_precision(value)

    @property
    def vector_precision(self) -> str:
        """How this handle stores new vectors: ``"float32"`` or ``"float16"`` (the database's
        ``shared.vector_precision``; a stored blob of either kind is always readable)."""
        return self._vector_precision

    # -- writes

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Writes made inside commit together (one ``BEGIN IMMEDIATE`` … ``COMMIT``), or none
        does when the block raises; a ``transaction`` inside another joins it (a savepoint).

        Raises:
            ReadOnly: a read-only view.
            BackendUnavailable: another process held the write lock too long.
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
            for memory, vector in items:
                try:
                    cursor = conn.execute(
                        f"INSERT INTO memories ({COLUMNS}) VALUES ({PLACEHOLDERS})",
                        row_values(memory),
                    )
                except sqlite3.IntegrityError:
                    raise Conflict(
                        f"a memory with id {memory.id!r} exists; update it or choose another id"
                    ) from None
                key = int(cursor.lastrowid or 0)
                fts.add(conn, key, memory)
                if vector is not None:
                    conn.execute(
                        "INSERT INTO vectors(key, vector) VALUES (?, ?)",
                        (key, vector_blob(vector, self._vector_precision)),
                    )
                changes.append(self._log(conn, Op.ADD, key, None, memory, vector, actor))
        self._rows_written += len(changes)
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
        """Apply ``patch`` (logged field -> new value) to memory ``id`` in one transaction: the
        record is read, patched and written under the write lock, so fields the patch does not
        name keep whatever another writer committed. ``vector`` replaces the stored vector.

        Raises:
            NotFound: no memory has that id.
            Conflict: ``if_version`` is given and the record's version differs (someone changed
                it since it was read).
            InvalidInput: the patch names a field that cannot be set.
        """
        with self._writing() as conn:
            key, before = self._get_row(conn, id)
            check_version(before, if_version)
            after = apply_patch(before, patch)
            conn.execute(
                f"UPDATE memories SET {ASSIGNMENTS} WHERE key = ?", (*row_values(after), key)
            )
            fts.change(conn, key, before, after)
            if vector is not None:
                sqlite_log.put_vector(conn, key, vector_blob(vector, self._vector_precision) or b"")
            change = self._log(conn, Op.UPDATE, key, before, after, vector, actor)
        self._rows_written += 1
        return change

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
                    conn.execute(f"DELETE FROM {table} WHERE key = ?", (key,))
                fts.remove(conn, key, before)
                changes.append(self._log(conn, Op.DELETE, key, before, None, None, actor))
        self._rows_written += len(changes)
        return changes  # buffered access counts of deleted keys are dropped by flush()

    def _log(
        self,
        conn: sqlite3.Connection,
        op: Op,
        key: int,
        before: Memory | None,
        after: Memory | None,
        vector: Vector | None,
        actor: str | None,
    ) -> Change:
        now = self._clock()
        lsn = sqlite_log.append(conn, now, op, key, before, after, vector, actor)
        if after is not None:
            conn.execute("UPDATE memories SET version = ? WHERE key = ?", (lsn, key))
        return logged_change(lsn, now, op, before, after, actor)

    def touch(self, keys: Sequence[int], when: float) -> None:
        """Count one access to each key; written in batches by ``flush``, never logged."""
        if self._read_only:
            return
        if self._access.add(keys, when):
            self.flush()

    def flush(self) -> None:
        """Write buffered access counts (skipping keys deleted meanwhile)."""
        pending = self._access.take()
        if not pending or self._read_only or self._db.closed:
            return
        try:
            with self._db.writing() as conn:
                conn.executemany(
                    "INSERT INTO access(key, count, last) SELECT ?, ?, ? "
                    "WHERE EXISTS (SELECT 1 FROM memories WHERE key = ?) "
                    "ON CONFLICT(key) DO UPDATE SET count = count + excluded.count, "
                    "last = max(last, excluded.last)",
                    [(key, count, last, key) for key, (count, last) in pending.items()],
                )
        except ReadOnly:
            pass  # like atime on a read-only mount: access counts of a read-only file are dropped

    # -- reads

    def _get_row(self, conn: sqlite3.Connection, id: str) -> tuple[int, Memory]:
        row = conn.execute(f"{SELECT_MEMORY} WHERE m.id = ?", (id,)).fetchone()
        if row is None:
            raise NotFound(f"no memory with id {id!r}; search or list memories to find ids")
        return memory_from_row(row)

    def _with_pending(self, key: int, memory: Memory) -> Memory:
        self._rows_read += 1  # every record a read returns passes here
        return self._access.apply(key, memory)

    def get(self, id: str) -> Memory:
        """The memory with ``id``.

        Raises:
            NotFound: no memory has that id.
        """
        with self._db.reading() as conn:
            key, memory = self._get_row(conn, id)
        return self._with_pending(key, memory)

    def key_of(self, id: str) -> int:
        with self._db.reading() as conn:
            row = conn.execute("SELECT key FROM memories WHERE id = ?", (id,)).fetchone()
        if row is None:
            raise NotFound(f"no memory with id {id!r}")
        return int(row[0])

    def get_many(self, ids: Sequence[str]) -> list[Memory]:
        """The memories that exist among ``ids``, in the order asked."""
        found: dict[str, Memory] = {}
        with self._db.reading() as conn:
            for chunk in chunks(list(ids), 500):
                marks = ", ".join("?" * len(chunk))
                for row in conn.execute(f"{SELECT_MEMORY} WHERE m.id IN ({marks})", chunk):
                    key, memory = memory_from_row(row)
                    found[memory.id] = self._with_pending(key, memory)
        return [found[i] for i in ids if i in found]

    def get_by_keys(self, keys: Sequence[int]) -> dict[int, Memory]:
        found: dict[int, Memory] = {}
        with self._db.reading() as conn:
            for chunk in chunks([int(k) for k in keys], 500):
                marks = ", ".join("?" * len(chunk))
                for row in conn.execute(f"{SELECT_MEMORY} WHERE m.key IN ({marks})", chunk):
                    key, memory = memory_from_row(row)
                    found[key] = self._with_pending(key, memory)
        return found

    def find_same_content(
        self, wanted: Sequence[ContentKey], *, now: float
    ) -> dict[ContentKey, Memory]:
        """For each key, the oldest live (not archived, not expired) record it matches."""
        keys = set(wanted)
        found: dict[ContentKey, Memory] = {}
        with self._db.reading() as conn:
            for chunk in chunks(sorted({k.fingerprint for k in keys}), 500):
                marks = ", ".join("?" * len(chunk))
                rows = conn.execute(
                    f"{SELECT_MEMORY} WHERE m.content_hash IN ({marks}) AND m.archived = 0 "
                    "AND (m.expires_at IS NULL OR m.expires_at > ?) ORDER BY m.key",
                    [*chunk, now],
                ).fetchall()
                for row in rows:
                    key, memory = memory_from_row(row)
                    same = ContentKey.of(
                        memory.content, memory.kind, memory.user, memory.agent, memory.session
                    )
                    if same in keys and same not in found:
                        found[same] = self._with_pending(key, memory)
        return found

    def count(self, flt: Filter | None = None, *, now: float | None = None) -> int:
        where, params = where_clause(flt, now)
        with self._db.reading() as conn:
            return int(
                conn.execute(f"SELECT count(*) FROM memories m WHERE {where}", params).fetchone()[0]
            )

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
            "LIMIT ? OFFSET ?"
        )
        with self._db.reading() as conn:
            rows = conn.execute(sql, [*params, -1 if limit is None else limit, offset]).fetchall()
        for row in rows:
            key, memory = memory_from_row(row)
            yield self._with_pending(key, memory)

    def heap(self) -> list[HeapEntry]:
        """The live records without their contents (see ``memoryspace.heapview``)."""
        with self._db.reading() as conn:
            return [heap_entry(row) for row in conn.execute(heap_query("user"))]

    def expired(self, now: float, limit: int) -> list[Memory]:
        """Up to ``limit`` live (unarchived) records whose ``expires_at`` has passed, soonest
        expired first; an indexed query (``memories_expires``), not a scan of the heap."""
        with self._db.reading() as conn:
            rows = conn.execute(
                f"{SELECT_MEMORY} WHERE m.expires_at IS NOT NULL AND m.expires_at <= ? "
                "AND m.archived = 0 ORDER BY m.expires_at, m.key LIMIT ?",
                (now, limit),
            ).fetchall()
        return [self._with_pending(*memory_from_row(row)) for row in rows]

    def filter_keys(self, flt: Filter, *, now: float) -> Keys:
        """The keys of the memories ``flt`` selects at ``now`` (remembered until the log
        moves: ``memoryspace.store.filterkeys``)."""
        return self.filter_index.keys(flt, now)

    def text_search(
        self,
        terms: Sequence[str],
        k: int,
        flt: Filter | None = None,
        *,
        now: float | None = None,
        with_context: bool = True,
    ) -> list[tuple[int, float]]:
        """Top ``k`` (key, BM25 score) for documents matching any of ``terms``, best first.

        Words count fully in a memory's content, half in its tags and 0.3 in its dialogue
        context; ``with_context=False`` ignores the context. Document frequencies are counted
        within the filter's scope (see ``memoryspace.store.fts.search``).
        """
        return self.text_index.search(terms, k, flt or Filter(), now, with_context=with_context)

    def text_bound(self, terms: Sequence[str], flt: Filter | None = None) -> float:
        """The highest score ``text_search`` could give for ``terms`` (see ``fts.max_score``)."""
        return self.text_index.bound(terms, flt or Filter())

    def vectors(self, keys: Sequence[int]) -> Mapping[int, Vector]:
        return sqlite_vectors.vectors(self._db, keys)

    def iter_vectors(self, batch: int = 4096) -> Iterator[tuple[Keys, Vector]]:
        """Every stored vector, ``batch`` at a time, as (keys, matrix)."""
        return sqlite_vectors.iter_vectors(self._db, batch)

    def io_stats(self) -> dict[str, int]:
        """Records this object has read (decoded for a caller) and written (inserted, updated
        or deleted) since it was opened."""
        return {"rows_read": self._rows_read, "rows_written": self._rows_written}

    def summary(self) -> dict[str, Any]:
        """Counts by kind, pinned, archived and generation, the LSN, checkpoints and bytes."""
        with self._db.reading() as conn:
            kinds = dict(conn.execute("SELECT kind, count(*) FROM memories GROUP BY kind"))
            pinned = conn.execute("SELECT count(*) FROM memories WHERE pinned").fetchone()[0]
            archived = conn.execute("SELECT count(*) FROM memories WHERE archived").fetchone()[0]
            generations = dict(
                conn.execute(
                    "SELECT generation, count(*) FROM memories WHERE NOT archived "
                    "GROUP BY generation"
                )
            )
        files = [] if self.path is None else [self.path, self.path + "-wal"]
        return {
            "path": self.path or ":memory:",
            "database_id": self.database_id,
            "memories": sum(kinds.values()),
            "by_kind": kinds,
            "pinned": pinned,
            "archived": archived,
            "generations": {"young": generations.get(0, 0), "old": generations.get(1, 0)},
            "lsn": self.last_lsn(),
            "checkpoints": len(self.checkpoints()),
            "database_bytes": sum(os.path.getsize(f) for f in files if os.path.exists(f)),
        }

    # -- the log

    def last_lsn(self) -> int:
        with self._db.reading() as conn:
            return int(conn.execute("SELECT COALESCE(max(lsn), 0) FROM oplog").fetchone()[0])

    def changes(self, since_lsn: int = 0, limit: int | None = None) -> list[Change]:
        """Log entries after ``since_lsn``, oldest first: a feed other agents can tail."""
        with self._db.reading() as conn:
            return sqlite_log.changes(conn, since_lsn, limit)

    def history(self, id: str) -> list[Change]:
        """Every log entry of one memory, oldest first (deleted memories keep their history).

        Raises:
            NotFound: the log has no entry for that id.
        """
        with self._db.reading() as conn:
            return sqlite_log.history(conn, id)

    def index_deltas(self, since_lsn: int) -> Iterator[IndexDelta]:
        """What a vector index must apply to follow the log after ``since_lsn``."""
        return sqlite_log.index_deltas(self._db, since_lsn)

    def log_rows(self, after_lsn: int, upto_lsn: int) -> list[LogRow]:
        """Raw log rows in (after_lsn, upto_lsn], for replay into another store."""
        with self._db.reading() as conn:
            return sqlite_log.log_rows(conn, after_lsn, upto_lsn)

    def replay(self, rows: Sequence[LogRow]) -> None:
        """Apply raw log rows (from ``log_rows``) verbatim: same keys, same LSNs."""
        with self._db.writing() as conn:
            sqlite_log.replay(conn, rows)

    # -- erasure (see memoryspace.store.sqlite_purge)

    def ever_stored(
        self, user: str | None = None, agent: str | None = None, session: str | None = None
    ) -> list[str]:
        return sqlite_purge.ever_stored(self, user, agent, session)

    def purge(
        self, ids: Sequence[str], *, texts: Sequence[str] = (), actor: str | None = None
    ) -> PurgeReport:
        return sqlite_purge.purge(self, ids, texts, actor=actor)

    # -- snapshots and time travel (see memoryspace.store.snapshots)

    def checkpoint(self, name: str, *, overwrite: bool = False) -> Checkpoint:
        """A consistent snapshot of the whole database, tagged with its LSN.

        Raises:
            InvalidInput: a name with characters other than letters, digits, ``_ . -``.
            Conflict: a checkpoint of that name exists and ``overwrite`` is false.
        """
        return snapshots.take(self, name, overwrite=overwrite)

    def checkpoints(self) -> list[Checkpoint]:
        return snapshots.listing(self)

    def delete_checkpoint(self, name: str) -> None:
        snapshots.remove(self, name)

    def restore(
        self, name: str | None, to_lsn: int | None = None, *, actor: str | None = None
    ) -> list[Change]:
        """Make the live state equal the state at a checkpoint (or at ``to_lsn`` after it).

        The restore is itself logged as ordinary changes, so nothing is lost: restoring is
        undone by restoring to the LSN before it. ``name=None`` replays from the empty log.

        Raises:
            NotFound: no checkpoint of that name.
            InvalidInput: ``to_lsn`` is before the checkpoint or after the end of the log.
        """
        return timetravel.restore(self, name, to_lsn, actor=actor)

    def as_of(self, lsn: int) -> SQLiteStore:
        """A read-only in-memory copy of the state right after ``lsn`` was committed.

        Raises:
            InvalidInput: ``lsn`` is negative or after the end of the log.
        """
        timetravel.check_lsn(self, lsn)
        return self.replica(lsn, timetravel.newest_base(self, lsn))

    def replica(self, lsn: int, base: Checkpoint | None) -> SQLiteStore:
        """A read-only in-memory copy of the state after ``lsn``, from ``base`` (or the empty
        database) and the log (see ``memoryspace.store.timetravel``)."""
        seed = snapshots.open_base(self, base) if base is not None else None
        try:
            view = SQLiteStore(":memory:", clock=self._clock, _seed=seed)
        finally:
            if seed is not None and base is not None and base.path is not None:
                seed.close()  # an in-memory database's checkpoint stays open
        view.replay(self.log_rows(base.lsn if base is not None else 0, lsn))
        view.make_read_only(lsn)
        return view
