"""The REST app: ``create_app(space)`` builds a FastAPI app over one ``MemorySpace``.

Routes call the (synchronous) facade, so FastAPI runs them in its thread pool; the space is
thread-safe. Other ASGI apps (the MCP server) mount under a path with ``mount_app`` or
``create_app(..., mounts={"/mcp": app})`` and share the key check through ``app.state.keys``
(``KeyRing.authenticate``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

from fastapi import FastAPI, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel
from starlette.types import ASGIApp

from memoryspace import __version__
from memoryspace.server import conversations, log, memories, purge, structures
from memoryspace.server.docs import install_docs
from memoryspace.server.errors import BodyLimit, install_error_handlers
from memoryspace.server.keys import KeyRing
from memoryspace.server.metrics import RequestTimer, new_registry
from memoryspace.server.ui import install_ui
from memoryspace.space import MemorySpace


class HealthOut(BaseModel):
    status: str
    version: str
    lsn: int
    keys: bool


def create_app(
    space: MemorySpace,
    *,
    mounts: Mapping[str, ASGIApp] | None = None,
    max_body_bytes: int | None = None,
    on_shutdown: Callable[[], None] | None = None,
) -> FastAPI:
    """The REST app over ``space`` (which the caller keeps owning and closes).

    ``mounts`` maps paths (``"/mcp"``) to ASGI apps served beside the routes; the lifespan of
    a mounted Starlette app (the MCP SDK's session manager) runs inside this app's.
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as mounted:  # run mounted apps' lifespans (MCP sessions)
            for sub_app in (mounts or {}).values():
                router = getattr(sub_app, "router", None)
                if router is not None and hasattr(router, "lifespan_context"):
                    await mounted.enter_async_context(router.lifespan_context(sub_app))
            yield
            app.state.stopping = True
        if on_shutdown is not None:
            on_shutdown()

    app = FastAPI(
        title="MemorySpace",
        version=__version__,
        summary="Memory for LLM agents: add, search, edit, forget and time-travel memories.",
        lifespan=lifespan,
        docs_url=None,  # FastAPI's pages load from a CDN; docs.py serves /docs from local files
        redoc_url=None,
    )
    registry, latency, pauses = new_registry(space)
    app.state.space = space
    app.state.keys = KeyRing(space.store)
    app.state.stopping = False
    app.state.metrics = registry
    app.state.gc_pauses = pauses
    install_error_handlers(app)
    routers = (memories.router, log.router, conversations.router, structures.router, purge.router)
    for router in routers:
        app.include_router(router)

    @app.get("/health", tags=["admin"])
    def health() -> HealthOut:
        """Whether the server is up (no key needed)."""
        return HealthOut(
            status="ok", version=__version__, lsn=space.lsn, keys=app.state.keys.configured()
        )

    @app.get("/metrics", tags=["admin"], response_class=Response)
    def metrics() -> Response:
        """Prometheus metrics (no key needed: counts only, no content)."""
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    install_docs(app)
    install_ui(app)
    for path, sub_app in (mounts or {}).items():
        mount_app(app, path, sub_app)
    kwargs: dict[str, Any] = {} if max_body_bytes is None else {"limit": max_body_bytes}
    app.add_middleware(BodyLimit, **kwargs)
    app.add_middleware(RequestTimer, latency=latency)
    return app


def mount_app(app: FastAPI, path: str, sub_app: ASGIApp) -> None:
    """Serve ``sub_app`` under ``path`` (e.g. the MCP server at ``/mcp``)."""
    app.mount(path, sub_app)
