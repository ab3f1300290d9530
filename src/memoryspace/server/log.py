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
from memoryspace.access import Right, ScopedMemory
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
from memoryspace.server.deps import Scoped
from memoryspace.server.errors import ERROR_RESPONSES

router = APIRouter(responses=ERROR_RESPONSES)

Since = Annotated[int, Query(ge=0, le=validate.MAX_LSN)]
AsOfLsn = Annotated[int, Query(ge=0, le=validate.MAX_LSN)]
POLL_SECONDS = 0.2
HEARTBEAT_SECONDS = 15.0


class LsnOut(BaseModel):
    lsn: int


@router.get("/lsn", tags=["log"])
def lsn(scoped: Scoped) -> LsnOut:
    """The LSN of the last committed change: where a change feed starts tailing."""
    return LsnOut(lsn=scoped.lsn)


@router.get("/changes", tags=["log"])
def changes(
    scoped: Scoped,
    since: Since = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_LIST)] = 1_000,
) -> list[ChangeOut]:
    """The log entries after ``since`` about memories the caller may see, in LSN order."""
    page, _ = scoped.changes(since, limit)
    return [ChangeOut.of(c) for c in page]


@router.get(
    "/changes/stream",
    tags=["log"],
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "Change events"}},
)
async def stream(
    request: Request,
    scoped: Scoped,
    since: Since = 0,
    last_event_id: Annotated[str | None, Header(max_length=32)] = None,
) -> StreamingResponse:
    """Server-sent events: one ``change`` event per visible log entry after ``since`` (or the
    ``Last-Event-ID`` a reconnecting client sends), ``id`` = its LSN; the stream stays open."""
    scoped.access.require_right(Right.READ)  # before the stream starts
    if last_event_id is not None and last_event_id.isdigit():
        since = max(since, int(last_event_id))
    return StreamingResponse(
        _events(request, scoped, since),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def _events(request: Request, scoped: ScopedMemory, since: int) -> AsyncIterator[str]:
    position, quiet = since, 0.0
    yield ": memoryspace change feed\n\n"
    while not await request.is_disconnected() and not request.app.state.stopping:
        page, position = await run_in_threadpool(scoped.changes, position, 500)
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
def checkpoint(body: CheckpointIn, scoped: Scoped) -> CheckpointOut:
    """Take a named consistent snapshot of the whole space (admin, namespace ``*``)."""
    return CheckpointOut.of(scoped.checkpoint(body.name, overwrite=body.overwrite))


@router.get("/checkpoints", tags=["admin"])
def checkpoints(scoped: Scoped) -> list[CheckpointOut]:
    return [CheckpointOut.of(c) for c in scoped.checkpoints()]


@router.post("/restore", tags=["admin"])
def restore(body: RestoreIn, scoped: Scoped) -> list[ChangeOut]:
    """Bring back a checkpoint's state (or ``to_lsn``'s) as logged, undoable changes."""
    return [ChangeOut.of(c) for c in scoped.restore(body.name, to_lsn=body.to_lsn)]


@router.get("/as_of/{lsn}/memories/{id}", tags=["log"])
def get_as_of(lsn: int, id: str, scoped: Scoped) -> MemoryOut:
    """One memory as it was right after ``lsn``."""
    with scoped.as_of(lsn) as past:
        return MemoryOut.of(past.get(id))


@router.post("/as_of/{lsn}/search", tags=["log"])
def search_as_of(lsn: int, body: SearchIn, scoped: Scoped) -> list[SearchHitOut]:
    """A search of the space as it was right after ``lsn`` (nothing is touched)."""
    filters = scoped.visible_filters(Right.READ, body.filters())
    if filters is None:
        return []
    with scoped.as_of(lsn) as past:
        hits = past.search(body.query, k=body.k, min_score=body.min_score, touch=False, **filters)
        return [SearchHitOut.of(hit) for hit in hits]


@router.get("/stats", tags=["admin"])
def stats(
    scoped: Scoped,
    user: Annotated[str | None, Query(min_length=1, max_length=256)] = None,
    agent: Annotated[str | None, Query(min_length=1, max_length=256)] = None,
) -> StatsOut:
    """Sizes, counters and configuration; a key limited to some namespaces sees the counts of
    its own memories only (and the space's LSN), of ``user`` or ``agent`` if it has several."""
    return StatsOut.of(scoped.stats(user=user, agent=agent))


@router.post("/gc", tags=["admin"])
def gc(body: GCIn, request: Request, scoped: Scoped) -> GCEventOut:
    """Collect garbage once (admin, namespace ``*``); ``dry_run`` only reports."""
    options = gc_options(
        body.collector, major=body.major, idle_days=body.idle_days, max_records=body.max_records
    )
    event = scoped.gc(body.collector, dry_run=body.dry_run, **options)
    request.app.state.gc_pauses.observe(event.pause_duration)
    return GCEventOut.of(event)
