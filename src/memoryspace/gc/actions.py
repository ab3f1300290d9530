"""What collecting a record means, per kind: archive it, compact it into a summary, or delete it.

- **archive**: the record stays in the store (``get``, history, restore) with ``archived=True``;
  search, scan, count and context skip it. It leaves the hot tier and the context window.
- **compact**: the collectable records of one scope (user, agent, session) are replaced by one
  ``Kind.SUMMARY`` record whose ``links`` are their ids (an offline extractive summary by
  default); the sources are archived. A group smaller than ``min_compact`` is only archived.
  The summary is created now (so it is warm until ``cold_after`` passes, then collectable like
  any record) in the old generation; its ``valid_from`` is the oldest source's.
- **delete**: the record is deleted; the op log keeps its history.

Every write is an ordinary logged change with the collector's actor (``gc:<name>``), so
``restore(None, to_lsn=lsn_before)`` undoes a collection exactly. A plan is made from a scan, so
inside the collection's transaction each planned record is read again: one whose version moved
(another writer changed it) is skipped, and a compaction group with such a record is skipped
whole. Writes are patches (``archived``, ``generation``), never whole records.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from memoryspace.errors import InvalidInput
from memoryspace.maintenance import (
    Delete,
    Edit,
    EditGroup,
    EditPlan,
    Insert,
    Patch,
    apply_plan,
)
from memoryspace.models import Kind, Link, LinkType, Memory, new_id, parse_kind
from memoryspace.store.base import Store, Vector

Action = Literal["archive", "compact", "delete"]
ACTIONS: tuple[Action, ...] = ("archive", "compact", "delete")
Summarize = Callable[[Sequence[str], int], str]


def _default_actions() -> dict[Kind, Action]:
    return {Kind.TURN: "compact", Kind.WORKING: "delete"}


def parse_action(value: object) -> Action:
    """An action from a string.

    Raises:
        InvalidInput: not one of archive, compact, delete.
    """
    if value not in ACTIONS:
        raise InvalidInput(f"unknown GC action {value!r}; use one of: {', '.join(ACTIONS)}")
    return value


@dataclass(frozen=True, slots=True)
class ActionPolicy:
    """Which action collects each kind; ``default`` covers the kinds not listed.

    By default dialogue turns are compacted, working memory is deleted and everything else
    archived.
    """

    by_kind: Mapping[Kind, Action] = field(default_factory=_default_actions)
    default: Action = "archive"
    min_compact: int = 2
    summary_sentences: int = 3

    @classmethod
    def build(
        cls, by_kind: Mapping[str, str] | None = None, default: str = "archive", **options: int
    ) -> ActionPolicy:
        """A policy from plain strings (``{"turn": "compact"}``), as the CLI and server take it.

        Raises:
            InvalidInput: an unknown kind or action.
        """
        mapping = _default_actions() if by_kind is None else {}
        for kind, action in (by_kind or {}).items():
            mapping[parse_kind(kind)] = parse_action(action)
        return cls(by_kind=mapping, default=parse_action(default), **options)

    def action_for(self, kind: Kind) -> Action:
        return self.by_kind.get(kind, self.default)


@dataclass(slots=True)
class Outcome:
    """What applying a plan did (or would do, in a dry run)."""

    collected: int = 0
    promoted: int = 0
    compacted: int = 0
    skipped: int = 0
    action_counts: dict[str, int] = field(default_factory=dict)

    def count(self, action: str, n: int) -> None:
        if n:
            self.action_counts[action] = self.action_counts.get(action, 0) + n


@dataclass(slots=True)
class Applier:
    """Turns a collector's plan into an ``EditPlan`` by the policy and applies it (see
    ``memoryspace.maintenance``); ``dry_run`` only counts.

    ``embed`` and ``count_tokens`` give the summary record its vector and size; ``summarize``
    is ``OfflineProcessors().summarize`` unless the caller supplies an LLM's.
    """

    store: Store
    policy: ActionPolicy
    actor: str
    now: float
    embed: Callable[[Sequence[str]], Vector]
    count_tokens: Callable[[str], int]
    summarize: Summarize
    dry_run: bool = False

    def apply(self, collect: Sequence[Memory], promote: Sequence[Memory]) -> Outcome:
        plan = self.edit_plan(collect, promote)
        if self.dry_run:
            return _outcome(plan.groups)
        applied = apply_plan(self.store, plan, actor=self.actor, embed=self.embed)
        outcome = _outcome(applied.applied)
        outcome.skipped = sum(len(group.records) for group in applied.skipped)
        return outcome

    def edit_plan(self, collect: Sequence[Memory], promote: Sequence[Memory]) -> EditPlan:
        """The edits collecting ``collect`` and promoting ``promote`` mean under the policy."""
        by_action: dict[Action, list[Memory]] = defaultdict(list)
        for memory in collect:
            by_action[self.policy.action_for(memory.kind)].append(memory)
        archive = {"archived": True, "updated_at": self.now}
        groups: list[EditGroup] = []
        for sources in _by_scope(by_action["compact"]).values():
            if len(sources) < self.policy.min_compact:
                by_action["archive"].extend(sources)
                continue
            edits: list[Edit] = [Insert(self._summary(sources))]
            edits += [Patch(m, archive) for m in sources]
            groups.append(EditGroup("compact", tuple(edits), "unreachable and cold: summarised"))
        for memory in by_action["archive"]:
            groups.append(EditGroup("archive", (Patch(memory, archive),), "unreachable and cold"))
        for memory in promote:
            # GC bookkeeping, not a use: updated_at stays, so an idle TTL is not renewed
            groups.append(EditGroup("promote", (Patch(memory, {"generation": 1}),), "survived"))
        for memory in by_action["delete"]:
            groups.append(EditGroup("delete", (Delete(memory),), "collected"))
        return EditPlan(tuple(groups))

    def _summary(self, sources: Sequence[Memory]) -> Memory:
        texts = [m.content for m in sources]
        content = self.summarize(texts, self.policy.summary_sentences).strip() or texts[0]
        first = sources[0]
        return Memory(
            id=new_id(),
            content=content,
            kind=Kind.SUMMARY,
            user=first.user,
            agent=first.agent,
            session=first.session,
            meta={"gc": self.actor, "sources": len(sources)},
            links=tuple(Link.to(m.id, LinkType.DERIVED_FROM) for m in sources),
            tokens=self.count_tokens(content),
            importance=max(m.importance for m in sources),
            created_at=self.now,  # a new record: it starts warm, like any other
            updated_at=self.now,
            valid_from=min(m.valid_from or m.created_at for m in sources),
            generation=1,
        )


def _outcome(groups: Sequence[EditGroup]) -> Outcome:
    outcome = Outcome()
    for group in groups:
        records = len(group.records)
        outcome.count(group.action, records)
        if group.action == "promote":
            outcome.promoted += records
        else:
            outcome.collected += records
        outcome.compacted += group.action == "compact"
    return outcome


def _by_scope(memories: Sequence[Memory]) -> dict[tuple[str | None, ...], list[Memory]]:
    groups: dict[tuple[str | None, ...], list[Memory]] = defaultdict(list)
    # Stable: records the scan returned in (created_at, key) order keep insertion order on ties.
    for memory in sorted(memories, key=lambda m: m.created_at):
        groups[(memory.user, memory.agent, memory.session)].append(memory)
    return groups
