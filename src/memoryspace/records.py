"""Building a memory record from the fields ``MemorySpace.add`` takes, with validation."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from memoryspace import validate
from memoryspace.errors import InvalidInput
from memoryspace.models import Kind, Memory, given_links, new_id, parse_kind, parse_link
from memoryspace.settings import Settings
from memoryspace.tokens import TokenCounter
from memoryspace.validate import Vector

ADD_FIELDS = frozenset(
    {
        "content",
        "user",
        "agent",
        "session",
        "kind",
        "meta",
        "tags",
        "links",
        "pinned",
        "ttl",
        "timestamp",
        "importance",
        "id",
        "valid_from",
        "valid_to",
        "vector",
    }
)


def build_memory(
    item: Mapping[str, Any],
    *,
    now: float,
    settings: Settings,
    count_tokens: TokenCounter,
    dimension: int,
) -> tuple[Memory, Vector | None]:
    """A validated ``Memory`` (and its precomputed vector, if given) from ``add``'s fields.

    Raises:
        InvalidInput: an unknown field or a bad value; the message names it.
    """
    unknown = set(item) - ADD_FIELDS
    if unknown:
        raise InvalidInput(
            f"unknown field(s) {sorted(map(repr, unknown))}; use: {sorted(ADD_FIELDS)}"
        )
    text = validate.content(item.get("content"), limit=settings.max_content_chars)
    created = validate.optional_time("timestamp", item.get("timestamp"))
    created = now if created is None else created
    ttl = validate.ttl(item.get("ttl"))
    importance = item.get("importance")
    kind = parse_kind(item.get("kind", Kind.TURN))
    valid_from = validate.optional_time("valid_from", item.get("valid_from"))
    memory_id = item.get("id")
    memory = Memory(
        id=new_id() if memory_id is None else validate.memory_id(memory_id),
        content=text,
        kind=kind,
        user=validate.scope("user", item.get("user")),
        agent=validate.scope("agent", item.get("agent")),
        session=validate.scope("session", item.get("session")),
        meta=validate.meta(item.get("meta")),
        tags=validate.strings("tags", item.get("tags")),
        links=tuple(parse_link(link, kind=kind) for link in given_links(item.get("links"))),
        tokens=count_tokens(text),
        importance=validate.importance(
            settings.default_importance if importance is None else importance
        ),
        pinned=validate.flag("pinned", item.get("pinned", False)),
        created_at=created,
        updated_at=now,
        valid_from=created if valid_from is None else valid_from,
        valid_to=validate.optional_time("valid_to", item.get("valid_to")),
        expires_at=None if ttl is None else now + ttl,
    )
    vector = item.get("vector")
    return memory, None if vector is None else validate.vector(vector, dimension=dimension)


EDITABLE_FIELDS = frozenset(
    {
        "content",
        "kind",
        "meta",
        "tags",
        "links",
        "importance",
        "pinned",
        "valid_from",
        "valid_to",
        "ttl",
        "user",
        "agent",
        "session",
    }
)


def edit_patch(
    fields: Mapping[str, Any],
    *,
    now: float,
    settings: Settings,
    count_tokens: TokenCounter,
) -> dict[str, Any]:
    """The validated patch that ``MemorySpace.update(**fields)`` applies: only the fields named
    (``content`` brings its ``tokens``; ``ttl`` sets ``expires_at`` from ``now``, ``ttl=None``
    clears it) plus ``updated_at``. Identity, creation time, generation, archive state and
    access counters are never part of an edit.

    Raises:
        InvalidInput: a field that cannot be edited or a bad value; nothing changes.
    """
    unknown = set(fields) - EDITABLE_FIELDS
    if unknown:
        raise InvalidInput(f"cannot update {sorted(unknown)}; editable: {sorted(EDITABLE_FIELDS)}")
    patch: dict[str, Any] = {}
    for name, value in fields.items():
        if name == "content":
            patch["content"] = validate.content(value, limit=settings.max_content_chars)
            patch["tokens"] = count_tokens(patch["content"])
        elif name == "kind":
            patch["kind"] = parse_kind(value)
        elif name == "meta":
            patch["meta"] = validate.meta(value)
        elif name == "tags":
            patch["tags"] = validate.strings(name, value)
        elif name == "links":
            patch["links"] = given_links(value)  # typed by the record's kind when applied
        elif name == "importance":
            patch["importance"] = validate.importance(value)
        elif name == "pinned":
            patch["pinned"] = validate.flag("pinned", value)
        elif name in ("valid_from", "valid_to"):
            patch[name] = validate.optional_time(name, value)
        elif name == "ttl":
            ttl = validate.ttl(value)
            patch["expires_at"] = None if ttl is None else now + ttl
        else:  # user, agent, session
            patch[name] = validate.scope(name, value)
    patch["updated_at"] = now
    return patch
