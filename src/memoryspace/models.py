"""The records MemorySpace stores and the values its API returns.

A ``Memory`` is the unit of storage: an object on the heap, in OS terms. Its content fields are
versioned by the operation log; its access statistics (``access_count``, ``last_access``) are
counters, like a file system's atime, and are not logged.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from enum import StrEnum
from typing import Any

from memoryspace import validate
from memoryspace.errors import Conflict, InvalidInput


class Kind(StrEnum):
    """What a memory is; policies (GC, tiers, context layout) treat kinds differently."""

    TURN = "turn"
    FACT = "fact"
    NOTE = "note"
    SUMMARY = "summary"
    PERSONA = "persona"
    PROCEDURE = "procedure"
    PLAN = "plan"
    WORKING = "working"


class Op(StrEnum):
    """Operations recorded in the log."""

    ADD = "add"
    UPDATE = "update"
    DELETE = "delete"
    PURGE = "purge"  # the record was erased: its earlier entries are tombstones (see erasure)


class LinkType(StrEnum):
    """What a link says about its target."""

    RELATED = "related"
    SUPPORTS = "supports"  # the target is evidence for this memory (note -> evidence)
    CONTRADICTS = "contradicts"
    FOLLOWS = "follows"  # this memory continues the target (a dialogue chain)
    DERIVED_FROM = "derived_from"  # this memory was made from the target (summary -> source)
    SUPERSEDES = "supersedes"  # this memory replaces the target's value


# A strong link keeps its target alive in mark-sweep; a weak one only relates them.
STRONG_LINK_TYPES = frozenset({LinkType.DERIVED_FROM, LinkType.SUPPORTS})


@dataclass(frozen=True, slots=True)
class Link:
    """A typed link to another memory, by id. ``strong`` links are garbage-collection edges:
    the target stays alive while this memory does (by default ``derived_from`` and
    ``supports``); weak links (``related``, ``contradicts``, ``follows``, ``supersedes``) only
    relate the two."""

    id: str
    type: LinkType = LinkType.RELATED
    strong: bool = False

    @classmethod
    def to(cls, id: str, type: LinkType | str = LinkType.RELATED) -> Link:
        """A link of ``type`` with the type's default strength."""
        kind = parse_link_type(type)
        return cls(id=id, type=kind, strong=kind in STRONG_LINK_TYPES)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "type": str(self.type), "strong": self.strong}


def parse_link_type(value: object) -> LinkType:
    try:
        return LinkType(str(value))
    except ValueError:
        valid = ", ".join(t.value for t in LinkType)
        raise InvalidInput(f"unknown link type {value!r}; use one of: {valid}") from None


def parse_link(value: object, *, kind: Kind | str = "turn") -> Link:
    """A ``Link`` from a ``Link``, a dict (``{"id", "type"?, "strong"?}``) or a bare id. A bare
    id is a weak ``related`` link, except from a summary, whose bare ids are its sources
    (``derived_from``, strong): how links were stored before they had types.

    Raises:
        InvalidInput: not a link, an empty id, or an unknown type.
    """
    if isinstance(value, Link):
        return value
    if isinstance(value, str):
        if not value:
            raise InvalidInput("a link needs a non-empty id")
        return Link.to(value, LinkType.DERIVED_FROM if kind == Kind.SUMMARY else LinkType.RELATED)
    if isinstance(value, Mapping):
        unknown = set(value) - {"id", "type", "strong"}
        target = value.get("id")
        if unknown or not isinstance(target, str) or not target:
            raise InvalidInput(
                f"a link is an id or a dict with 'id' and optional 'type', 'strong'; got {value!r}"
            )
        link = Link.to(target, value.get("type", LinkType.RELATED))
        strong = value.get("strong")
        if strong is not None and strong is not link.strong:
            if not isinstance(strong, bool):
                raise InvalidInput(f"a link's 'strong' must be True or False, got {strong!r}")
            link = replace(link, strong=strong)
        return link
    raise InvalidInput(f"a link is an id or a dict with 'id'; got {type(value).__name__}")


def new_id() -> str:
    """A 24-hex-digit id that sorts by creation time (48-bit ms clock + 48 random bits)."""
    return f"{int(time.time() * 1000):012x}{os.urandom(6).hex()}"


