"""The MCP server over streamable HTTP, as an ASGI app, with bearer tokens mapped to ``Access``.

    app = mcp_http_app(ms, resolve=static_tokens({"s3cret": Access.only(["user:alice"])}))
    uvicorn.run(app, host="127.0.0.1", port=8766)       # MCP endpoint: http://127.0.0.1:8766/mcp

Each HTTP request must carry ``Authorization: Bearer <token>`` (or ``X-API-Key: <token>``, read
by ``memoryspace.access.credentials`` as the REST routes read it); ``resolve`` turns the token into
the ``Access`` the request's tool calls get (``None``: 401). Without ``resolve`` every request
gets full access, which is only safe on a loopback address.

To serve it inside another Starlette/FastAPI app (the REST server mounts it at ``/mcp``), build
it with ``path="/"``, mount it, and run its lifespan (``app.router.lifespan_context(app)``) in the
outer app's lifespan: Starlette does not run a mounted app's lifespan, and the MCP session
manager lives there.
"""

from __future__ import annotations

import json

from starlette.applications import Starlette
from starlette.types import ASGIApp, Receive, Scope, Send

from memoryspace.access.credentials import token_from_headers
from memoryspace.access.namespaces import Access, AccessResolver
from memoryspace.mcp.server import ACCESS_SCOPE_KEY, build_mcp_server
from memoryspace.space import MemorySpace


class BearerAccess:
    """ASGI middleware: resolves the bearer token of each HTTP request into an ``Access``
    (left in the scope under ``ACCESS_SCOPE_KEY``), or answers 401."""

    def __init__(self, app: ASGIApp, resolve: AccessResolver | None) -> None:
        self.app = app
        self.resolve = resolve

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.resolve is None:
            access: Access | None = Access.everything()
        else:
            token = token_from_headers(scope.get("headers", ()))
            access = None if token is None else self.resolve(token)
        if access is None:
            await unauthorized(send)
            return
        scope[ACCESS_SCOPE_KEY] = access
        await self.app(scope, receive, send)


async def unauthorized(send: Send) -> None:
    body = json.dumps(
        {
            "error": {
                "type": "Unauthorized",
                "message": "send 'Authorization: Bearer <token>' with a valid MemorySpace key",
            }
        }
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 401,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"www-authenticate", b'Bearer realm="memoryspace"'),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def mcp_http_app(
    space: MemorySpace,
    *,
    resolve: AccessResolver | None = None,
    path: str = "/mcp",
    host: str = "127.0.0.1",
    stateless: bool = False,
) -> Starlette:
    """The MCP streamable-HTTP endpoint at ``path`` over ``space``, as a Starlette app.

    ``resolve`` maps bearer tokens to ``Access`` (``None``: no tokens, full access). ``host`` is
    where it is served: on a loopback address the SDK's DNS-rebinding protection is on.
    ``stateless`` keeps no session between requests (each is answered on its own), which is
    what several server processes behind one port need: a client's next request may reach
    another process, which would not know its session.
    """
    server = build_mcp_server(space, access=Access.nothing())
    app = server.streamable_http_app(streamable_http_path=path, host=host, stateless_http=stateless)
    app.add_middleware(BearerAccess, resolve=resolve)
    return app
