"""``BoundedCollector``: keeps a space (or each user's part of it) under a number of records.

A bounded memory is what most agents want from forgetting: "keep at most N memories, drop the
ones I have not used for longest". One collection:

1. with ``idle_after``, collects the records unused (neither read, changed nor created) for that
   many seconds, a time to live that every use renews;
2. with ``young_age``, runs a minor generational collection first (young records older than
   ``young_age`` are collected when never used, promoted when used), then sweeps the old
   generation, then the young one;
3. collects the least recently used records until at most ``target`` remain (``target``
   defaults to ``max_records``; a lower target leaves headroom, so a collection frees a batch
   instead of one record per add).

Pinned records and records reachable from a root (``memoryspace.gc.collectors.reachable``) are
never collected, so the bound is a goal that locked pages can exceed. With ``per="user"`` each
user's records are bounded separately.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from memoryspace.errors import InvalidInput
from memoryspace.gc.collectors import Collector, GenerationalCollector, Plan, reachable
from memoryspace.gc.roots import Roots
from memoryspace.heapview import HeapRecord


def last_use(memory: HeapRecord) -> float:
    """When the record was last read, changed or created."""
    return max(memory.created_at, memory.updated_at, memory.last_access or 0.0)


def least_recently_used(memories: Sequence[HeapRecord], excess: int) -> list[HeapRecord]:
    """The ``excess`` records used longest ago (ties: oldest first), none if ``excess <= 0``."""
    if excess <= 0:
        return []
    return sorted(memories, key=lambda m: (last_use(m), m.created_at, m.id))[:excess]


@dataclass(slots=True)
class BoundedCollector(Collector):
    """Collects down to ``target`` (default ``max_records``) live records, least recently used
    first; see the module docstring.

    Raises:
        InvalidInput: a non-positive ``max_records``, a ``target`` above it, a negative time, or
            an unknown ``per``.
    """

    max_records: int = 10_000
    target: int | None = None
    idle_after: float | None = None
    young_age: float | None = None
    per: str = "space"
    roots: Roots | None = None
    name: ClassVar[str] = "bounded"

    def __post_init__(self) -> None:
        if isinstance(self.max_records, bool) or not isinstance(self.max_records, int):
            raise InvalidInput(f"max_records must be an integer, got {self.max_records!r}")
        if self.max_records < 1:
            raise InvalidInput(f"max_records must be at least 1, got {self.max_records}")
        if self.target is not None and (
            isinstance(self.target, bool)
            or not isinstance(self.target, int)
            or not 0 <= self.target <= self.max_records
        ):
            raise InvalidInput(
                f"target must be an integer from 0 to max_records, got {self.target!r}"
            )
        for name in ("idle_after", "young_age"):
            value = getattr(self, name)
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0
            ):  # "not >=" also refuses NaN
                raise InvalidInput(f"{name} must be seconds >= 0, got {value!r}")
        if self.per not in ("space", "user"):
            raise InvalidInput(f"per must be 'space' or 'user', got {self.per!r}")

    def plan(self, memories: Sequence[HeapRecord], now: float) -> Plan:
        marked = reachable(memories, roots=self.roots)
        groups: dict[str | None, list[HeapRecord]] = defaultdict(list)
        for memory in memories:
            groups[memory.user if self.per == "user" else None].append(memory)
        collect: list[HeapRecord] = []
        promote: list[HeapRecord] = []
        for group in groups.values():
            taken, promoted = self._plan_group(group, marked, now)
            collect.extend(taken)
            promote.extend(promoted)
        return Plan(scanned=len(memories), collect=tuple(collect), promote=tuple(promote))

    def _plan_group(
        self, memories: Sequence[HeapRecord], marked: set[str], now: float
    ) -> tuple[list[HeapRecord], list[HeapRecord]]:
        target = self.max_records if self.target is None else self.target
        free = [m for m in memories if not m.pinned and m.id not in marked]
        idle = self.idle_after
        collect = [] if idle is None else [m for m in free if now - last_use(m) >= idle]
        excess = len(memories) - len(collect) - target
        taken = {m.id for m in collect}
        rest = [m for m in free if m.id not in taken]
        if self.young_age is None:
            return collect + least_recently_used(rest, excess), []
        if excess <= 0:
            return collect, []
        minor = GenerationalCollector(
            young_age=self.young_age, importance_threshold=1.0, sessions=set()
        ).plan(rest, now)
        swept, promote = list(minor.collect), list(minor.promote)
        promoted = {m.id for m in promote}
        # just-promoted records are old now: the sweep of the old generation may take them too
        old = [m for m in rest if m.generation > 0 or m.id in promoted]
        swept += least_recently_used(old, excess - len(swept))
        taken = {m.id for m in swept}
        young = [m for m in rest if m.generation == 0 and m.id not in taken | promoted]
        swept += least_recently_used(young, excess - len(swept))
        taken = {m.id for m in swept}
        return collect + swept, [m for m in promote if m.id not in taken]