def given_links(value: object) -> tuple[Any, ...]:
    """Links as given: bare ids (kept as strings: whether one is a weak ``related`` link or a
    summary's strong source depends on the record's kind, see ``parse_link``), dicts and
    ``Link``s (checked here); every id is a name (see ``validate.name``), at most
    ``validate.MAX_IDS`` links.

    Raises:
        InvalidInput: not a list of links, or a malformed one.
    """
    if value is None:
        return ()
    if isinstance(value, str | Link | dict):
        value = [value]
    if not isinstance(value, list | tuple):
        raise InvalidInput(f"links must be a list of ids or links, got {type(value).__name__}")
    if len(value) > validate.MAX_IDS:
        raise InvalidInput(f"links holds {len(value)} items, over the limit of {validate.MAX_IDS}")
    out: list[Any] = []
    for item in value:
        if isinstance(item, str):
            out.append(validate.name("a link's id", item))
            continue
        link = parse_link(item)
        validate.name("a link's id", link.id)
        if not isinstance(link.strong, bool):
            raise InvalidInput(f"a link's 'strong' must be True or False, got {link.strong!r}")
        out.append(link)
    return tuple(out)


@dataclass(frozen=True, slots=True)
class Memory:
    """One stored memory.

    Times are Unix seconds (float). ``user``, ``agent`` and ``session`` form the scope; any of
    them may be ``None``. ``links`` are typed ``Link``s to other memories by id (dialogue
    chains, sources of a summary, A-MEM note links); strong ones keep their targets alive in
    GC. ``generation`` is 0 for the young generation and 1 once a minor
    collection promoted the record; ``archived`` records were collected by GC: they stay in the
    store (``get``, history, restore) but queries skip them unless ``include_archived``.
    ``version`` is the LSN of the record's last logged change: pass it back as
    ``update(..., if_version=v)`` to change the record only if nobody else changed it since.
    """

    id: str
    content: str
    kind: Kind = Kind.TURN
    user: str | None = None
    agent: str | None = None
    session: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    tags: tuple[str, ...] = ()
    links: tuple[Link, ...] = ()
    tokens: int = 0
    importance: float = 0.5
    pinned: bool = False
    created_at: float = 0.0
    updated_at: float = 0.0
    valid_from: float | None = None
    valid_to: float | None = None
    expires_at: float | None = None
    generation: int = 0
    archived: bool = False
    access_count: int = 0
    last_access: float | None = None
    version: int = 0

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of every field."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["kind"] = str(self.kind)
        out["tags"] = list(self.tags)
        out["links"] = [link.to_dict() for link in self.links]
        out["meta"] = dict(self.meta)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Memory:
        """Inverse of ``to_dict``; unknown keys are an error."""
        names = {f.name for f in fields(cls)}
        unknown = set(data) - names
        if unknown:
            raise InvalidInput(f"unknown memory fields {sorted(unknown)}; known: {sorted(names)}")
        return cls(**_typed_fields(data, Kind.TURN))

    def link_ids(self, *, strong: bool | None = None) -> list[str]:
        """The ids this memory links to (only strong or only weak links, if asked)."""
        return [link.id for link in self.links if strong is None or link.strong is strong]

    def content_state(self) -> dict[str, Any]:
        """The logged part of the record: everything but the access counters and the version
        (which is the LSN of the log entry itself)."""
        out = self.to_dict()
        del out["access_count"], out["last_access"], out["version"]
        return out

    def evolve(self, **changes: Any) -> Memory:
        """A copy with some fields changed."""
        return replace(self, **changes)


UNLOGGED_FIELDS = frozenset({"access_count", "last_access", "version"})
LOGGED_FIELDS = frozenset(f.name for f in fields(Memory)) - UNLOGGED_FIELDS
PATCHABLE_FIELDS = LOGGED_FIELDS - {"id"}  # what a store patch may set


def apply_patch(memory: Memory, patch: Mapping[str, Any]) -> Memory:
    """``memory`` with the fields of ``patch`` set: how every change reaches a stored record.

    A patch names only what its writer changes, so applying it to the record as it is *now*
    (inside the store's transaction) keeps every other writer's fields.

    Raises:
        InvalidInput: the patch names a field that is unknown or cannot be set.
    """
    unknown = set(patch) - PATCHABLE_FIELDS
    if unknown:
        raise InvalidInput(f"cannot patch {sorted(unknown)}; patchable: {sorted(PATCHABLE_FIELDS)}")
    return replace(memory, **_typed_fields(patch, memory.kind))


