"""The op log and checkpoints of ``PostgresStore``: the change feed (``LISTEN``/``NOTIFY``
wakes waiters, the log answers), raw rows and their replay, LSN-tag checkpoints, and time
travel by replaying the log into an in-memory SQLite store (``memoryspace.store.timetravel``).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Iterator, Sequence

from memoryspace import validate
from memoryspace.errors import Conflict, NotFound
from memoryspace.models import Change, Checkpoint, Op
from memoryspace.store.base import IndexDelta, Store
from memoryspace.store.codec import blob_vector
from memoryspace.store.oplog import LogRow
from memoryspace.store.postgres import log, replay
from memoryspace.store.postgres.base import PostgresBase
from memoryspace.store.postgres.connections import Conn

REPLICA_POLL = 0.5  # seconds between reads of the log when waiting on a read-only store


class PostgresHistory(PostgresBase):
    """The log, checkpoints and time travel."""

    # -- the log

    def last_lsn(self) -> int:
        row = self._read(
            lambda conn: conn.execute("SELECT COALESCE(max(lsn), 0) FROM oplog").fetchone()
        )
        return int(row[0]) if row else 0

    def changes(self, since_lsn: int = 0, limit: int | None = None) -> list[Change]:
        """Log entries after ``since_lsn``, oldest first: a feed other agents can tail."""
        return self._read(lambda conn: log.changes(conn, since_lsn, limit))

    def wait_for_changes(self, since_lsn: int, timeout: float) -> list[Change]:
        """Log entries after ``since_lsn``, waiting up to ``timeout`` seconds for one to be
        committed (by any process on any host) when there is none yet (``LISTEN``/``NOTIFY``
        wakes the waiter; the log is read for the answer). A read-only store (a hot standby
        cannot ``LISTEN``) reads the log every ``REPLICA_POLL`` seconds instead."""
        self._db.check()
        if self._read_only:
            deadline = time.monotonic() + timeout
            while not (found := self.changes(since_lsn)) and time.monotonic() < deadline:
                time.sleep(min(REPLICA_POLL, max(0.0, deadline - time.monotonic())))
            return found
        return log.wait(self._url, lambda: self.changes(since_lsn), timeout)

    def history(self, id: str) -> list[Change]:
        """Every log entry of one memory, oldest first.

        Raises:
            NotFound: the log has no entry for that id.
        """
        found = self._read(lambda conn: log.history(conn, id))
        if not found:
            raise NotFound(f"no memory with id {id!r} was ever stored")
        return found

    def index_deltas(self, since_lsn: int) -> Iterator[IndexDelta]:
        """What a vector index must apply to follow the log after ``since_lsn``."""
        last = since_lsn
        while True:
            rows = self._read(functools.partial(log.delta_rows, since_lsn=last))
            if not rows:
                return
            for lsn, op, key, blob in rows:
                yield IndexDelta(lsn=lsn, op=Op(op), key=key, vector=blob_vector(blob))
            last = rows[-1][0]

    def log_rows(self, after_lsn: int, upto_lsn: int) -> list[LogRow]:
        """Raw log rows in (after_lsn, upto_lsn], in the format every backend replays."""
        return self._read(lambda conn: log.raw_rows(conn, after_lsn, upto_lsn))

    def replay(self, rows: Sequence[LogRow]) -> None:
        """Apply raw log rows (``log_rows`` of any backend) verbatim: same keys, same LSNs.

        Raises:
            Conflict: the first row does not follow this database's last LSN.
        """

        def body(conn: Conn) -> None:
            if rows:  # committed when its last entry is in the log
                self._db.expect(log.proof(int(rows[-1][0]), float(rows[-1][1]), str(rows[-1][3])))
            replay.replay(conn, rows, self._put_vector)

        self._write("replaying the log", body)

    # -- checkpoints and time travel

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

        def body(conn: Conn) -> int:
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
            self._db.expect(
                lambda check: (
                    check.execute(
                        "SELECT 1 FROM checkpoints WHERE name = %s AND created_at = %s",
                        (name, when),
                    ).fetchone()
                    is not None
                )
            )
            return lsn

        lsn = self._write("taking a checkpoint", body)
        return Checkpoint(name=name, lsn=lsn, created_at=when, path=None)

    def checkpoints(self) -> list[Checkpoint]:
        rows = self._read(
            lambda conn: conn.execute(
                "SELECT name, lsn, created_at FROM checkpoints ORDER BY lsn, created_at"
            ).fetchall()
        )
        return [
            Checkpoint(name=n, lsn=int(lsn), created_at=float(c), path=None) for n, lsn, c in rows
        ]

    def delete_checkpoint(self, name: str) -> None:
        """Raises ``NotFound`` when there is no checkpoint called ``name``."""

        def body(conn: Conn) -> int:
            self._db.expect(lambda check: True)  # gone either way
            return int(conn.execute("DELETE FROM checkpoints WHERE name = %s", (name,)).rowcount)

        if not self._write("deleting a checkpoint", body):
            raise NotFound(f"no checkpoint named {name!r}; list them with checkpoints()")

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
