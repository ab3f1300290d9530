"""Routes for memories: add, get, list, count, update, pin, delete, forget, search, context and
history, each a call of ``ScopedMemory`` (the caller's namespaces and rights)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response, status

from memoryspace.access import Right
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
from memoryspace.server.deps import Scoped
from memoryspace.server.encode import json_answer
from memoryspace.server.errors import ERROR_RESPONSES

router = APIRouter(responses=ERROR_RESPONSES)

ScopeName = Annotated[str | None, Query(min_length=1, max_length=256)]
Names = Annotated[list[str] | None, Query(max_length=100)]


async def list_filters(
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
    of the routes that list or count (async: no thread hop for it)."""
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


@router.post(
    "/memories", status_code=status.HTTP_201_CREATED, tags=["memories"], response_model=MemoryOut
)
def add(body: AddIn, scoped: Scoped) -> Response:
    """Store one memory (in the caller's namespace when it names no user or agent)."""
    added = scoped.add_many([body.item()])[0]
    return json_answer(MemoryOut, added.to_dict(), status_code=status.HTTP_201_CREATED)


@router.post("/memories/batch", status_code=status.HTTP_201_CREATED, tags=["memories"])
def add_many(body: AddManyIn, scoped: Scoped) -> list[MemoryOut]:
    """Store several memories in one transaction, all or nothing."""
    added = scoped.add_many([item.item() for item in body.items], dedupe=body.dedupe)
    return [MemoryOut.of(m) for m in added]


@router.get("/memories", tags=["memories"])
def list_memories(
    scoped: Scoped,
    given: ListFilters,
    limit: Annotated[int, Query(ge=0, le=MAX_LIST)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
    newest_first: bool = False,
) -> list[MemoryOut]:
    """A page of the memories matching the filters, oldest first (or newest first)."""
    filters = scoped.visible_filters(Right.READ, given)
    if filters is None:
        return []
    page = scoped.scan(limit=limit, offset=offset, newest_first=newest_first, **filters)
    return [MemoryOut.of(m) for m in page]


@router.get("/memories/count", tags=["memories"])
def count(scoped: Scoped, given: ListFilters) -> CountOut:
    """How many memories match the filters."""
    filters = scoped.visible_filters(Right.READ, given)
    return CountOut(count=0 if filters is None else scoped.count(**filters))


@router.get("/memories/{id}", tags=["memories"], response_model=MemoryOut)
def get(id: str, scoped: Scoped) -> Response:
    """One memory by id."""
    return json_answer(MemoryOut, scoped.get(id).to_dict())


@router.patch("/memories/{id}", tags=["memories"])
def update(id: str, body: UpdateIn, scoped: Scoped) -> MemoryOut:
    """Change the named fields (a patch); ``if_version`` makes it conditional (409 if the
    memory changed since that version). A memory cannot move out of the caller's namespaces."""
    return MemoryOut.of(scoped.update(id, if_version=body.if_version, **body.fields()))


@router.post("/memories/{id}/pin", tags=["memories"])
def pin(id: str, scoped: Scoped) -> MemoryOut:
    """Pin a memory: never evicted or collected."""
    return MemoryOut.of(scoped.set_pinned(id, True))


@router.post("/memories/{id}/unpin", tags=["memories"])
def unpin(id: str, scoped: Scoped) -> MemoryOut:
    return MemoryOut.of(scoped.set_pinned(id, False))


@router.delete("/memories/{id}", tags=["memories"])
def delete(id: str, scoped: Scoped) -> list[ChangeOut]:
    """Delete one memory (its history stays in the log)."""
    return [ChangeOut.of(c) for c in scoped.delete([id])]


@router.post("/memories/delete", tags=["memories"])
def delete_many(body: DeleteIn, scoped: Scoped) -> list[ChangeOut]:
    """Delete memories by id, all or nothing."""
    return [ChangeOut.of(c) for c in scoped.delete(body.ids)]


@router.get("/memories/{id}/history", tags=["log"])
def history(id: str, scoped: Scoped) -> list[ChangeOut]:
    """Every logged change of one memory, oldest first."""
    return [ChangeOut.of(c) for c in scoped.history(id)]


@router.post("/forget", tags=["memories"])
def forget(body: ForgetIn, scoped: Scoped) -> ForgetOut:
    """Delete the top hits of a query, or what a filter selects; ``dry_run`` previews."""
    filters = scoped.visible_filters(Right.WRITE, body.filters())
    if filters is None:
        return ForgetOut(deleted=[], would_delete=[] if body.dry_run else None)
    ids = scoped.forget_matching(
        body.query,
        k=body.k,
        all=body.all,
        min_score=body.min_score,
        dry_run=body.dry_run,
        **filters,
    )
    if body.dry_run:
        return ForgetOut(deleted=[], would_delete=ids)
    return ForgetOut(deleted=ids)


@router.post("/search", tags=["search"], response_model=list[SearchHitOut])
def search(body: SearchIn, scoped: Scoped) -> Response:
    """Hybrid search (dense + BM25): the best hits with their scores in [0, 1] and parts."""
    filters = scoped.visible_filters(Right.READ, body.filters())
    if filters is None:
        return json_answer(list[SearchHitOut], [])
    hits = scoped.search(body.query, k=body.k, min_score=body.min_score, **filters)
    return json_answer(list[SearchHitOut], [hit.to_dict() for hit in hits])


@router.post("/context", tags=["search"])
def context(body: ContextIn, scoped: Scoped) -> ContextOut:
    """A prompt-ready context within a token budget: pinned memories, then the best hits."""
    filters = scoped.visible_filters(Right.READ, body.filters())
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
    assembled = scoped.context(
        body.query,
        budget=body.budget,
        k=body.k,
        min_score=body.min_score,
        format=body.format,
        **filters,
    )
    return ContextOut.of(assembled)