def _typed_fields(data: Mapping[str, Any], kind: Kind) -> dict[str, Any]:
    """Field values as ``Memory`` holds them: a ``Kind``, tuples of tags and ``Link``s (bare
    ids typed by the record's kind, ``kind`` unless the data names one), a dict of meta."""
    values = dict(data)
    if "kind" in values:
        values["kind"] = parse_kind(values["kind"])
    if "tags" in values:
        values["tags"] = tuple(values["tags"])
    if "links" in values:
        kind = values.get("kind", kind)
        values["links"] = tuple(parse_link(v, kind=kind) for v in values["links"] or ())
    if "meta" in values:
        values["meta"] = dict(values["meta"] or {})
    return values


def check_version(memory: Memory, expected: int | None) -> None:
    """Compare-and-set: refuse a change made from a copy older than ``memory``.

    Raises:
        Conflict: ``expected`` is given and is not the record's version.
    """
    if expected is not None and memory.version != expected:
        raise Conflict(
            f"memory {memory.id!r} changed since it was read (version {memory.version}, "
            f"expected {expected}); read it again and retry the update"
        )


def parse_kind(value: object) -> Kind:
    """``Kind`` from a string, with an error that lists the valid kinds."""
    if not isinstance(value, str):
        valid = ", ".join(k.value for k in Kind)
        raise InvalidInput(f"kind must be a string, got {value!r}; use one of: {valid}")
    try:
        return Kind(value)
    except ValueError:
        valid = ", ".join(k.value for k in Kind)
        raise InvalidInput(f"unknown kind {value!r}; use one of: {valid}") from None


