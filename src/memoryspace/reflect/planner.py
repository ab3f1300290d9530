"""The reflection planner: what to merge, close, archive and re-score, as one ``EditPlan``.

Given the memories of a scope (read through the facade) it finds, in this order, each record
changed by at most one group (a later rule skips records an earlier one touches):

1. **supersession** (``supersede``): a newer memory claiming another value for the same subject
   and attribute closes the older one's validity (``valid_to`` = the newer one's time) and links
   it ``supersedes``; a negation ("X is no longer Y") closes the memories claiming Y and links
   them ``contradicts``. Nothing is deleted: ``valid_at=`` and ``include_closed`` still see
   it. A chain of closings is one group, each record patched once.
2. **duplicates** (action ``merge``): memories of one user, agent and kind (turns excepted:
   a turn is a record of what was said, kept as said) whose content is equal after
   normalisation, or whose vectors' cosine is at least ``near_duplicate``, unless their claims or
   numbers disagree. Each cluster becomes one new memory (the longest wording, the union of
   tags and links, the earliest creation time, the highest importance) linking every source
   ``derived_from`` (strong, so provenance survives GC); the sources are archived. Memories
   closed in step 1 are not merged.
3. **staleness** (``archive``): plans and working memories older than their horizon, and
   memories whose TTL expired, are archived (pinned ones never).
4. **importance** (``rescore``): importance rises to the use score
   ``1 - exp(-(accesses + 2 * links in + 4 * pinned) / 8)`` when that is higher by at least
   ``importance_step``; reflection never lowers it (forgetting is GC's job).
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from memoryspace.errors import InvalidInput
from memoryspace.fingerprint import normalise_content
from memoryspace.maintenance.plan import Edit, EditGroup, EditPlan, Insert, Patch
from memoryspace.models import Kind, Link, LinkType, Memory, new_id
from memoryspace.reflect.claims import Claim, same_subject, same_value, speaker_and_text
from memoryspace.validate import Vector

DAY = 86_400.0


@dataclass(frozen=True, slots=True)
class ReflectOptions:
    """What a reflection looks for; see the module docstring.

    Raises:
        InvalidInput: a threshold outside [0, 1] or a negative horizon.
    """

    near_duplicate: float = 0.92
    merge_kinds: tuple[Kind, ...] = tuple(k for k in Kind if k is not Kind.TURN)
    horizons: Mapping[Kind, float] = field(
        default_factory=lambda: {Kind.PLAN: 30 * DAY, Kind.WORKING: DAY}
    )
    importance_step: float = 0.05
    duplicates: bool = True
    supersession: bool = True
    staleness: bool = True
    importance: bool = True

    def __post_init__(self) -> None:
        for name in ("near_duplicate", "importance_step"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise InvalidInput(f"{name} must be a number from 0 to 1, got {value!r}")
            if not 0.0 <= value <= 1.0:
                raise InvalidInput(f"{name} must be from 0 to 1, got {value!r}")
        if any(not h >= 0 for h in self.horizons.values()):
            raise InvalidInput("staleness horizons are seconds >= 0")


ClaimsOf = Callable[[Sequence[Memory]], Mapping[str, Sequence[Claim]]]


def plan_reflection(
    memories: Sequence[Memory],
    *,
    now: float,
    vectors: Mapping[str, Vector],
    claims_of: ClaimsOf,
    options: ReflectOptions | None = None,
) -> EditPlan:
    """The reflection plan for ``memories`` (live and closed, archived ones are ignored)."""
    options = options or ReflectOptions()
    live = [m for m in memories if not m.archived]
    is_open = [m for m in live if m.valid_to is None or m.valid_to > now]
    claims = claims_of(is_open) if (options.duplicates or options.supersession) else {}
    touched: set[str] = set()
    groups: list[EditGroup] = []
    if options.supersession:
        groups += _supersessions(is_open, claims, touched)
    if options.duplicates:
        groups += _merges(is_open, vectors, claims, options, touched)
    if options.staleness:
        groups += _stale(live, now, options, touched)
    if options.importance:
        groups += _rescores(live, options, touched)
    return EditPlan(tuple(groups))


# -- duplicates


def _merges(
    memories: Sequence[Memory],
    vectors: Mapping[str, Vector],
    claims: Mapping[str, Sequence[Claim]],
    options: ReflectOptions,
    touched: set[str],
) -> list[EditGroup]:
    buckets: dict[tuple[str | None, str | None, Kind], list[Memory]] = defaultdict(list)
    for memory in memories:
        if memory.kind in options.merge_kinds and not memory.pinned and memory.id not in touched:
            buckets[(memory.user, memory.agent, memory.kind)].append(memory)
    groups = []
    for bucket in buckets.values():
        for cluster in _clusters(bucket, vectors, claims, options.near_duplicate):
            groups.append(_merge_group(cluster, vectors))
            touched.update(m.id for m in cluster)
    return groups


def _clusters(
    bucket: Sequence[Memory],
    vectors: Mapping[str, Vector],
    claims: Mapping[str, Sequence[Claim]],
    threshold: float,
) -> list[list[Memory]]:
    if len(bucket) < 2:
        return []
    parent = list(range(len(bucket)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    normal = [normalise_content(m.content) for m in bucket]
    same: dict[str, int] = {}
    for i, text in enumerate(normal):
        if text in same:
            parent[root(i)] = root(same[text])
        else:
            same[text] = i
    with_vectors = [i for i, m in enumerate(bucket) if m.id in vectors]
    if with_vectors and threshold < 1.0:
        matrix = np.stack(
            [np.asarray(vectors[bucket[i].id], dtype=np.float32) for i in with_vectors]
        )
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        unit = matrix / np.where(norms > 0, norms, 1.0)
        similar = unit @ unit.T
        rows, cols = np.nonzero(np.triu(similar >= threshold, k=1))
        for a, b in zip(rows.tolist(), cols.tolist(), strict=True):
            left, right = bucket[with_vectors[a]], bucket[with_vectors[b]]
            if _compatible(left, right, claims):
                parent[root(with_vectors[a])] = root(with_vectors[b])
    members: dict[int, list[Memory]] = defaultdict(list)
    for i, memory in enumerate(bucket):
        members[root(i)].append(memory)
    return [sorted(c, key=lambda m: (m.created_at, m.id)) for c in members.values() if len(c) > 1]


def _numbers(text: str) -> set[str]:
    return set(re.findall(r"\d+(?:[.,:]\d+)*", text))


def _compatible(a: Memory, b: Memory, claims: Mapping[str, Sequence[Claim]]) -> bool:
    """Near-duplicates must not disagree: same numbers, no claim of another value."""
    if _numbers(a.content) != _numbers(b.content):
        return False
    theirs = {c.key: c.value for c in claims.get(b.id, ())}
    return all(same_value(theirs.get(c.key, c.value), c.value) for c in claims.get(a.id, ()))


def _merge_group(cluster: Sequence[Memory], vectors: Mapping[str, Vector]) -> EditGroup:
    chosen = max(cluster, key=lambda m: (len(m.content), m.created_at, m.id))
    ids = {m.id for m in cluster}
    links: dict[str, Link] = {}
    for memory in cluster:
        for link in memory.links:
            if link.id not in ids:
                links.setdefault(link.id, link)
    sources = [Link.to(m.id, LinkType.DERIVED_FROM) for m in cluster]
    sessions = {m.session for m in cluster}
    merged = Memory(
        id=new_id(),
        content=chosen.content,
        kind=chosen.kind,
        user=chosen.user,
        agent=chosen.agent,
        session=chosen.session if len(sessions) == 1 else None,
        meta={**chosen.meta, "merged_from": [m.id for m in cluster]},
        tags=tuple(dict.fromkeys(t for m in cluster for t in m.tags)),
        links=(*links.values(), *sources),
        tokens=chosen.tokens,
        importance=max(m.importance for m in cluster),
        created_at=min(m.created_at for m in cluster),
        updated_at=max(m.updated_at for m in cluster),
        valid_from=min((m.valid_from for m in cluster if m.valid_from is not None), default=None),
        expires_at=None,
    )
    vector = vectors.get(chosen.id)
    edits: tuple[Edit, ...] = (
        Insert(merged, vector),
        *(Patch(m, {"archived": True}) for m in cluster),
    )
    reason = f"{len(cluster)} memories say the same thing: {_quote(chosen.content)}"
    return EditGroup("merge", edits, reason)


# -- supersession and contradiction


def _supersessions(
    memories: Sequence[Memory], claims: Mapping[str, Sequence[Claim]], touched: set[str]
) -> list[EditGroup]:
    """Walk each (scope, subject, attribute) in time order: a value other than the current one
    closes every open memory holding the current one. A negation closes the memories holding
    the negated value. Records linked this way form one group (each record patched once)."""
    by_id = {m.id: m for m in memories}
    scoped: dict[tuple[str | None, str | None, tuple[str, str]], list[tuple[Memory, Claim]]]
    scoped = defaultdict(list)
    negations: list[tuple[Memory, Claim]] = []
    for memory in memories:
        if memory.id in touched:
            continue
        for claim in claims.get(memory.id, ()):
            if claim.negated:
                negations.append((memory, claim))
            else:
                scoped[(memory.user, memory.agent, claim.key)].append((memory, claim))
    closed_by: dict[str, tuple[str, LinkType, str]] = {}  # older id -> (newer id, link, reason)
    for entries in scoped.values():
        entries.sort(key=lambda e: (e[0].created_at, e[0].id))
        for thread in _threads(entries):
            _close_older_values(thread, closed_by)
    for negation, claim in negations:
        for older in memories:
            if older.id in closed_by or older.id in touched or older.id == negation.id:
                continue
            same_scope = (older.user, older.agent) == (negation.user, negation.agent)
            if not same_scope or older.created_at >= negation.created_at:
                continue
            if any(c.negated for c in claims.get(older.id, ())):
                continue
            if _states(older, claims.get(older.id, ()), claim):
                reason = f"{claim.subject} is no longer {claim.value!r}"
                closed_by[older.id] = (negation.id, LinkType.CONTRADICTS, reason)
    return _closing_groups(by_id, closed_by, touched)


def _threads(entries: Sequence[tuple[Memory, Claim]]) -> list[list[tuple[Memory, Claim]]]:
    """Entries split by subject: each joins the first thread whose first subject names the
    same thing (``same_subject``)."""
    threads: list[list[tuple[Memory, Claim]]] = []
    for entry in entries:
        for thread in threads:
            if same_subject(thread[0][1].subject, entry[1].subject):
                thread.append(entry)
                break
        else:
            threads.append([entry])
    return threads


def _close_older_values(
    thread: Sequence[tuple[Memory, Claim]], closed_by: dict[str, tuple[str, LinkType, str]]
) -> None:
    """In time order: a value other than the current one closes every open memory holding the
    current one."""
    holders: list[Memory] = []
    current: Claim | None = None
    for memory, claim in thread:
        if current is None or same_value(claim.value, current.value):
            holders.append(memory)
        else:
            reason = (
                f"{claim.subject}'s {claim.attribute} is now {claim.value!r} "
                f"(was {current.value!r})"
            )
            for older in holders:
                later = older.created_at < memory.created_at
                if later and older.id != memory.id and older.id not in closed_by:
                    closed_by[older.id] = (memory.id, LinkType.SUPERSEDES, reason)
            holders = [memory]
        current = claim


_FIRST_PERSON = re.compile(r"\b(?:i|i'm|my|me)\b", re.IGNORECASE)


def _states(memory: Memory, claims: Sequence[Claim], negated: Claim) -> bool:
    """Whether ``memory`` says what ``negated`` denies: a claim of that subject and value, or
    a text naming the value and the subject (by name, or in the first person when the
    subject is the memory's speaker)."""
    if any(same_subject(c.subject, negated.subject) and c.value == negated.value for c in claims):
        return True
    text = memory.content.lower()
    if not re.search(rf"\b{re.escape(negated.value)}\b", text):
        return False
    if re.search(rf"\b{re.escape(negated.subject)}\b", text):
        return True
    return speaker_of(memory) == negated.subject and bool(_FIRST_PERSON.search(text))


def speaker_of(memory: Memory) -> str:
    """Who a memory's first person is: ``meta["speaker"]``, a ``"name: "`` prefix, or user."""
    speaker = memory.meta.get("speaker")
    default = speaker.lower() if isinstance(speaker, str) else "user"
    return speaker_and_text(memory.content, default)[0]


def _closing_groups(
    by_id: Mapping[str, Memory],
    closed_by: Mapping[str, tuple[str, LinkType, str]],
    touched: set[str],
) -> list[EditGroup]:
    """One group per chain of closings: each record gets one patch (its new links, its
    ``valid_to``), so no group of the plan invalidates another."""
    parent: dict[str, str] = {}

    def root(id: str) -> str:
        while parent.get(id, id) != id:
            id = parent[id]
        return id

    for older, (newer, _, _) in closed_by.items():
        parent[root(older)] = root(newer)
    chains: dict[str, list[str]] = defaultdict(list)
    for id in sorted({*closed_by, *(n for n, _, _ in closed_by.values())}):
        chains[root(id)].append(id)
    groups = []
    for ids in chains.values():
        members = sorted((by_id[i] for i in ids), key=lambda m: (m.created_at, m.id))
        edits: list[Edit] = []
        reasons: list[str] = []
        for memory in members:
            fields: dict[str, Any] = {}
            new_links = [
                Link.to(older, kind)
                for older, (newer, kind, _) in closed_by.items()
                if newer == memory.id and older not in memory.link_ids()
            ]
            if new_links:
                links = [*memory.links, *new_links]
                fields["links"] = [link.to_dict() for link in links]
            if memory.id in closed_by:
                newer, _, reason = closed_by[memory.id]
                fields["valid_to"] = by_id[newer].created_at
                if reason not in reasons:
                    reasons.append(reason)
            if fields:
                edits.append(Patch(memory, fields))
        touched.update(ids)
        kinds = {kind for _, kind, _ in (closed_by[i] for i in ids if i in closed_by)}
        action = "contradict" if kinds == {LinkType.CONTRADICTS} else "supersede"
        newest = members[-1]
        reason = "; ".join(reasons) + f" (newest: {_quote(newest.content)})"
        groups.append(EditGroup(action, tuple(edits), reason))
    return groups


# -- staleness and importance


def _stale(
    memories: Sequence[Memory], now: float, options: ReflectOptions, touched: set[str]
) -> list[EditGroup]:
    groups = []
    for memory in memories:
        if memory.pinned or memory.id in touched:
            continue
        horizon = options.horizons.get(memory.kind)
        if memory.expires_at is not None and memory.expires_at <= now:
            reason = "its time to live ran out"
        elif horizon is not None and memory.created_at + horizon < now:
            reason = f"a {memory.kind} older than {horizon / DAY:g} days"
        else:
            continue
        touched.add(memory.id)
        groups.append(EditGroup("archive", (Patch(memory, {"archived": True}),), reason))
    return groups


def use_score(accesses: int, links_in: int, pinned: bool) -> float:
    """How used a memory is, in [0, 1): accesses, links pointing at it and pinning."""
    return 1.0 - math.exp(-(accesses + 2 * links_in + (4 if pinned else 0)) / 8.0)


def _rescores(
    memories: Sequence[Memory], options: ReflectOptions, touched: set[str]
) -> list[EditGroup]:
    links_in: dict[str, int] = defaultdict(int)
    for memory in memories:
        for target in set(memory.link_ids()):
            links_in[target] += 1
    groups = []
    for memory in memories:
        if memory.id in touched:
            continue
        score = round(use_score(memory.access_count, links_in[memory.id], memory.pinned), 3)
        if score - memory.importance >= options.importance_step:
            reason = (
                f"used: {memory.access_count} accesses, {links_in[memory.id]} links in"
                f"{', pinned' if memory.pinned else ''}"
            )
            groups.append(EditGroup("rescore", (Patch(memory, {"importance": score}),), reason))
    return groups


def _quote(text: str, limit: int = 60) -> str:
    flat = " ".join(text.split())
    return repr(flat if len(flat) <= limit else flat[: limit - 1] + "…")
