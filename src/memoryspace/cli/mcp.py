"""``memoryspace mcp``: serve the database to MCP clients, over stdio or streamable HTTP.

Over stdio (the default) stdout carries the protocol, so nothing else is printed there; the
client (a desktop app, an agent framework) starts the command itself. With ``--http`` it serves
``http://HOST:PORT/mcp`` with uvicorn; with ``--token`` (or ``$MEMORYSPACE_MCP_TOKEN``) requests
must send ``Authorization: Bearer <token>``, and without one it serves only a loopback address.
"""

from __future__ import annotations

import ipaddress
from typing import Annotated

import typer

from memoryspace.cli.common import DEFAULT_DB, Db, Embedder, errors, opened
from memoryspace.errors import BackendUnavailable, InvalidInput

mcp_commands = typer.Typer()


@mcp_commands.command("mcp")
def serve_mcp(
    db: Db = DEFAULT_DB,
    embedder: Embedder = "auto",
    http: Annotated[bool, typer.Option("--http", help="Serve streamable HTTP, not stdio.")] = False,
    host: Annotated[str, typer.Option(help="Address to listen on (with --http).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on (with --http).")] = 8766,
    token: Annotated[
        str | None,
        typer.Option(
            envvar="MEMORYSPACE_MCP_TOKEN",
            help="Bearer token HTTP clients must send (full access).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Serve the memories as MCP tools and resources (stdio by default)."""
    try:
        import uvicorn

        from memoryspace.mcp import Access, build_mcp_server, mcp_http_app, static_tokens
    except ImportError as exc:
        raise BackendUnavailable(
            f"the MCP server needs the server extra ({exc.name} is missing); "
            "pip install 'memoryspace[server]'"
        ) from None
    if http and token is None and not _loopback(host):
        raise InvalidInput(
            f"without --token the MCP server only listens on a loopback address, not {host!r}; "
            "pass --token (or set MEMORYSPACE_MCP_TOKEN) to serve other hosts"
        )
    if not 0 < port < 65536:
        raise InvalidInput(f"--port must be 1-65535, got {port}")
    with opened(db, embedder, create=True) as ms:
        if not http:
            build_mcp_server(ms).run("stdio")
            return
        resolve = None if token is None else static_tokens({token: Access.everything()})
        asgi = mcp_http_app(ms, resolve=resolve, host=host)
        guard = "bearer token required" if token else "no token: loopback only"
        errors.print(f"MCP over streamable HTTP at http://{host}:{port}/mcp ({guard})")
        uvicorn.run(asgi, host=host, port=port, log_level="warning")


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