@dataclass(frozen=True, slots=True)
class Change:
    """One entry of the operation log (the write-ahead log of memories)."""

    lsn: int
    time: float
    op: Op
    id: str
    before: Memory | None
    after: Memory | None
    actor: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "lsn": self.lsn,
            "time": self.time,
            "op": str(self.op),
            "id": self.id,
            "before": self.before.content_state() if self.before else None,
            "after": self.after.content_state() if self.after else None,
            "actor": self.actor,
        }


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A named, consistent snapshot of the whole space, tagged with the LSN it reflects.

    ``damaged`` says why a checkpoint file cannot be used (unreadable, truncated, untagged, or
    taken of another database); ``None`` for a sound one. A damaged checkpoint's ``lsn`` and
    ``created_at`` are what could be read, else -1 and 0.
    """

    name: str
    lsn: int
    created_at: float
    path: str | None  # None for in-memory spaces
    damaged: str | None = None


@dataclass(frozen=True, slots=True)
class ScoreParts:
    """Why a hit ranked where it did, and why it scored what it did.

    Ranking: ``dense`` is the cosine similarity, ``sparse`` the BM25 score (``None``: no query
    word matched); ranks are 1-based places in each retriever's candidate list (``None``: not
    among them). ``fused`` orders the hits: both scores z-normalised over the candidates (with a
    floor on the spread, so differences below noise are not blown up), weighted and summed, plus
    the speaker, phrase, entity-hop, time and session boosts (``time_boost``: the query names a
    time the memory's dates meet, or asks "when" and the memory states a time; see
    ``memoryspace.retrieval.when``). ``fused`` compares within one query only.

    Relevance (what ``SearchHit.score`` is made of, each in [0, 1] and comparable across
    queries and stores): ``dense_relevance`` is the cosine read on the embedder's
    ``CosineScale``; ``sparse_relevance`` is BM25 over the query's own bound, times (k1 + 1):
    the idf-weighted share of the query's words the memory holds (1: all of them, about once,
    at typical length). ``relevance`` is their weighted mean with the speaker, phrase,
    entity and time boosts and ``session_lift`` added in log-odds. ``SearchHit.score`` is
    ``relevance`` capped by the scores of the hits ranked above it.

    Link expansion (``search(..., expand=1)``): a hit reached by following a link from a
    better hit has ``via`` = that hit's id and ``via_link`` = the link's type; its
    ``relevance`` is the linking hit's score times the expansion's decay (0.8), its ``fused``
    below the linking hit's, and its other parts empty.
    """

    fused: float
    dense: float | None = None
    dense_rank: int | None = None
    sparse: float | None = None
    sparse_rank: int | None = None
    speaker_boost: float = 0.0
    session_boost: float = 0.0
    phrase_boost: float = 0.0
    entity_boost: float = 0.0
    time_boost: float = 0.0
    dense_relevance: float | None = None
    sparse_relevance: float | None = None
    session_lift: float = 0.0
    relevance: float | None = None
    via: str | None = None
    via_link: str | None = None


@dataclass(frozen=True, slots=True)
class SearchHit:
    """A memory returned by search, with its score and how it was made.

    ``score`` is a relevance in [0, 1] (see ``ScoreParts``), never higher than a better-ranked
    hit's, so a threshold on it cuts a result list at one place.
    """

    memory: Memory
    score: float
    parts: ScoreParts

    def to_dict(self) -> dict[str, Any]:
        return {
            "memory": self.memory.to_dict(),
            "score": self.score,
            "parts": {f.name: getattr(self.parts, f.name) for f in fields(self.parts)},
        }


_FILTER_FIELDS = (
    "user",
    "agent",
    "session",
    "kind",
    "tags",
    "since",
    "until",
    "valid_at",
    "meta",
    "pinned",
    "include_expired",
    "include_archived",
    "include_closed",
)
MetaValue = str | int | float | bool | None


@dataclass(frozen=True, slots=True)
class Filter:
    """Which memories a query may see. Empty fields do not restrict.

    ``tags`` must all be present; ``since``/``until`` bound ``created_at`` (inclusive/exclusive);
    ``valid_at`` keeps memories whose validity interval contains that time; ``meta`` is equality
    on top-level meta keys; expired memories are hidden unless ``include_expired``, and memories
    archived by garbage collection unless ``include_archived``. ``include_closed=False`` also
    hides memories whose validity closed (``valid_to`` at or before now: a newer memory
    superseded them) unless a ``valid_at`` asks about a time; ``search`` and ``context`` use
    it by default, scans and counts show every record.
    """

    user: str | None = None
    agent: str | None = None
    session: str | None = None
    kinds: tuple[Kind, ...] = ()
    tags: tuple[str, ...] = ()
    since: float | None = None
    until: float | None = None
    valid_at: float | None = None
    meta: dict[str, MetaValue] = field(default_factory=dict)
    pinned: bool | None = None
    include_expired: bool = False
    include_archived: bool = False
    include_closed: bool = True

    @classmethod
    def build(cls, **filters: Any) -> Filter:
        """A filter from keyword arguments as the public API takes them.

        Raises:
            InvalidInput: an unknown field or a value of the wrong type or out of range.
        """
        unknown = set(filters) - set(_FILTER_FIELDS)
        if unknown:
            raise InvalidInput(
                f"unknown filter field(s) {sorted(map(str, unknown))}; "
                f"use: {', '.join(_FILTER_FIELDS)}"
            )
        kind = filters.get("kind")
        kinds: tuple[Kind, ...] = ()
        if kind is not None:
            if not isinstance(kind, str | list | tuple | set | frozenset):
                raise InvalidInput(f"kind must be a kind or a list of kinds, got {kind!r}")
            raw = [kind] if isinstance(kind, str) else list(kind)
            kinds = tuple(parse_kind(k) for k in raw)
        return cls(
            user=validate.scope("user", filters.get("user")),
            agent=validate.scope("agent", filters.get("agent")),
            session=validate.scope("session", filters.get("session")),
            kinds=kinds,
            tags=validate.strings("tags", filters.get("tags")),
            since=validate.optional_time("since", filters.get("since")),
            until=validate.optional_time("until", filters.get("until")),
            valid_at=validate.optional_time("valid_at", filters.get("valid_at")),
            meta=validate.filter_meta(filters.get("meta")),
            pinned=validate.optional_flag("pinned", filters.get("pinned")),
            include_expired=validate.flag("include_expired", filters.get("include_expired", False)),
            include_archived=validate.flag(
                "include_archived", filters.get("include_archived", False)
            ),
            include_closed=validate.flag("include_closed", filters.get("include_closed", True)),
        )

    @property
    def selects(self) -> bool:
        """Whether the filter narrows the selection to a part of the space; visibility
        (``include_expired``, ``include_archived``, ``include_closed``) does not count."""
        return not dataclasses.replace(
            self, include_expired=False, include_archived=False, include_closed=True
        ).is_empty

    @property
    def is_empty(self) -> bool:
        return self == Filter()
