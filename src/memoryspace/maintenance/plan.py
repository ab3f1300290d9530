"""Edit plans: what a maintenance job wants done, and the one transaction that does it.

A plan is a list of groups; a group is a list of edits that belong together (a compaction
inserts a summary *and* archives its sources; a merge inserts the merged record and closes the
originals) and carries the action's name and a reason a person can read. Edits name the
version of the record they were planned from:

- ``Patch(record, fields)``: set some fields (archive, promote, close validity, relink,
  re-score); applied as a store patch, so fields the plan does not name keep any newer value.
- ``Delete(record)``.
- ``Insert(memory, vector=None)``: a new record; without a vector its content is embedded
  before the transaction (the write lock is never held while a model runs).

``apply_plan`` opens one store transaction, reads every record the plan touches again, and
skips each group in which a record is gone or its ``version`` moved (including by an earlier
group of the same plan): the rest is applied whole or not at all, each write an ordinary logged
change with the job's actor.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from memoryspace.models import Memory
from memoryspace.store.base import Store, Vector


@dataclass(frozen=True, slots=True)
class Patch:
    record: Memory
    fields: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Delete:
    record: Memory


@dataclass(frozen=True, slots=True)
class Insert:
    memory: Memory
    vector: Vector | None = None


Edit = Patch | Delete | Insert


@dataclass(frozen=True, slots=True)
class EditGroup:
    """Edits applied together or not at all; ``action`` names what they do ("archive",
    "compact", "promote", "delete", "merge", "close", ...), ``reason`` says why."""

    action: str
    edits: tuple[Edit, ...]
    reason: str = ""

    @property
    def records(self) -> list[Memory]:
        """The existing records the group changes (what re-validation checks)."""
        return [e.record for e in self.edits if not isinstance(e, Insert)]

    def describe(self) -> dict[str, Any]:
        """A JSON-ready description, for dry runs and logs."""
        return {
            "action": self.action,
            "reason": self.reason,
            "ids": [e.record.id for e in self.edits if not isinstance(e, Insert)],
            "new": [e.memory.id for e in self.edits if isinstance(e, Insert)],
        }


@dataclass(frozen=True, slots=True)
class EditPlan:
    groups: tuple[EditGroup, ...] = ()

    def describe(self) -> list[dict[str, Any]]:
        return [group.describe() for group in self.groups]


@dataclass(slots=True)
class Applied:
    """What ``apply_plan`` did: the groups applied and the groups skipped because a record
    they touch changed (or vanished) after the plan was made."""

    applied: list[EditGroup] = field(default_factory=list)
    skipped: list[EditGroup] = field(default_factory=list)


def apply_plan(
    store: Store,
    plan: EditPlan,
    *,
    actor: str,
    embed: Callable[[Sequence[str]], Vector],
) -> Applied:
    """Apply ``plan`` in one transaction, re-validating each group; see the module docstring.

    Raises:
        MemorySpaceError: a write failed; nothing of the plan is applied.
    """
    pending = [
        e for g in plan.groups for e in g.edits if isinstance(e, Insert) and e.vector is None
    ]
    vectors = (
        dict(zip((id(e) for e in pending), embed([e.memory.content for e in pending]), strict=True))
        if pending
        else {}
    )
    result = Applied()
    with store.transaction():
        touched = {m.id for g in plan.groups for m in g.records}
        current = {m.id: m.version for m in store.get_many(sorted(touched))}
        for group in plan.groups:
            if any(current.get(m.id) != m.version for m in group.records):
                result.skipped.append(group)
                continue
            for edit in group.edits:
                if isinstance(edit, Insert):
                    vector = edit.vector if edit.vector is not None else vectors[id(edit)]
                    store.insert([(edit.memory, vector)], actor=actor)
                elif isinstance(edit, Patch):
                    change = store.update(edit.record.id, edit.fields, actor=actor)
                    current[edit.record.id] = change.lsn
                else:
                    store.delete([edit.record.id], actor=actor)
                    current.pop(edit.record.id, None)
            result.applied.append(group)
    return result
