"""Erasure on PostgreSQL.

One write transaction deletes the live rows (records, vectors and their pgvector embeddings,
access counts; the full text lives in the records' rows, and a word no memory holds any more
leaves the BM25 statistics) and recomputes the neighbours' dialogue context, turns the
records' log entries into tombstones and appends a ``purge`` entry per record (see
``memoryspace.store.erasure``). Checkpoints here are LSN tags, not copies, so there is nothing
to rewrite. Then the touched tables are ``VACUUM``-ed.

What PostgreSQL cannot guarantee: ``VACUUM`` marks the dead row versions' space free for reuse
but does not overwrite it, so the bytes stay in the table files until new rows reuse the space
(``VACUUM FULL`` rewrites the tables, at the cost of an exclusive lock); the server's WAL
segments, WAL archives, streaming replicas, base backups and dumps keep their own copies until
they are recycled or deleted. The report's ``notes`` say so.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from memoryspace.models import Memory, Op
from memoryspace.store.erasure import PurgeReport, scope_condition
from memoryspace.store.postgres import log, text

if TYPE_CHECKING:
    from memoryspace.store.postgres.store import PostgresStore

_JSON_FIELD = "(({column})::jsonb ->> '{name}')"
NOTES = (
    "PostgreSQL: VACUUM made the erased rows' space reusable but does not overwrite it; WAL "
    "segments, archives, replicas and backups keep copies until they are recycled or deleted",
)


def ever_stored(
    store: PostgresStore, user: str | None, agent: str | None, session: str | None
) -> list[str]:
    """Ids of every record ever stored in the scope (live or found through the log)."""
    where, params = scope_condition(user, agent, session, placeholder="%s", json_field=_JSON_FIELD)
    live = " AND ".join(
        f"{name} = %s"
        for name, value in (("user", user), ("agent", agent), ("session", session))
        if value is not None
    )
    live = live.replace("user =", '"user" =')
    live_params = [v for v in (user, agent, session) if v is not None]
    with store._reading("finding what to purge") as conn:
        rows = conn.execute(
            f"SELECT id, min(lsn) FROM oplog WHERE {where} GROUP BY id "
            f"UNION ALL SELECT id, version FROM memories WHERE {live}",
            [*params, *live_params],
        ).fetchall()
    first: dict[str, int] = {}
    for id, lsn in rows:
        first[id] = min(first.get(id, int(lsn)), int(lsn))
    return sorted(first, key=lambda i: (first[i], i))


def purge(store: PostgresStore, ids: Sequence[str], *, actor: str | None) -> PurgeReport:
    """Erase ``ids``: rows deleted, log tombstoned, a ``purge`` entry each, tables vacuumed.

    Raises:
        ReadOnly: a read-only view.
        BackendUnavailable: the server failed; the purge is all or nothing.
    """
    records = tombstoned = last = 0
    erased: list[str] = []
    with store._writing("purging") as conn:
        now = store._clock()
        for id in ids:
            row = conn.execute(
                'SELECT key, "user", agent, session, created_at FROM memories WHERE id = %s',
                (id,),
            ).fetchone()
            if row is not None:
                key = int(row[0])
                place = Memory(id=id, content="", user=row[1], agent=row[2], session=row[3])
                for table in ("memories", "vectors", "access"):
                    conn.execute(f"DELETE FROM {table} WHERE key = %s", (key,))
                text.refresh_around(conn, place.evolve(created_at=float(row[4])), key)
                records += 1
            else:
                found = conn.execute(
                    "SELECT key, op FROM oplog WHERE id = %s ORDER BY lsn DESC LIMIT 1", (id,)
                ).fetchone()
                if found is None or found[1] == Op.PURGE:
                    continue  # never stored here, or already erased
                key = int(found[0])
            tombstoned += conn.execute(
                "UPDATE oplog SET before = NULL, after = NULL, vector = NULL "
                "WHERE id = %s AND op != 'purge' AND (before IS NOT NULL OR after IS NOT NULL "
                "OR vector IS NOT NULL)",
                (id,),
            ).rowcount
            last = log.next_lsn(conn)
            conn.execute(
                "INSERT INTO oplog(lsn, time, op, id, key, before, after, vector, actor) "
                "VALUES (%s, %s, %s, %s, %s, NULL, NULL, NULL, %s)",
                (last, now, str(Op.PURGE), id, key, actor),
            )
            conn.execute("SELECT pg_notify(%s, %s)", (log.CHANNEL, str(last)))
            erased.append(id)
    with store._reading("vacuuming after a purge") as conn:
        conn.execute("VACUUM memories, vectors, access, oplog, lexeme_documents")
    return PurgeReport(
        ids=tuple(erased), records=records, log_entries=tombstoned, lsn=last, notes=NOTES
    )
