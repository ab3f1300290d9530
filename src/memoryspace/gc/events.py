"""What one garbage collection did, for the profiler, ``stats()`` and the trigger bandit."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class GCEvent:
    """One collection: when it ran, how long it paused the space and what it did.

    ``pause_duration`` is in seconds (a monotonic timer, not the space's clock); ``collected``
    counts records archived, compacted or deleted; ``compacted`` counts the summary records
    created; ``action_counts`` maps each action ("archive", "compact", "delete", "promote") to
    the records it touched. ``skipped`` counts planned records that another writer changed
    between the scan and the collection's transaction: they are left alone (never overwritten)
    and looked at again by the next collection. A dry run reports what would have happened and
    changes nothing.
    """

    collector: str
    started_at: float
    pause_duration: float
    scanned: int
    collected: int
    promoted: int
    compacted: int
    action_counts: dict[str, int] = field(default_factory=dict)
    dry_run: bool = False
    lsn_before: int = 0
    lsn_after: int = 0
    skipped: int = 0

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of every field."""
        return asdict(self)
