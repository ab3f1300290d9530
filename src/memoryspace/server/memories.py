"""Routes for memories: add, get, list, count, update, pin, delete, forget, search, context and
history, each scoped to the caller's namespaces."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, status

from memoryspace.api import (
    AddIn,
    AddManyIn,
    ChangeOut,
    ContextIn,
    ContextOut,
    CountOut,
    DeleteIn,
    ForgetIn,
    ForgetOut,
    MemoryOut,
    SearchHitOut,
    SearchIn,
    UpdateIn,
)
from memoryspace.api.requests import MAX_LIST
from memoryspace.errors import NotFound
from memoryspace.server.deps import Caller, Space, visible, visible_changes
from memoryspace.server.errors import ERROR_RESPONSES
from memoryspace.server.keys import Access

router = APIRouter(responses=ERROR_RESPONSES)

ScopeName = Annotated[str | None, Query(min_length=1, max_length=256)]
Names = Annotated[list[str] | None, Query(max_length=100)]


def list_filters(
    user: ScopeName = None,
    agent: ScopeName = None,
    session: ScopeName = None,
    kind: Names = None,
    tag: Names = None,
    pinned: bool | None = None,
    include_archived: bool = False,
    include_expired: bool = False,
) -> dict[str, Any]:
    """The filters of a listing from its query parameters (unset ones left out); a dependency
    of the routes that list or count."""
    given = {
        "user": user,
        "agent": agent,
        "session": session,
        "kind": kind,
        "tags": tag,
        "pinned": pinned,
    }
    out = {k: v for k, v in given.items() if v is not None}
    if include_archived:
        out["include_archived"] = True
    if include_expired:
        out["include_expired"] = True
    return out


ListFilters = Annotated[dict[str, Any], Depends(list_filters)]


@router.post("/memories", status_code=status.HTTP_201_CREATED, tags=["memories"])
def add(body: AddIn, space: Space, access: Caller) -> MemoryOut:
    """Store one memory (in the caller's namespace when it names no user or agent)."""
    access.require("write")
    item = access.place(body.item())
    return MemoryOut.of(space.add_many([item])[0])


@router.post("/memories/batch", status_code=status.HTTP_201_CREATED, tags=["memories"])
def add_many(body: AddManyIn, space: Space, access: Caller) -> list[MemoryOut]:
    """Store several memories in one transaction, all or nothing."""
    access.require("write")
    items = [access.place(item.item()) for item in body.items]
    return [MemoryOut.of(m) for m in space.add_many(items, dedupe=body.dedupe)]


@router.get("/memories", tags=["memories"])
def list_memories(
    space: Space,
    access: Caller,
    given: ListFilters,
    limit: Annotated[int, Query(ge=0, le=MAX_LIST)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
    newest_first: bool = False,
) -> list[MemoryOut]:
    """A page of the memories matching the filters, oldest first (or newest first)."""
    access.require("read")
    filters = access.narrow(given)
    if filters is None:
        return []
    page = space.scan(limit=limit, offset=offset, newest_first=newest_first, **filters)
    return [MemoryOut.of(m) for m in page]


@router.get("/memories/count", tags=["memories"])
def count(space: Space, access: Caller, given: ListFilters) -> CountOut:
    """How many memories match the filters."""
    access.require("read")
    filters = access.narrow(given)
    return CountOut(count=0 if filters is None else space.count(**filters))


@router.get("/memories/{id}", tags=["memories"])
def get(id: str, space: Space, access: Caller) -> MemoryOut:
    """One memory by id."""
    access.require("read")
    return MemoryOut.of(visible(space, access, id))


@router.patch("/memories/{id}", tags=["memories"])
def update(id: str, body: UpdateIn, space: Space, access: Caller) -> MemoryOut:
    """Change the named fields (a patch); ``if_version`` makes it conditional (409 if the
    memory changed since that version)."""
    access.require("write")
    current = visible(space, access, id)
    fields = body.fields()
    _check_move(access, current.user, current.agent, fields)
    actor = _actor(access)
    return MemoryOut.of(space.update(id, if_version=body.if_version, actor=actor, **fields))


def _check_move(access: Access, user: str | None, agent: str | None, fields: Any) -> None:
    """Refuse an edit that would move a memory out of the caller's namespaces."""
    if "user" in fields or "agent" in fields:
        moved = {"user": fields.get("user", user), "agent": fields.get("agent", agent)}
        access.place(moved)


@router.post("/memories/{id}/pin", tags=["memories"])
def pin(id: str, space: Space, access: Caller) -> MemoryOut:
    """Pin a memory: never evicted or collected."""
    access.require("write")
    visible(space, access, id)
    return MemoryOut.of(space.pin(id, actor=_actor(access)))


@router.post("/memories/{id}/unpin", tags=["memories"])
def unpin(id: str, space: Space, access: Caller) -> MemoryOut:
    access.require("write")
    visible(space, access, id)
    return MemoryOut.of(space.unpin(id, actor=_actor(access)))


@router.delete("/memories/{id}", tags=["memories"])
def delete(id: str, space: Space, access: Caller) -> list[ChangeOut]:
    """Delete one memory (its history stays in the log)."""
    access.require("write")
    visible(space, access, id)
    return [ChangeOut.of(c) for c in space.delete([id], actor=_actor(access))]


@router.post("/memories/delete", tags=["memories"])
def delete_many(body: DeleteIn, space: Space, access: Caller) -> list[ChangeOut]:
    """Delete memories by id, all or nothing."""
    access.require("write")
    for id in body.ids:
        visible(space, access, id)
    return [ChangeOut.of(c) for c in space.delete(body.ids, actor=_actor(access))]


@router.get("/memories/{id}/history", tags=["log"])
def history(id: str, space: Space, access: Caller) -> list[ChangeOut]:
    """Every logged change of one memory, oldest first."""
    access.require("read")
    changes = space.history(id)
    shown = visible_changes(access, changes)
    if not shown and changes:
        raise NotFound(f"no memory with id {id!r} was ever stored")
    return [ChangeOut.of(c) for c in shown]


@router.post("/forget", tags=["memories"])
def forget(body: ForgetIn, space: Space, access: Caller) -> ForgetOut:
    """Delete the top hits of a query, or what a filter selects; ``dry_run`` previews."""
    access.require("write")
    filters = access.narrow(body.filters())
    if filters is None:
        return ForgetOut(deleted=[], would_delete=[] if body.dry_run else None)
    ids = space.forget(
        body.query,
        k=body.k,
        all=body.all,
        min_score=body.min_score,
        dry_run=body.dry_run,
        actor=_actor(access),
        **filters,
    )
    if body.dry_run:
        return ForgetOut(deleted=[], would_delete=ids)
    return ForgetOut(deleted=ids)


@router.post("/search", tags=["search"])
def search(body: SearchIn, space: Space, access: Caller) -> list[SearchHitOut]:
    """Hybrid search (dense + BM25): the best hits with their scores in [0, 1] and parts."""
    access.require("read")
    filters = access.narrow(body.filters())
    if filters is None:
        return []
    hits = space.search(body.query, k=body.k, min_score=body.min_score, **filters)
    return [SearchHitOut.of(hit) for hit in hits]


@router.post("/context", tags=["search"])
def context(body: ContextIn, space: Space, access: Caller) -> ContextOut:
    """A prompt-ready context within a token budget: pinned memories, then the best hits."""
    access.require("read")
    filters = access.narrow(body.filters())
    if filters is None:  # a scope the key cannot see: nothing to show
        return ContextOut(
            format=body.format,
            text="",
            messages=[],
            blocks=[],
            tokens=0,
            budget=body.budget,
            dropped=[],
            fragmentation=0.0,
        )
    assembled = space.context(
        body.query,
        budget=body.budget,
        k=body.k,
        min_score=body.min_score,
        format=body.format,
        **filters,
    )
    return ContextOut.of(assembled)


def _actor(access: Access) -> str | None:
    return None if access.key_id is None else f"key:{access.key_id}"
