"""Erasure: what every backend's ``purge`` reports, and what a purged log entry looks like.

``delete`` removes a live record but keeps its history; ``purge`` removes the content
everywhere. In the op log each entry of a purged record keeps its LSN, time, op, id, key and
actor, while its payload columns (``before``, ``after``, ``vector``) are cleared: it becomes a
*tombstone*. One ``purge`` entry (``Op.PURGE``, no payload) is appended per record, so
``history(id)`` says when and by whom it was erased. Replaying the log skips tombstones and
purge entries, so a purged record never existed in any past state (``as_of``, ``restore``,
``migrate``). A tombstone is recognised by its payload alone (both states empty), whatever
format the payload columns otherwise use.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from memoryspace.models import Op

TOMBSTONE_SQL = "before IS NULL AND after IS NULL"  # an erased entry (never an ordinary one)


@dataclass(frozen=True, slots=True)
class PurgeReport:
    """What a ``purge`` erased, and where.

    ``ids`` are the records erased (live ones and ones deleted earlier); ``records`` how many
    of them were live; ``log_entries`` how many log entries became tombstones; ``lsn`` the LSN
    of the last ``purge`` entry (0 when nothing matched). ``checkpoints_rewritten`` had the
    same purge applied and re-checked; ``checkpoints_dropped`` are ``(name, reason)`` pairs of
    checkpoints deleted because they could not be rewritten. ``files`` lists every file
    rewritten or removed. ``wal_truncated`` is ``None`` where there is no WAL file to truncate
    (in memory, PostgreSQL). ``notes`` say what the backend cannot guarantee.
    """

    ids: tuple[str, ...] = ()
    records: int = 0
    log_entries: int = 0
    lsn: int = 0
    checkpoints_rewritten: tuple[str, ...] = ()
    checkpoints_dropped: tuple[tuple[str, str], ...] = ()
    files: tuple[str, ...] = ()
    embedding_cache_entries: int = 0
    hot_tier_evicted: int = 0
    wal_truncated: bool | None = None
    notes: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["ids"] = list(self.ids)
        out["checkpoints_rewritten"] = list(self.checkpoints_rewritten)
        out["checkpoints_dropped"] = [
            {"name": name, "reason": reason} for name, reason in self.checkpoints_dropped
        ]
        out["files"] = list(self.files)
        out["notes"] = list(self.notes)
        return out


def skipped_by_replay(op: object, before: object, after: object) -> bool:
    """Whether a raw log entry changes nothing when replayed: a purge entry or a tombstone."""
    return str(op) == Op.PURGE or (before is None and after is None)


def scope_condition(
    user: str | None, agent: str | None, session: str | None, *, placeholder: str, json_field: str
) -> tuple[str, list[Any]]:
    """SQL matching log entries whose logged state (before or after) lies in the scope.

    ``json_field`` is the backend's expression template for a JSON field of a column, with
    ``{column}`` and ``{name}`` (e.g. SQLite ``json_extract({column}, '$.{name}')``).
    """
    parts: list[str] = []
    params: list[Any] = []
    for column in ("before", "after"):
        inner: list[str] = []
        for name, value in (("user", user), ("agent", agent), ("session", session)):
            if value is not None:
                inner.append(f"{json_field.format(column=column, name=name)} = {placeholder}")
                params.append(value)
        parts.append("(" + " AND ".join(inner) + ")")
    return " OR ".join(parts), params
