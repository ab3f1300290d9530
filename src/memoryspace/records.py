"""Building a memory record from the fields ``MemorySpace.add`` takes, with validation."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from memoryspace import validate
from memoryspace.errors import InvalidInput
from memoryspace.models import Kind, Memory, new_id, parse_kind
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
        raise InvalidInput(f"unknown field(s) {sorted(unknown)}; use: {sorted(ADD_FIELDS)}")
    text = validate.content(item.get("content"), limit=settings.max_content_chars)
    created = validate.optional_time("timestamp", item.get("timestamp"))
    created = now if created is None else created
    ttl = validate.ttl(item.get("ttl"))
    importance = item.get("importance")
    memory = Memory(
        id=str(item.get("id") or new_id()),
        content=text,
        kind=parse_kind(item.get("kind", Kind.TURN)),
        user=validate.scope("user", item.get("user")),
        agent=validate.scope("agent", item.get("agent")),
        session=validate.scope("session", item.get("session")),
        meta=validate.meta(item.get("meta")),
        tags=validate.strings("tags", item.get("tags")),
        links=validate.strings("links", item.get("links")),
        tokens=count_tokens(text),
        importance=validate.importance(
            settings.default_importance if importance is None else importance
        ),
        pinned=bool(item.get("pinned", False)),
        created_at=created,
        updated_at=now,
        valid_from=validate.optional_time("valid_from", item.get("valid_from")) or created,
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


def edited_memory(
    current: Memory,
    fields: Mapping[str, Any],
    *,
    now: float,
    settings: Settings,
    count_tokens: TokenCounter,
    dimension: int,
) -> Memory:
    """``current`` with ``fields`` changed, validated like a new memory.

    Identity, creation time, generation, archive state and access counters carry over;
    ``ttl`` restarts the expiry from ``now`` (``ttl=None`` clears it).

    Raises:
        InvalidInput: a field that cannot be edited or a bad value; nothing changes.
    """
    unknown = set(fields) - EDITABLE_FIELDS
    if unknown:
        raise InvalidInput(f"cannot update {sorted(unknown)}; editable: {sorted(EDITABLE_FIELDS)}")
    merged: dict[str, Any] = {
        "content": current.content,
        "kind": current.kind,
        "meta": current.meta,
        "tags": current.tags,
        "links": current.links,
        "importance": current.importance,
        "pinned": current.pinned,
        "valid_from": current.valid_from,
        "valid_to": current.valid_to,
        "user": current.user,
        "agent": current.agent,
        "session": current.session,
        "id": current.id,
        "timestamp": current.created_at,
        **fields,
    }
    ttl = validate.ttl(merged.pop("ttl", None))
    memory, _ = build_memory(
        merged, now=now, settings=settings, count_tokens=count_tokens, dimension=dimension
    )
    expires = current.expires_at
    if "ttl" in fields:
        expires = None if ttl is None else now + ttl
    return memory.evolve(
        created_at=current.created_at,
        expires_at=expires,
        generation=current.generation,
        archived=current.archived,
        access_count=current.access_count,
        last_access=current.last_access,
    )
