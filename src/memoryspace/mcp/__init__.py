"""The MCP server: MemorySpace's tools and resources for MCP clients (the ``server`` extra).

``build_mcp_server(ms)`` is the server (run it over stdio with ``server.run("stdio")``, or
``memoryspace mcp --db PATH``); ``mcp_http_app(ms, resolve=...)`` serves it over streamable
HTTP as an ASGI app. ``Access`` says which namespaces (users, agents) and rights a session has;
an ``AccessResolver`` turns a bearer token into one (both from ``memoryspace.access``).
"""

from memoryspace.access import Access, AccessResolver, Namespace, Right, ScopedMemory, static_tokens
from memoryspace.mcp.http import mcp_http_app
from memoryspace.mcp.server import TOOL_NAMES, build_mcp_server

__all__ = [
    "TOOL_NAMES",
    "Access",
    "AccessResolver",
    "Namespace",
    "Right",
    "ScopedMemory",
    "build_mcp_server",
    "mcp_http_app",
    "static_tokens",
]
