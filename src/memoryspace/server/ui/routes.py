"""The dashboard's page, its assets and the read routes it needs beyond the REST API.

The page calls the REST routes with the API key the user types in (kept in the browser's
sessionStorage), so it sees exactly what that key sees. The routes here are scoped the same way:
``/ui/api/session`` tells the page what its key may do (to show only the controls that work),
``/ui/api/graph`` returns the typed links between the memories the key may see, and
``/ui/api/windows`` the context windows of the scopes it may see.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.responses import FileResponse, RedirectResponse
from pydantic import BaseModel
from starlette.staticfiles import StaticFiles

from memoryspace.server.deps import Caller, Space
from memoryspace.server.errors import ERROR_RESPONSES
from memoryspace.server.ui.scope import allows, names, narrow, require_read, rights

ASSETS = Path(__file__).parent / "assets"
MAX_GRAPH_NODES = 1_000
LABEL_CHARS = 80
ScopeName = Annotated[str | None, Query(min_length=1, max_length=256)]

router = APIRouter(prefix="/ui/api", tags=["dashboard"], responses=ERROR_RESPONSES)


class HotTierConfigOut(BaseModel):
    """The hot tier's capacity and policies (its counters are in ``/stats``)."""

    capacity_records: int | None
    capacity_tokens: int | None
    policy: str
    write_policy: str


class SessionOut(BaseModel):
    """What the caller's key may do, and the parts of the configuration the page draws."""

    key_id: str | None
    namespaces: list[str]
    rights: list[str]
    whole_space: bool
    keys_configured: bool
    lsn: int
    hot_tier: HotTierConfigOut | None


class GraphNodeOut(BaseModel):
    id: str
    label: str
    kind: str
    pinned: bool
    user: str | None
    agent: str | None


class GraphEdgeOut(BaseModel):
    source: str
    target: str
    type: str
    strong: bool


class GraphOut(BaseModel):
    """Memories as nodes and their typed links as edges; only links between two listed nodes
    are edges (a link to a memory the key may not see is left out, as the memory is)."""

    nodes: list[GraphNodeOut]
    edges: list[GraphEdgeOut]
    truncated: bool


@router.get("/session")
def session(request: Request, space: Space, access: Caller) -> SessionOut:
    """The caller's namespaces and rights, and the hot tier's configuration."""
    require_read(access)
    settings = space.settings
    hot = None
    if space.hot_tier is not None:
        hot = HotTierConfigOut(
            capacity_records=settings.hot_tier_records,
            capacity_tokens=settings.hot_tier_tokens,
            policy=settings.hot_tier_policy,
            write_policy=settings.hot_tier_write_policy,
        )
    return SessionOut(
        key_id=access.key_id,
        namespaces=names(access),
        rights=rights(access),
        whole_space=access.unrestricted,
        keys_configured=request.app.state.keys.configured(),
        lsn=space.lsn,
        hot_tier=hot,
    )


@router.get("/graph")
def graph(
    space: Space,
    access: Caller,
    limit: Annotated[int, Query(ge=1, le=MAX_GRAPH_NODES)] = 300,
    kind: Annotated[str | None, Query(min_length=1, max_length=32)] = None,
    user: ScopeName = None,
    agent: ScopeName = None,
) -> GraphOut:
    """The newest ``limit`` memories the caller may see (of ``kind``, ``user`` or ``agent`` if
    given; a key with several namespaces names one) and the typed links between them."""
    require_read(access)
    named = {"kind": kind, "user": user, "agent": agent}
    given: dict[str, Any] = {k: v for k, v in named.items() if v is not None}
    filters = narrow(access, given)
    if filters is None:
        return GraphOut(nodes=[], edges=[], truncated=False)
    page = list(space.scan(limit=limit + 1, newest_first=True, **filters))
    truncated = len(page) > limit
    memories = page[:limit]
    listed = {m.id for m in memories}
    nodes = [
        GraphNodeOut(
            id=m.id,
            label=_label(m.content),
            kind=str(m.kind),
            pinned=m.pinned,
            user=m.user,
            agent=m.agent,
        )
        for m in memories
    ]
    edges = [
        GraphEdgeOut(source=m.id, target=link.id, type=str(link.type), strong=link.strong)
        for m in memories
        for link in m.links
        if link.id in listed
    ]
    return GraphOut(nodes=nodes, edges=edges, truncated=truncated)


class WindowSlotOut(BaseModel):
    offset: int
    size: int
    region: str
    id: str | None  # None: a hole


class WindowOut(BaseModel):
    """One scope's context window as ``context`` left it (``MemorySpace.context_windows``)."""

    user: str | None
    agent: str | None
    session: str | None
    budget: int
    used: int
    tail: int
    fragmentation: float
    slots: list[WindowSlotOut]


@router.get("/windows")
def windows(space: Space, access: Caller) -> list[WindowOut]:
    """The context windows of the scopes the caller may see, as they are now: each slot's
    offset, size, region and record (holes included) and the window's fragmentation. Reading
    them changes nothing (``POST /context`` assembles a context and moves its window)."""
    require_read(access)
    return [
        WindowOut.model_validate(dataclasses.asdict(view))
        for view in space.context_windows()
        if allows(access, view.user, view.agent)
    ]


def _label(content: str) -> str:
    flat = " ".join(content.split())
    return flat if len(flat) <= LABEL_CHARS else flat[: LABEL_CHARS - 1] + "…"


# The page may load and call only this server; style attributes carry the charts' colours.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)


def page() -> FileResponse:
    """The dashboard's single page."""
    headers = {"Cache-Control": "no-cache", "Content-Security-Policy": CONTENT_SECURITY_POLICY}
    return FileResponse(ASSETS / "index.html", headers=headers)


def to_page() -> RedirectResponse:
    """``/ui/`` -> ``/ui`` (the page's asset paths are relative to ``/ui``)."""
    return RedirectResponse("../ui", status_code=308)


def install_ui(app: FastAPI) -> None:
    """Serve the dashboard at ``/ui`` (its assets under ``/ui/assets``) and its read routes."""
    app.include_router(router)
    app.add_api_route("/ui", page, methods=["GET"], include_in_schema=False)
    app.add_api_route("/ui/", to_page, methods=["GET"], include_in_schema=False)
    app.mount("/ui/assets", StaticFiles(directory=ASSETS), name="ui-assets")
