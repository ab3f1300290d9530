"""Running the REST app on uvicorn: ``serve(db, host, port)`` (what ``memoryspace serve`` runs)
and ``ServerThread``, the same server in a background thread (tests, benchmarks)."""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from collections.abc import Mapping
from pathlib import Path

import uvicorn
from starlette.types import ASGIApp

from memoryspace.errors import BackendUnavailable, Forbidden
from memoryspace.server.app import create_app
from memoryspace.server.keys import KeyRing
from memoryspace.space import MemorySpace


def is_loopback(host: str) -> bool:
    """Whether ``host`` only listens on this machine (``localhost``, 127.0.0.0/8, ::1)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_exposure(space: MemorySpace, host: str) -> str:
    """The start-up line saying who may connect.

    Raises:
        Forbidden: the host is not loopback and the space has no API keys.
    """
    if KeyRing(space.store).configured():
        return f"API keys required; listening on {host}"
    if not is_loopback(host):
        raise Forbidden(
            f"refusing to listen on {host} without API keys: anyone could read and change every "
            "memory. Create one with `memoryspace keys create --namespace '*' --rights admin`, "
            "or serve on 127.0.0.1"
        )
    return f"no API keys configured: listening on {host} only (loopback), every request allowed"


def serve(
    db: str | Path,
    *,
    host: str = "127.0.0.1",
    port: int = 8765,
    embedder: str = "auto",
    log_level: str = "info",
    announce: bool = True,
) -> None:
    """Serve the space at ``db`` until interrupted.

    Raises:
        Forbidden: a non-loopback ``host`` and no API keys.
    """
    with MemorySpace.open(db, embedder=embedder) as space:
        line = check_exposure(space, host)
        if announce:
            print(f"memoryspace: {line}; http://{host}:{port}/openapi.json", flush=True)
        config = uvicorn.Config(
            create_app(space, mounts=mcp_mount(space, host)),
            host=host,
            port=port,
            log_level=log_level,
            timeout_graceful_shutdown=2,
        )
        uvicorn.Server(config).run()


def mcp_mount(space: MemorySpace, host: str) -> dict[str, ASGIApp]:
    """``{"/mcp": the MCP streamable-HTTP app}`` when the MCP SDK is installed, checking the
    same API keys (none configured at start: every request allowed, as on the REST routes)."""
    try:
        from memoryspace.mcp import mcp_http_app
    except ImportError:
        return {}
    ring = KeyRing(space.store)
    resolve = ring.resolve if ring.configured() else None
    return {"/mcp": mcp_http_app(space, resolve=resolve, path="/", host=host)}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServerThread:
    """The REST app over ``space`` (and ``mounts``) on 127.0.0.1 in a background thread; a
    context manager.

    Raises:
        BackendUnavailable: the server did not start within ``timeout`` seconds.
    """

    def __init__(
        self,
        space: MemorySpace,
        *,
        port: int | None = None,
        timeout: float = 30,
        mounts: Mapping[str, ASGIApp] | None = None,
    ):
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            create_app(space, mounts=mounts),
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            timeout_graceful_shutdown=1,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="memoryspace-server")
        self._timeout = timeout

    def __enter__(self) -> ServerThread:
        self._thread.start()
        deadline = time.monotonic() + self._timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise BackendUnavailable(f"the server on port {self.port} did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
