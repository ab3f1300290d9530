"""Read answers remembered until the op log moves.

Every change to what SQLite's records, full text and vectors hold is logged, so the op log's
sequence number (``sqlite_sequence``: it only grows, also when the log is compacted) says when a
remembered answer may have changed: a write from any process moves it. ``LogVersioned`` is the
base of such memories (``fts.TermStats``, ``filterkeys.FilterKeys``): answers are filed under
the sequence read before they were computed, so one that saw a write landing meanwhile is filed
under a sequence already past; inside an open write transaction nothing is remembered (it could
roll back and its sequence be reused).
"""

from __future__ import annotations

import threading

from memoryspace.store.connections import Connections


def log_sequence(db: Connections) -> int | None:
    """The op log's sequence number: the last LSN ever given (compaction does not lower it);
    ``None`` inside an open write transaction, whose changes may still be rolled back."""
    with db.reading() as conn:
        if conn.in_transaction:
            return None
        row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'oplog'").fetchone()
    return 0 if row is None else int(row[0])


class LogVersioned:
    """What a memory of read answers shares: its lock and the log sequence its answers hold
    for. A subclass says what to drop in ``_forget``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._version: int | None = None

    def _at(self, version: int) -> None:
        """Drop everything remembered under another sequence (call holding the lock)."""
        if version != self._version:
            self._forget()
            self._version = version

    def _forget(self) -> None:
        raise NotImplementedError
