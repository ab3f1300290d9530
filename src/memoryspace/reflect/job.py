"""One reflection run: read a scope, plan, and apply the plan as one undoable job.

``reflect`` reads the scope's memories (live, expired and closed; never the archived) through
the facade's ``scan``, their stored vectors and their claims, plans (``planner``) and, unless
``dry_run``, applies the plan in one transaction whose changes carry the actor ``reflect``
(groups whose records changed since they were read are skipped, never forced).
``space.restore(None, to_lsn=result.lsn_before)`` undoes the whole run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from memoryspace.errors import NotFound
from memoryspace.maintenance.plan import Applied, EditGroup, EditPlan
from memoryspace.models import Memory
from memoryspace.reflect.claims import Claim, ClaimExtractor
from memoryspace.reflect.planner import ReflectOptions, plan_reflection
from memoryspace.store.base import Store
from memoryspace.validate import Vector

ACTOR = "reflect"


class ReflectSpace(Protocol):
    """What reflection reads through the facade."""

    def scan(
        self,
        *,
        limit: int | None = None,
        offset: int = 0,
        newest_first: bool = False,
        **filters: Any,
    ) -> Iterator[Memory]: ...


@dataclass(slots=True)
class Reflection:
    """What a reflection planned, applied and skipped, with the log positions around it."""

    plan: EditPlan
    dry_run: bool
    lsn_before: int
    lsn_after: int
    applied: list[EditGroup] = field(default_factory=list)
    skipped: list[EditGroup] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        """Planned groups per action."""
        out: dict[str, int] = {}
        for group in self.plan.groups:
            out[group.action] = out.get(group.action, 0) + 1
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "lsn_before": self.lsn_before,
            "lsn_after": self.lsn_after,
            "counts": self.counts,
            "applied": len(self.applied),
            "skipped": len(self.skipped),
            "plan": self.plan.describe(),
        }


def claims_by_id(extractor: ClaimExtractor) -> Callable[[Sequence[Memory]], dict[str, list[Claim]]]:
    """Claims of memories by id; a memory's speaker is its ``meta["speaker"]`` if any."""

    def claims_of(memories: Sequence[Memory]) -> dict[str, list[Claim]]:
        items = []
        for memory in memories:
            speaker = memory.meta.get("speaker")
            items.append((memory.content, speaker if isinstance(speaker, str) else None))
        found = extractor.claims_many(items)
        return {m.id: list(c) for m, c in zip(memories, found, strict=True)}

    return claims_of


def reflect(
    space: ReflectSpace,
    *,
    user: str | None,
    agent: str | None,
    now: float,
    vectors: Callable[[Sequence[Memory]], Mapping[str, Vector]],
    extractor: ClaimExtractor,
    apply: Callable[[EditPlan], Applied],
    lsn: Callable[[], int],
    options: ReflectOptions | None = None,
    dry_run: bool = False,
) -> Reflection:
    """Plan a reflection of ``scope`` and apply it unless ``dry_run``; see the module docstring."""
    memories = list(space.scan(include_expired=True, include_closed=True, user=user, agent=agent))
    plan = plan_reflection(
        memories,
        now=now,
        vectors=vectors(memories),
        claims_of=claims_by_id(extractor),
        options=options,
    )
    before = lsn()
    result = Reflection(plan=plan, dry_run=dry_run, lsn_before=before, lsn_after=before)
    if dry_run or not plan.groups:
        return result
    done = apply(plan)
    result.applied, result.skipped = done.applied, done.skipped
    result.lsn_after = lsn()
    return result


def stored_vectors(store: Store) -> Callable[[Sequence[Memory]], dict[str, Vector]]:
    """The vectors ``store`` holds for memories, by id (none for a memory it lacks)."""

    def vectors(memories: Sequence[Memory]) -> dict[str, Vector]:
        keys: dict[int, str] = {}
        for memory in memories:
            try:
                keys[store.key_of(memory.id)] = memory.id
            except NotFound:
                continue
        return {keys[key]: vector for key, vector in store.vectors(list(keys)).items()}

    return vectors
