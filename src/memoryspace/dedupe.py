"""One memory per fact: which added memories ``add`` must not store again.

With ``Settings(dedupe="exact")`` (the default) a memory whose content a live memory of the same
scope (user, agent, session) and kind already holds, equal after normalising (case folding,
collapsed whitespace; see ``memoryspace.fingerprint``), is not stored again: ``add`` returns the
existing memory, renewed. Copies inside one ``add_many`` batch collapse into their first one.

Two kinds of record are exempt, because their identity is not their words:

* turns (``kind="turn"``): a turn is an event in a dialogue, and saying "Thanks!" twice is two
  turns, each with its own place, time and neighbours (which BM25 reads as dialogue context and
  benchmarks cite as evidence);
* records added with an explicit ``id``: the id is their identity (``import`` upserts by id).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from memoryspace.fingerprint import ContentKey
from memoryspace.models import Kind, Memory

EXEMPT_KINDS = frozenset({Kind.TURN})


def dedupe_key(memory: Memory, *, explicit_id: bool) -> ContentKey | None:
    """The key ``memory`` is deduplicated on, or None when it is exempt."""
    if explicit_id or memory.kind in EXEMPT_KINDS:
        return None
    return ContentKey.of(memory.content, memory.kind, memory.user, memory.agent, memory.session)


@dataclass(frozen=True, slots=True)
class BatchPlan:
    """The dedupe keys of a batch and, for each position, the first position with its key."""

    keys: tuple[ContentKey | None, ...]
    leaders: tuple[int, ...]

    def keyed(self) -> list[ContentKey]:
        """The distinct keys of the batch, in order."""
        return list(dict.fromkeys(k for k in self.keys if k is not None))

    def to_store(self, existing: Mapping[ContentKey, Memory]) -> list[int]:
        """Positions to store: first copies whose key no live memory (``existing``) holds."""
        return [
            i
            for i, key in enumerate(self.keys)
            if self.leaders[i] == i and (key is None or key not in existing)
        ]


def plan_batch(memories: Sequence[Memory], explicit_ids: Sequence[bool]) -> BatchPlan:
    """Dedupe keys for a batch; a later copy of a key leads back to its first position."""
    keys = tuple(
        dedupe_key(memory, explicit_id=explicit)
        for memory, explicit in zip(memories, explicit_ids, strict=True)
    )
    first: dict[ContentKey, int] = {}
    leaders = []
    for position, key in enumerate(keys):
        leaders.append(position if key is None else first.setdefault(key, position))
    return BatchPlan(keys, tuple(leaders))
