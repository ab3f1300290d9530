"""Collectors decide what is garbage; ``memoryspace.gc.actions`` decides what to do with it.

Each collector looks at the live (unarchived) records and returns a ``Plan``: the records to
collect and the records to promote to the old generation. Collectors never write, so a dry run
is just a plan that is not applied, and the same plan can be tested without a store. They plan
from ``HeapRecord``s: what ``Store.heap`` reads without the records' contents (whole ``Memory``
objects work too), so planning never decodes the heap's text.

- ``TTLCollector``: records whose ``expires_at`` has passed (found through the expiry index, at
  most ``batch`` per collection), and with ``idle_after`` records unused for that long.
- ``MarkSweepCollector``: marks everything reachable from the roots (pinned records, persona
  records, the open sessions, and the roots agent structures register, see
  ``memoryspace.gc.roots``) along strong links (summary→sources, note→evidence) and dialogue
  chains (consecutive memories of a session); what is unreachable *and* cold (not accessed for
  ``cold_after`` seconds, importance below ``importance_threshold``) is collected.
- ``GenerationalCollector``: a minor collection looks at young records older than ``young_age``:
  survivors (accessed, important, or reachable from a root) are promoted, the rest collected. A
  major collection (``major=True``) also mark-sweeps the old generation.

Pinned records are never collected by any collector (page locking).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import ClassVar

from memoryspace.errors import InvalidInput
from memoryspace.gc.roots import Roots
from memoryspace.heapview import HeapRecord
from memoryspace.models import Kind
from memoryspace.store.base import Store

HOUR = 3600.0
DAY = 24 * HOUR


@dataclass(frozen=True, slots=True)
class Plan:
    """What a collection would do: ``collect`` and ``promote`` never overlap."""

    scanned: int
    collect: tuple[HeapRecord, ...] = ()
    promote: tuple[HeapRecord, ...] = ()


@dataclass(slots=True)
class Collector:
    """The base of every collector: a name and two hooks, ``candidates`` and ``plan``."""

    name: ClassVar[str] = "collector"

    def candidates(self, store: Store, now: float) -> Sequence[HeapRecord]:
        """The records ``plan`` looks at; by default every live (unarchived) record, without
        its content (``Store.heap``)."""
        return store.heap()

    def plan(self, memories: Sequence[HeapRecord], now: float) -> Plan:
        """What to collect and promote among ``memories`` (the live records) at time ``now``."""
        raise NotImplementedError


@dataclass(slots=True)
class TTLCollector(Collector):
    """Collects records whose time to live has run out (``expires_at <= now``) and, with
    ``idle_after``, records unused for that many seconds: neither read (``last_access``) nor
    changed (``updated_at``) since, a time to live that every use renews. Never pinned ones.

    Raises:
        InvalidInput: a negative ``idle_after``.
    """

    idle_after: float | None = None
    batch: int = 10_000
    name: ClassVar[str] = "ttl"

    def __post_init__(self) -> None:
        if self.idle_after is not None:
            _check_non_negative("idle_after", self.idle_after)
        if isinstance(self.batch, bool) or not isinstance(self.batch, int) or self.batch < 1:
            raise InvalidInput(f"batch must be a positive integer, got {self.batch!r}")

    def candidates(self, store: Store, now: float) -> Sequence[HeapRecord]:
        """Without ``idle_after``, only expired records, up to ``batch`` per collection, found
        through the expiry index: the work is bounded whatever the size of the heap."""
        if self.idle_after is None:
            return store.expired(now, self.batch)
        return Collector.candidates(self, store, now)

    def plan(self, memories: Sequence[HeapRecord], now: float) -> Plan:
        return Plan(scanned=len(memories), collect=tuple(m for m in memories if self._due(m, now)))

    def _due(self, memory: HeapRecord, now: float) -> bool:
        if memory.pinned:
            return False
        if memory.expires_at is not None and memory.expires_at <= now:
            return True
        if self.idle_after is None:
            return False
        last_use = max(memory.created_at, memory.updated_at, memory.last_access or 0.0)
        return now - last_use >= self.idle_after


def _check_non_negative(name: str, value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
        raise InvalidInput(f"{name} must be a number >= 0, got {value!r}")


def open_sessions(memories: Iterable[HeapRecord]) -> set[str]:
    """The most recent session of each user (by the newest record's ``created_at``).

    Summaries are derived records (a compaction creates them now), not activity, so they do not
    make their session look open.
    """
    newest: dict[str | None, tuple[float, str]] = {}
    for m in memories:
        if m.session is None or m.kind is Kind.SUMMARY:
            continue
        current = newest.get(m.user)
        if current is None or m.created_at >= current[0]:
            newest[m.user] = (m.created_at, m.session)
    return {session for _, session in newest.values()}


def reachable(
    memories: Sequence[HeapRecord], sessions: set[str] | None = None, roots: Roots | None = None
) -> set[str]:
    """Ids reachable from the roots: pinned records, personas, the records of ``sessions`` (or
    else each user's latest session) and whatever the registered ``roots`` rules name (e.g. a
    conversation's short-term pages and live segments).

    Edges: strong links, from a record to its target (a summary keeps its sources alive, a note
    its evidence; weak links such as ``related`` keep nothing alive), and consecutive memories of
    one session in both directions (the dialogue chain).
    """
    by_id = {m.id: m for m in memories}
    edges: dict[str, set[str]] = defaultdict(set)
    for m in memories:
        for target in m.link_ids(strong=True):
            if target in by_id and target != m.id:
                edges[m.id].add(target)
    chains: dict[str, list[HeapRecord]] = defaultdict(list)
    for m in memories:
        if m.session is not None:
            chains[m.session].append(m)
    for chain in chains.values():
        chain.sort(key=lambda m: (m.created_at, m.id))
        for left, right in pairwise(chain):
            edges[left.id].add(right.id)
            edges[right.id].add(left.id)
    live_sessions = open_sessions(memories) if sessions is None else sessions
    stack = [
        m.id
        for m in memories
        if m.pinned
        or m.kind is Kind.PERSONA
        or (m.session is not None and m.session in live_sessions)
    ]
    if roots is not None:
        stack.extend(id for id in roots.ids(memories) if id in by_id)
    marked: set[str] = set(stack)
    while stack:
        for neighbour in edges[stack.pop()]:
            if neighbour not in marked:
                marked.add(neighbour)
                stack.append(neighbour)
    return marked


@dataclass(slots=True)
class MarkSweepCollector(Collector):
    """Collects records that no root reaches and that are cold.

    ``sessions`` are the open sessions (roots); ``None`` means each user's most recent session.
    A record is cold when its last access (or creation) is over ``cold_after`` seconds ago and
    its importance is below ``importance_threshold``.

    Raises:
        InvalidInput: a negative ``cold_after`` or a threshold outside 0..1.
    """

    cold_after: float = DAY
    importance_threshold: float = 0.7
    sessions: set[str] | None = None
    roots: Roots | None = None
    name: ClassVar[str] = "mark_sweep"

    def __post_init__(self) -> None:
        _check_non_negative("cold_after", self.cold_after)
        _check_threshold(self.importance_threshold)
        _check_sessions(self.sessions)

    def is_cold(self, memory: HeapRecord, now: float) -> bool:
        last = memory.last_access if memory.last_access is not None else memory.created_at
        return now - last >= self.cold_after and memory.importance < self.importance_threshold

    def sweep(
        self, memories: Sequence[HeapRecord], now: float, marked: set[str]
    ) -> list[HeapRecord]:
        return [m for m in memories if m.id not in marked and not m.pinned and self.is_cold(m, now)]

    def plan(self, memories: Sequence[HeapRecord], now: float) -> Plan:
        marked = reachable(memories, self.sessions, self.roots)
        return Plan(scanned=len(memories), collect=tuple(self.sweep(memories, now, marked)))


def _check_sessions(sessions: object) -> None:
    if sessions is None:
        return
    if not isinstance(sessions, set | frozenset) or not all(isinstance(s, str) for s in sessions):
        raise InvalidInput(f"sessions must be a set of session ids or None, got {sessions!r}")


def _check_threshold(value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise InvalidInput(f"importance_threshold must be within 0..1, got {value!r}")


@dataclass(slots=True)
class GenerationalCollector(Collector):
    """Young records (generation 0) that outlived ``young_age`` are promoted or collected.

    A young record survives when it was accessed, is at least ``importance_threshold``
    important, is pinned, or is reachable from a root; survivors move to the old generation.
    With ``major=True`` the old generation is also mark-swept (unreachable and cold records
    collected, ``cold_after`` as in ``MarkSweepCollector``).

    Raises:
        InvalidInput: a negative age or a threshold outside 0..1.
    """

    young_age: float = HOUR
    cold_after: float = DAY
    importance_threshold: float = 0.7
    major: bool = False
    sessions: set[str] | None = None
    roots: Roots | None = None
    name: ClassVar[str] = "generational"

    def __post_init__(self) -> None:
        _check_non_negative("young_age", self.young_age)
        _check_non_negative("cold_after", self.cold_after)
        _check_threshold(self.importance_threshold)
        _check_sessions(self.sessions)
        if not isinstance(self.major, bool):
            raise InvalidInput(f"major must be True or False, got {self.major!r}")

    def plan(self, memories: Sequence[HeapRecord], now: float) -> Plan:
        marked = reachable(memories, self.sessions, self.roots)
        collect: list[HeapRecord] = []
        promote: list[HeapRecord] = []
        for m in memories:
            if m.generation != 0 or now - m.created_at < self.young_age:
                continue
            survived = (
                m.access_count > 0
                or m.importance >= self.importance_threshold
                or m.pinned
                or m.id in marked
            )
            (promote if survived else collect).append(m)
        if self.major:
            sweeper = MarkSweepCollector(
                self.cold_after, self.importance_threshold, self.sessions, self.roots
            )
            old = [m for m in memories if m.generation > 0]
            collect.extend(sweeper.sweep(old, now, marked))
        return Plan(scanned=len(memories), collect=tuple(collect), promote=tuple(promote))
