"""The operation log: its entries, their columns, and how an entry becomes a ``Change``.

Every mutation of a record appends one entry in the same transaction as the change: its LSN
(log sequence number, strictly increasing, the commit order of the writes), time, op, record
id and key, the logged state before and after (canonical JSON, see ``codec.state_json``), the
new vector when the entry gives the record one, and the actor. A record's version is the LSN
of its last entry. Entries are never rewritten: restoring appends new ones
(``memoryspace.store.timetravel``). Every backend stores the same columns, so a raw entry
(``LogRow``) read from one store replays into another.
"""

from __future__ import annotations

from typing import Any

from memoryspace.models import Change, Memory, Op
from memoryspace.store.codec import memory_from_state

# (lsn, time, op, id, key, before, after, vector, actor): a raw entry, the same on every backend.
LogRow = tuple[Any, ...]
LOG_COLUMNS = "lsn, time, op, id, key, before, after, vector, actor"
# A log entry, with the version its record had before it (the LSN of the previous entry).
CHANGE_COLUMNS = (
    "lsn, time, op, id, before, after, actor, "
    "(SELECT max(p.lsn) FROM oplog p WHERE p.id = o.id AND p.lsn < o.lsn)"
)


def change_from_row(row: tuple[Any, ...]) -> Change:
    """A ``Change`` from a row of ``CHANGE_COLUMNS``."""
    lsn, when, op, id, before_json, after_json, actor, previous = row
    before, after = memory_from_state(before_json), memory_from_state(after_json)
    return Change(
        lsn=lsn,
        time=when,
        op=Op(op),
        id=id,
        before=before.evolve(version=previous or 0) if before else None,
        after=after.evolve(version=lsn) if after else None,
        actor=actor,
    )


def logged_change(
    lsn: int,
    when: float,
    op: Op,
    before: Memory | None,
    after: Memory | None,
    actor: str | None,
) -> Change:
    """The ``Change`` a write returns for the entry it just logged (access counters stripped)."""
    strip: dict[str, Any] = {"access_count": 0, "last_access": None}
    return Change(
        lsn=lsn,
        time=when,
        op=op,
        id=(after or before).id,  # type: ignore[union-attr]
        before=before.evolve(**strip) if before else None,
        after=after.evolve(**strip, version=lsn) if after else None,
        actor=actor,
    )
