"""The operation log: its entries, their columns, and how an entry becomes a ``Change``.

Every mutation of a record appends one entry in the same transaction as the change: its LSN
(log sequence number, strictly increasing, the commit order of the writes), time, op, record
id and key, what the record was before and after (compact JSON: a full state or the changed
fields, see ``memoryspace.store.logformat``, which also turns entries back into ``Change``s
with whole records), the vector the entry gave the record (by reference while it is current),
and the actor. A record's version is the LSN of its last entry. Restoring never rewinds the
log, it appends entries (``memoryspace.store.timetravel``); only ``compact-log`` drops old
ones (``memoryspace.store.compaction``). Every backend stores the same columns, so a raw entry
(``LogRow``, vectors resolved) read from one store replays into another.
"""

from __future__ import annotations

from typing import Any

from memoryspace.models import Change, Memory, Op

# (lsn, time, op, id, key, before, after, vector, actor): a raw entry, the same on every backend.
LogRow = tuple[Any, ...]
LOG_COLUMNS = "lsn, time, op, id, key, before, after, vector, actor"
# A log entry, with the version its record had before it (the LSN of the previous entry).
CHANGE_COLUMNS = (
    "lsn, time, op, id, before, after, actor, "
    "(SELECT max(p.lsn) FROM oplog p WHERE p.id = o.id AND p.lsn < o.lsn)"
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
