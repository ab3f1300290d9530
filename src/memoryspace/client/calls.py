"""The HTTP requests behind each facade method, and how their answers become the facade's
types; shared by ``MemoryClient`` and ``AsyncMemoryClient`` so both speak exactly alike."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from memoryspace import errors
from memoryspace.api import (
    ChangeOut,
    CheckpointOut,
    ContextOut,
    GCEventOut,
    MemoryOut,
    SearchHitOut,
)
from memoryspace.api.options import SECONDS_PER_DAY
from memoryspace.context import AssembledContext
from memoryspace.context.assemble import Block
from memoryspace.context.regions import Region
from memoryspace.errors import InvalidInput, MemorySpaceError
from memoryspace.gc import GCEvent
from memoryspace.models import Change, Checkpoint, Memory, SearchHit

T = TypeVar("T")
PAGE = 1_000  # memories per listing request
# Filters a listing (GET /memories) takes as query parameters, by facade name.
LIST_PARAMS = {
    "user": "user",
    "agent": "agent",
    "session": "session",
    "kind": "kind",
    "tags": "tag",
    "pinned": "pinned",
    "include_archived": "include_archived",
    "include_expired": "include_expired",
}


@dataclass(frozen=True)
class Call(Generic[T]):
    """One HTTP request and the function turning its JSON answer into the result."""

    method: str
    path: str
    parse: Callable[[Any], T]
    body: Any = None
    params: Mapping[str, Any] = field(default_factory=dict)


def raise_for(status: int, text: str) -> None:
    """Raise the library error an error answer names (same class as embedded use).

    Raises:
        MemorySpaceError: the status is 400 or more.
    """
    if status < 400:
        return
    try:
        detail = json.loads(text)["error"]
        kind, message = str(detail["type"]), str(detail["message"])
    except (ValueError, KeyError, TypeError):
        kind, message = "MemorySpaceError", f"HTTP {status}: {text[:200]}"
    cls = getattr(errors, kind, None)
    if not (isinstance(cls, type) and issubclass(cls, MemorySpaceError)):
        cls = errors.BackendUnavailable if status >= 500 else MemorySpaceError
    raise cls(message)


def _memory(data: Any) -> Memory:
    return MemoryOut.model_validate(data).to_memory()


def _memories(data: Any) -> list[Memory]:
    return [_memory(item) for item in data]


def _changes(data: Any) -> list[Change]:
    return [ChangeOut.model_validate(item).to_change() for item in data]


def _hits(data: Any) -> list[SearchHit]:
    return [SearchHitOut.model_validate(item).to_hit() for item in data]


def _context(data: Any) -> AssembledContext:
    out = ContextOut.model_validate(data)
    blocks = tuple(
        Block(b.text, tuple(b.source_ids), b.tokens, Region(b.region), b.offset) for b in out.blocks
    )
    return AssembledContext(
        blocks,
        out.tokens,
        out.budget,
        tuple(out.dropped),
        "messages" if out.format == "messages" else "text",
        out.fragmentation,
    )


def _checkpoint(data: Any) -> Checkpoint:
    return CheckpointOut.model_validate(data).to_checkpoint()


def _event(data: Any) -> GCEvent:
    return GCEventOut.model_validate(data).to_event()


def _item(item: Mapping[str, Any] | str) -> dict[str, Any]:
    return {"content": item} if isinstance(item, str) else dict(item)


def add(content: str, dedupe: bool | None, fields: Mapping[str, Any]) -> Call[list[Memory]]:
    body: dict[str, Any] = {"items": [{"content": content, **fields}]}
    if dedupe is not None:
        body["dedupe"] = dedupe
    return Call("POST", "/memories/batch", _memories, body)


def add_many(items: Iterable[Mapping[str, Any] | str], dedupe: bool | None) -> Call[list[Memory]]:
    body: dict[str, Any] = {"items": [_item(item) for item in items]}
    if dedupe is not None:
        body["dedupe"] = dedupe
    return Call("POST", "/memories/batch", _memories, body)


def get(id: str) -> Call[Memory]:
    return Call("GET", f"/memories/{_segment(id)}", _memory)


def list_page(
    limit: int, offset: int, newest_first: bool, filters: Mapping[str, Any]
) -> Call[list[Memory]]:
    params = {**list_params(filters), "limit": limit, "offset": offset}
    if newest_first:
        params["newest_first"] = True
    return Call("GET", "/memories", _memories, params=params)


def count(filters: Mapping[str, Any]) -> Call[int]:
    return Call("GET", "/memories/count", lambda d: int(d["count"]), params=list_params(filters))


def search(
    query: str, k: int, min_score: float | None, filters: Mapping[str, Any]
) -> Call[list[SearchHit]]:
    body = {"query": query, "k": k, **filters}
    if min_score is not None:
        body["min_score"] = min_score
    return Call("POST", "/search", _hits, body)


def context(
    query: str,
    budget: int,
    k: int,
    min_score: float | None,
    format: str,
    filters: Mapping[str, Any],
) -> Call[AssembledContext]:
    body = {"query": query, "budget": budget, "k": k, "format": format, **filters}
    if min_score is not None:
        body["min_score"] = min_score
    return Call("POST", "/context", _context, body)


def update(id: str, if_version: int | None, fields: Mapping[str, Any]) -> Call[Memory]:
    body = dict(fields)
    if if_version is not None:
        body["if_version"] = if_version
    return Call("PATCH", f"/memories/{_segment(id)}", _memory, body)


def pin(id: str, pinned: bool) -> Call[Memory]:
    return Call("POST", f"/memories/{_segment(id)}/{'pin' if pinned else 'unpin'}", _memory)


def delete(ids: str | Sequence[str]) -> Call[list[Change]]:
    return Call(
        "POST", "/memories/delete", _changes, {"ids": [ids] if isinstance(ids, str) else list(ids)}
    )


def forget(
    query: str | None,
    k: int,
    all: bool,
    min_score: float | None,
    dry_run: bool,
    filters: Mapping[str, Any],
) -> Call[list[str]]:
    body: dict[str, Any] = {"k": k, "all": all, "dry_run": dry_run, **filters}
    if query is not None:
        body["query"] = query
    if min_score is not None:
        body["min_score"] = min_score

    def ids(data: Any) -> list[str]:
        return list(data["would_delete"] if dry_run else data["deleted"])

    return Call("POST", "/forget", ids, body)


def history(id: str) -> Call[list[Change]]:
    return Call("GET", f"/memories/{_segment(id)}/history", _changes)


def changes(since_lsn: int, limit: int | None) -> Call[list[Change]]:
    params = {"since": since_lsn, "limit": PAGE if limit is None else limit}
    return Call("GET", "/changes", _changes, params=params)


def lsn() -> Call[int]:
    return Call("GET", "/lsn", lambda d: int(d["lsn"]))


def checkpoint(name: str, overwrite: bool) -> Call[Checkpoint]:
    return Call("POST", "/checkpoints", _checkpoint, {"name": name, "overwrite": overwrite})


def checkpoints() -> Call[list[Checkpoint]]:
    return Call("GET", "/checkpoints", lambda d: [_checkpoint(c) for c in d])


def restore(name: str | None, to_lsn: int | None) -> Call[list[Change]]:
    body = {k: v for k, v in (("name", name), ("to_lsn", to_lsn)) if v is not None}
    return Call("POST", "/restore", _changes, body)


def stats() -> Call[dict[str, Any]]:
    return Call("GET", "/stats", dict)


def gc(collector: str, dry_run: bool, options: Mapping[str, Any]) -> Call[GCEvent]:
    """The facade's collector options, mapped back to the route's (``idle_after`` seconds
    become ``idle_days``).

    Raises:
        InvalidInput: an option the server does not take.
    """
    body: dict[str, Any] = {"collector": collector, "dry_run": dry_run}
    for name, value in options.items():
        if name == "idle_after":
            body["idle_days"] = value / SECONDS_PER_DAY
        elif name in ("major", "max_records"):
            body[name] = value
        else:
            raise InvalidInput(
                f"the server's gc takes major, idle_after, max_records; not {name!r}"
            )
    return Call("POST", "/gc", _event, body)


def list_params(filters: Mapping[str, Any]) -> dict[str, Any]:
    """Query parameters of a listing.

    Raises:
        InvalidInput: a filter a listing cannot take remotely (search takes every filter).
    """
    unknown = sorted(set(filters) - set(LIST_PARAMS))
    if unknown:
        raise InvalidInput(
            f"a remote listing filters by {', '.join(LIST_PARAMS)}; not {', '.join(unknown)}"
        )
    return {LIST_PARAMS[k]: v for k, v in filters.items() if v is not None}


def parse_events(lines: Iterable[str]) -> Iterable[Change]:
    """Changes from server-sent-event lines (``event: change`` / ``data: {...}``)."""
    data: list[str] = []
    for line in lines:
        if line.startswith("data:"):
            data.append(line[5:].strip())
        elif not line.strip() and data:
            yield ChangeOut.model_validate(json.loads("\n".join(data))).to_change()
            data = []


def _segment(id: str) -> str:
    """An id as one path segment.

    Raises:
        InvalidInput: not a non-empty string.
    """
    from urllib.parse import quote

    if not isinstance(id, str) or not id:
        raise InvalidInput(f"an id is a non-empty string, got {id!r}")
    return quote(id, safe="")
