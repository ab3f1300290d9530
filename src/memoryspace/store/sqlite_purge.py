"""Erasure on SQLite: a purge that leaves no byte of the content in any file of the database.

One write transaction (with ``PRAGMA secure_delete``, so freed pages are zeroed) removes the
live rows, their vectors, access counts and full text (the neighbours' dialogue context is
recomputed without them), turns their log entries into tombstones and appends a ``purge`` entry
per record (see ``memoryspace.store.erasure``). FTS5 keeps deleted terms in old segments until
they merge, and SQLite 3.40 has no FTS5 ``secure-delete`` option, so the index is optimised
(every segment merged into one) in the same transaction. Then each checkpoint file gets the same
purge, is copied compactly (``VACUUM INTO``) over itself and re-checked: no row or log payload
of a purged record, and none of the erased texts (the 16 longest) among its bytes; one that
cannot be rewritten is deleted, and the report says why. Last, the
database is ``VACUUM``-ed and its WAL truncated (``wal_checkpoint(TRUNCATE)``), so neither free
pages nor old WAL frames keep a copy. A reader in another process holding a snapshot open can
keep the WAL from being truncated; the report's ``wal_truncated`` then says ``False``.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from memoryspace.models import Op
from memoryspace.store import fts, schema, snapshots
from memoryspace.store.codec import SELECT_MEMORY, memory_from_row
from memoryspace.store.erasure import PurgeReport, scope_condition
from memoryspace.store.failures import from_sqlite, translate

if TYPE_CHECKING:
    from memoryspace.store.sqlite import SQLiteStore

_JSON_FIELD = "json_extract({column}, '$.{name}')"


def ever_stored(
    store: SQLiteStore, user: str | None, agent: str | None, session: str | None
) -> list[str]:
    """Ids of every record ever stored in the scope (live, or deleted and found through the
    log), oldest first."""
    where, params = scope_condition(user, agent, session, placeholder="?", json_field=_JSON_FIELD)
    live = " AND ".join(
        f"{name} = ?"
        for name, value in (("user", user), ("agent", agent), ("session", session))
        if value is not None
    )
    live_params = [v for v in (user, agent, session) if v is not None]
    with store.connections.reading() as conn:
        rows = conn.execute(
            f"SELECT id, min(lsn) FROM oplog WHERE {where} GROUP BY id "
            f"UNION ALL SELECT id, version FROM memories WHERE {live}",
            [*params, *live_params],
        ).fetchall()
    first: dict[str, int] = {}
    for id, lsn in rows:
        first[id] = min(first.get(id, lsn), lsn)
    return sorted(first, key=lambda i: (first[i], i))


def erase_rows(
    conn: sqlite3.Connection,
    ids: Sequence[str],
    *,
    now: float,
    actor: str | None,
    log_purge: bool,
) -> tuple[list[str], int, int, int]:
    """Inside the caller's transaction: remove the records ``ids`` and tombstone their log
    entries; with ``log_purge`` append a ``purge`` entry per record. Returns (the ids
    erased (not those never stored or erased already), live records removed, entries
    tombstoned, LSN of the last purge entry or 0). Used on the database and on
    its checkpoint files (whose log ends before the purge)."""
    records = tombstoned = last = 0
    erased: list[str] = []
    for id in ids:
        row = conn.execute(f"{SELECT_MEMORY} WHERE m.id = ?", (id,)).fetchone()
        if row is not None:
            key, before = memory_from_row(row)
            for table in ("memories", "vectors", "access"):
                conn.execute(f"DELETE FROM {table} WHERE key = ?", (key,))
            fts.remove(conn, key, before)  # the index forgets exactly what it held
            records += 1
        else:
            found = conn.execute(
                "SELECT key, op FROM oplog WHERE id = ? ORDER BY lsn DESC LIMIT 1", (id,)
            ).fetchone()
            if found is None or found[1] == Op.PURGE:
                continue  # never stored here, or already erased
            key = int(found[0])
        tombstoned += conn.execute(
            "UPDATE oplog SET before = NULL, after = NULL, vector = NULL "
            "WHERE id = ? AND op != 'purge' AND (before IS NOT NULL OR after IS NOT NULL "
            "OR vector IS NOT NULL)",
            (id,),
        ).rowcount
        if log_purge:
            cursor = conn.execute(
                "INSERT INTO oplog(time, op, id, key, before, after, vector, actor) "
                "VALUES (?, ?, ?, ?, NULL, NULL, NULL, ?)",
                (now, str(Op.PURGE), id, key, actor),
            )
            last = int(cursor.lastrowid or 0)
        erased.append(id)
    # Deleted terms stay in older FTS5 segments until they are merged away.
    conn.execute("INSERT INTO memories_fts(memories_fts) VALUES ('optimize')")
    return erased, records, tombstoned, last


def purge(
    store: SQLiteStore, ids: Sequence[str], texts: Sequence[str], *, actor: str | None
) -> PurgeReport:
    """Erase ``ids`` from the database, its checkpoints, free pages and WAL.

    ``texts`` are the contents the records ever had: each rewritten checkpoint is checked to
    hold none of them.

    Raises:
        ReadOnly: a read-only view or file.
        DiskFull, BackendUnavailable: SQLite failed; the live purge is all or nothing.
    """
    db = store.connections
    db.get().execute("PRAGMA secure_delete = ON")  # this connection zeroes what it frees
    with store.transaction(), db.writing() as conn:
        erased, records, tombstoned, lsn = erase_rows(
            conn, ids, now=store._clock(), actor=actor, log_purge=True
        )
    rewritten, dropped, files = _purge_checkpoints(store, ids, texts)
    truncated: bool | None = None
    if store.path is not None:
        truncated = _compact(store)
        files.insert(0, store.path)
    return PurgeReport(
        ids=tuple(erased),
        records=records,
        log_entries=tombstoned,
        lsn=lsn,
        checkpoints_rewritten=tuple(rewritten),
        checkpoints_dropped=tuple(dropped),
        files=tuple(files),
        wal_truncated=truncated,
        notes=() if truncated is not False else (_WAL_BUSY,),
    )


_WAL_BUSY = (
    "another connection kept the WAL from being truncated, so old frames may hold erased "
    "content until SQLite restarts the WAL; close the other handles and purge one of the "
    "erased ids again (`memoryspace purge --id ID --yes`): that truncates it"
)


def _compact(store: SQLiteStore) -> bool:
    """``VACUUM`` the database (no free page keeps old bytes) and truncate its WAL; returns
    whether the WAL was truncated."""
    db = store.connections
    with db.write_lock:
        conn = db.get()
        try:
            conn.execute("VACUUM")
            busy, _frames, _done = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        except sqlite3.Error as exc:
            raise from_sqlite(exc, db.path, "compacting the database after a purge") from exc
    return int(busy) == 0 and _wal_size(store) == 0


def _wal_size(store: SQLiteStore) -> int:
    assert store.path is not None
    try:
        return os.path.getsize(store.path + "-wal")
    except OSError:
        return 0


def _purge_checkpoints(
    store: SQLiteStore, ids: Sequence[str], texts: Sequence[str]
) -> tuple[list[str], list[tuple[str, str]], list[str]]:
    """Apply the purge to every checkpoint; (rewritten, dropped with reasons, files)."""
    rewritten: list[str] = []
    dropped: list[tuple[str, str]] = []
    files: list[str] = []
    for checkpoint in snapshots.listing(store):
        if checkpoint.path is None:  # an in-memory database's checkpoint
            conn = store.memory_checkpoints[checkpoint.name][0]
            with conn:
                conn.execute("PRAGMA secure_delete = ON")
                erase_rows(conn, ids, now=0.0, actor=None, log_purge=False)
            rewritten.append(checkpoint.name)
            continue
        path = Path(checkpoint.path)
        reason = (
            f"damaged ({checkpoint.damaged}), so it could not be rewritten"
            if checkpoint.damaged is not None
            else _rewrite(path, ids, texts)
        )
        files.append(str(path))
        if reason is None:
            rewritten.append(checkpoint.name)
            continue
        try:
            path.unlink(missing_ok=True)
        except OSError as exc:
            raise translate(
                exc, str(path), "dropping a checkpoint a purge could not rewrite"
            ) from exc
        dropped.append((checkpoint.name, reason))
    return rewritten, dropped, files


def _rewrite(path: Path, ids: Sequence[str], texts: Sequence[str]) -> str | None:
    """Purge ``ids`` from one checkpoint file and replace it by a compact copy; the reason it
    could not be done, or ``None``."""
    partial = path.with_name(f".{path.name}.purge")
    try:
        partial.unlink(missing_ok=True)
        conn = sqlite3.connect(path, isolation_level=None)
        try:
            conn.execute("PRAGMA secure_delete = ON")
            schema.migrate(conn)  # a checkpoint taken by an older version has its old index
            conn.execute("BEGIN IMMEDIATE")
            try:
                erase_rows(conn, ids, now=0.0, actor=None, log_purge=False)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("VACUUM INTO ?", (str(partial),))
        finally:
            conn.close()
        with open(partial, "rb") as handle:
            os.fsync(handle.fileno())
        left = _still_holds(partial, ids, texts)
        if left:
            partial.unlink(missing_ok=True)
            return f"{left} still found in it after the rewrite"
        os.replace(partial, path)
        with contextlib.suppress(OSError):
            path.with_name(path.name + "-journal").unlink(missing_ok=True)
    except (OSError, sqlite3.Error) as exc:
        with contextlib.suppress(OSError):
            partial.unlink(missing_ok=True)
        return f"it could not be rewritten ({exc})"
    return None


def _still_holds(copy: Path, ids: Sequence[str], texts: Sequence[str]) -> str | None:
    """What of the purged records the rewritten ``copy`` still holds: a row or a log payload
    of one of ``ids`` (every id checked), or the bytes of one of ``texts`` (UTF-8, as SQLite
    stores them; the ``_BYTE_CHECKS`` longest, since each check reads the whole file) that no
    record left in it says too."""
    conn = sqlite3.connect(f"file:{copy}?mode=ro", uri=True)
    try:
        for start in range(0, len(ids), 400):
            chunk = list(ids[start : start + 400])
            marks = ", ".join("?" * len(chunk))
            rows = conn.execute(
                f"SELECT (SELECT count(*) FROM memories WHERE id IN ({marks})) + "
                f"(SELECT count(*) FROM oplog WHERE id IN ({marks}) AND "
                "(before IS NOT NULL OR after IS NOT NULL OR vector IS NOT NULL))",
                [*chunk, *chunk],
            ).fetchone()[0]
            if rows:
                return f"{rows} row(s) of the purged records"
        data = copy.read_bytes()
        wanted = sorted({t for t in texts if t}, key=len, reverse=True)[:_BYTE_CHECKS]
        found = sum(1 for t in wanted if t.encode("utf-8") in data and not _kept_elsewhere(conn, t))
    finally:
        conn.close()
    return f"{found} erased text(s)" if found else None


def _kept_elsewhere(conn: sqlite3.Connection, text: str) -> bool:
    """Whether a record that stays says ``text`` too (in its content or its logged states),
    so finding its bytes proves nothing about the purged ones."""
    escaped = json.dumps(text, ensure_ascii=False)[1:-1]  # as the log's JSON holds it
    row = conn.execute(
        "SELECT EXISTS (SELECT 1 FROM memories WHERE instr(content, ?)) OR EXISTS "
        "(SELECT 1 FROM oplog WHERE instr(before, ?) OR instr(after, ?))",
        (text, escaped, escaped),
    ).fetchone()
    return bool(row[0])


_BYTE_CHECKS = 16
