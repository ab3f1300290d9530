"""Routes for the log and the whole space: the change feed (a page and a server-sent-events
stream), checkpoints, restore, reads as of an LSN, stats and garbage collection."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from memoryspace import validate
from memoryspace.api import (
    ChangeOut,
    CheckpointIn,
    CheckpointOut,
    GCEventOut,
    GCIn,
    MemoryOut,
    RestoreIn,
    SearchHitOut,
    SearchIn,
    StatsOut,
    gc_options,
)
from memoryspace.api.requests import MAX_LIST
from memoryspace.models import Kind
from memoryspace.server.deps import Caller, Space, feed_page, visible
from memoryspace.server.errors import ERROR_RESPONSES
from memoryspace.server.keys import Access
from memoryspace.space import MemorySpace

router = APIRouter(responses=ERROR_RESPONSES)

Since = Annotated[int, Query(ge=0, le=validate.MAX_LSN)]
AsOfLsn = Annotated[int, Query(ge=0, le=validate.MAX_LSN)]
POLL_SECONDS = 0.2
HEARTBEAT_SECONDS = 15.0


class LsnOut(BaseModel):
    lsn: int


@router.get("/lsn", tags=["log"])
def lsn(space: Space, access: Caller) -> LsnOut:
    """The LSN of the last committed change: where a change feed starts tailing."""
    access.require("read")
    return LsnOut(lsn=space.lsn)


@router.get("/changes", tags=["log"])
def changes(
    space: Space,
    access: Caller,
    since: Since = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_LIST)] = 1_000,
) -> list[ChangeOut]:
    """The log entries after ``since`` about memories the caller may see, in LSN order."""
    access.require("read")
    page, _ = feed_page(space, access, since, limit)
    return [ChangeOut.of(c) for c in page]


@router.get(
    "/changes/stream",
    tags=["log"],
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "Change events"}},
)
async def stream(
    request: Request,
    space: Space,
    access: Caller,
    since: Since = 0,
    last_event_id: Annotated[str | None, Header(max_length=32)] = None,
) -> StreamingResponse:
    """Server-sent events: one ``change`` event per visible log entry after ``since`` (or the
    ``Last-Event-ID`` a reconnecting client sends), ``id`` = its LSN; the stream stays open."""
    access.require("read")
    if last_event_id is not None and last_event_id.isdigit():
        since = max(since, int(last_event_id))
    return StreamingResponse(
        _events(request, space, access, since),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def _events(
    request: Request, space: MemorySpace, access: Access, since: int
) -> AsyncIterator[str]:
    position, quiet = since, 0.0
    yield ": memoryspace change feed\n\n"
    while not await request.is_disconnected() and not request.app.state.stopping:
        page, position = await run_in_threadpool(feed_page, space, access, position, 500)
        for change in page:
            data = json.dumps(ChangeOut.of(change).to_json(), ensure_ascii=False)
            yield f"id: {change.lsn}\nevent: change\ndata: {data}\n\n"
        if page:
            quiet = 0.0
            continue
        await asyncio.sleep(POLL_SECONDS)
        quiet += POLL_SECONDS
        if quiet >= HEARTBEAT_SECONDS:
            quiet = 0.0
            yield ": still here\n\n"


@router.post("/checkpoints", status_code=201, tags=["admin"])
def checkpoint(body: CheckpointIn, space: Space, access: Caller) -> CheckpointOut:
    """Take a named consistent snapshot of the whole space (admin, namespace ``*``)."""
    access.require("admin", whole_space=True)
    return CheckpointOut.of(space.checkpoint(body.name, overwrite=body.overwrite))


@router.get("/checkpoints", tags=["admin"])
def checkpoints(space: Space, access: Caller) -> list[CheckpointOut]:
    access.require("admin", whole_space=True)
    return [CheckpointOut.of(c) for c in space.checkpoints()]


@router.post("/restore", tags=["admin"])
def restore(body: RestoreIn, space: Space, access: Caller) -> list[ChangeOut]:
    """Bring back a checkpoint's state (or ``to_lsn``'s) as logged, undoable changes."""
    access.require("admin", whole_space=True)
    actor = None if access.key_id is None else f"key:{access.key_id}"
    return [ChangeOut.of(c) for c in space.restore(body.name, to_lsn=body.to_lsn, actor=actor)]


@router.get("/as_of/{lsn}/memories/{id}", tags=["log"])
def get_as_of(lsn: int, id: str, space: Space, access: Caller) -> MemoryOut:
    """One memory as it was right after ``lsn``."""
    access.require("read")
    with space.as_of(lsn) as past:
        return MemoryOut.of(visible(past, access, id))


@router.post("/as_of/{lsn}/search", tags=["log"])
def search_as_of(lsn: int, body: SearchIn, space: Space, access: Caller) -> list[SearchHitOut]:
    """A search of the space as it was right after ``lsn`` (nothing is touched)."""
    access.require("read")
    filters = access.narrow(body.filters())
    if filters is None:
        return []
    with space.as_of(lsn) as past:
        hits = past.search(body.query, k=body.k, min_score=body.min_score, touch=False, **filters)
        return [SearchHitOut.of(hit) for hit in hits]


@router.get("/stats", tags=["admin"])
def stats(
    space: Space,
    access: Caller,
    user: Annotated[str | None, Query(min_length=1, max_length=256)] = None,
    agent: Annotated[str | None, Query(min_length=1, max_length=256)] = None,
) -> StatsOut:
    """Sizes, counters and configuration; a key limited to some namespaces sees the counts of
    its own memories only (and the space's LSN), of ``user`` or ``agent`` if it has several."""
    access.require("read")
    if access.unrestricted and user is None and agent is None:
        return StatsOut.of(space.stats())
    scope = {k: v for k, v in (("user", user), ("agent", agent)) if v is not None}
    filters = access.narrow(scope)
    if filters is None:
        return StatsOut(memories=0, by_kind={}, pinned=0, archived=0, lsn=space.lsn)
    every = {**filters, "include_archived": True, "include_expired": True}
    by_kind: dict[str, int] = {}
    for kind in Kind:
        n = space.count(kind=kind.value, **every)
        if n:
            by_kind[kind.value] = n
    total = sum(by_kind.values())
    return StatsOut(
        memories=total,
        by_kind=by_kind,
        pinned=space.count(pinned=True, **every),
        archived=total - space.count(**{**filters, "include_expired": True}),
        lsn=space.lsn,
    )


@router.post("/gc", tags=["admin"])
def gc(body: GCIn, request: Request, space: Space, access: Caller) -> GCEventOut:
    """Collect garbage once (admin, namespace ``*``); ``dry_run`` only reports."""
    access.require("admin", whole_space=True)
    options = gc_options(
        body.collector, major=body.major, idle_days=body.idle_days, max_records=body.max_records
    )
    event = space.gc(body.collector, dry_run=body.dry_run, **options)
    request.app.state.gc_pauses.observe(event.pause_duration)
    return GCEventOut.of(event)
