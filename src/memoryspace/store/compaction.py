"""``compact-log``: drop the op log's entries up to a checkpoint, keeping what remains whole.

A SQLite checkpoint is a full copy of the database, so the state at it does not need the log
before it: ``compact_log`` drops every entry up to the LSN it is told to keep after (a
checkpoint, or an LSN with a sound checkpoint at or after it), rewrites each record's first
kept entry as full states when it was a diff of a dropped one, and records the horizon
(``memoryspace.store.loghorizon``). Afterwards time travel to a state from before the horizon,
or reading the log from there, raises ``LogCompacted`` saying why. The newest entry is always
kept, so the end of the log (``last_lsn``) does not move. The space freed is reused by new
entries; ``vacuum`` gives it back to the file system.

PostgreSQL checkpoints are LSN tags over the log (its only copy of the past), so a log there
cannot be compacted without losing them: ``compact_log`` refuses.
"""

from __future__ import annotations

import sqlite3
from dataclasses import asdict, dataclass
from typing import Any

from memoryspace.errors import Conflict, InvalidInput
from memoryspace.store import logformat, sqlite_log, timetravel
from memoryspace.store.base import Store
from memoryspace.store.loghorizon import HORIZON, compacted_through
from memoryspace.store.sqlite import SQLiteStore


@dataclass(frozen=True, slots=True)
class Compaction:
    """What ``compact_log`` did: entries dropped and rewritten as full states, the new
    horizon, and the checkpoint that holds the state there."""

    horizon: int
    checkpoint: str
    dropped: int
    rewritten: int
    kept: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def compact_log(store: Store, keep_after: str | int) -> Compaction:
    """Drop the log entries up to ``keep_after`` (a checkpoint name, or an LSN with a sound
    checkpoint at or after it), in one write transaction.

    Raises:
        NotFound: no checkpoint of that name.
        InvalidInput: ``keep_after`` is neither a name nor an LSN of this log.
        Conflict: no sound checkpoint holds the state at or after the LSN, or the store is
            PostgreSQL (its checkpoints need the whole log).
        Conflict, BackendUnavailable: the named checkpoint is another database's, or damaged.
    """
    if not isinstance(store, SQLiteStore):
        raise Conflict(
            f"{type(store).__name__} keeps checkpoints as LSN tags over the log, so the log is "
            "its only copy of the past: compact-log would destroy every checkpoint and the "
            "history with it; it is for SQLite databases (whose checkpoints are full copies)"
        )
    horizon, checkpoint = _horizon(store, keep_after)
    store.flush()
    with store.connections.writing() as conn:
        last = int(conn.execute("SELECT COALESCE(max(lsn), 0) FROM oplog").fetchone()[0])
        cut = min(horizon, last - 1)  # the newest entry stays: it is the end of the log
        rewritten = _rewrite_first_kept(conn, cut)
        dropped = conn.execute("DELETE FROM oplog WHERE lsn <= ?", (cut,)).rowcount
        conn.execute(
            "INSERT INTO settings(key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = max(CAST(value AS INTEGER), excluded.value)",
            (HORIZON, horizon),
        )
        kept = int(conn.execute("SELECT count(*) FROM oplog").fetchone()[0])
    return Compaction(horizon, checkpoint, dropped, rewritten, kept)


def _horizon(store: SQLiteStore, keep_after: str | int) -> tuple[int, str]:
    """The LSN to drop entries up to, and the checkpoint that holds the state there."""
    if isinstance(keep_after, str):
        named = timetravel.find(store, keep_after)
        timetravel.check_usable(named)
        lsn = named.lsn
    elif isinstance(keep_after, int) and not isinstance(keep_after, bool):
        timetravel.check_lsn(store, keep_after)
        lsn = keep_after
    else:
        raise InvalidInput(
            f"keep_after must be a checkpoint name or an LSN, not {type(keep_after).__name__}"
        )
    sound = [c for c in store.checkpoints() if c.damaged is None and c.lsn >= lsn]
    if not sound:
        raise Conflict(
            f"no sound checkpoint is at or after LSN {lsn}, so nothing would hold the state "
            "there once the log before it is gone; take one first (memoryspace checkpoint NAME)"
        )
    if lsn < compacted_through(store):
        raise InvalidInput(
            f"the log is already compacted up to LSN {compacted_through(store)}; "
            f"keep_after {lsn} would drop nothing"
        )
    return lsn, min(sound, key=lambda c: c.lsn).name


def _rewrite_first_kept(conn: sqlite3.Connection, cut: int) -> int:
    """Rewrite as full states the first kept entry of each record whose earlier entries are
    dropped, unless it is an add (with the LSN of the entry before it, its ``before``'s
    version); returns how many were rewritten."""
    rows = conn.execute(
        "SELECT o.lsn, o.id, o.before, o.after FROM oplog o JOIN ("
        "  SELECT id, min(lsn) AS lsn FROM oplog WHERE lsn > ? GROUP BY id"
        ") first ON first.lsn = o.lsn "
        "WHERE EXISTS (SELECT 1 FROM oplog p WHERE p.id = o.id AND p.lsn <= ?)",
        (cut, cut),
    ).fetchall()

    rows = [row for row in rows if row[2] is not None]  # an add is whole already
    # No record has an entry between the cut and its first kept one: one batch reads back.
    states = logformat.prior_states(
        [row[1] for row in rows], cut + 1, sqlite_log.older_entries(conn)
    )
    previous = dict(
        conn.execute("SELECT id, max(lsn) FROM oplog WHERE lsn <= ? GROUP BY id", (cut,))
    )
    for lsn, id, before_json, after_json in rows:
        before, after = logformat.full_entry(states[id], before_json, after_json, previous[id])
        conn.execute("UPDATE oplog SET before = ?, after = ? WHERE lsn = ?", (before, after, lsn))
    return len(rows)
