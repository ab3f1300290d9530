"""Running the REST app on uvicorn: ``serve(db, host, port, workers=N)`` (what ``memoryspace
serve`` runs; ``worker_app`` is the app of each worker process) and ``ServerThread``, the same
server in a background thread (tests, benchmarks)."""

from __future__ import annotations

import ipaddress
import os
import socket
import threading
import time
from collections.abc import Mapping
from pathlib import Path

import uvicorn
from fastapi import FastAPI
from starlette.types import ASGIApp

from memoryspace.errors import BackendUnavailable, Forbidden, InvalidInput
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
    workers: int = 1,
    access_log: bool = True,
) -> None:
    """Serve the space at ``db`` until interrupted, in ``workers`` processes.

    Each worker process opens the database itself and its vector index follows the store's log
    before every search, so a write made through one worker is found through every other (SQLite
    WAL lets several processes read while one writes; PostgreSQL serves many). With several
    workers the MCP endpoint is stateless (a client's requests may reach different processes).

    Raises:
        Forbidden: a non-loopback ``host`` and no API keys.
        InvalidInput: ``workers`` below 1, or several workers over an in-memory database.
    """
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise InvalidInput(f"--workers must be a positive whole number; got {workers!r}")
    if workers > 1 and str(db) in ("", ":memory:"):
        raise InvalidInput(
            "several workers need a database file or a PostgreSQL URL: each worker process "
            "opens it, and an in-memory database would be a different one in each"
        )
    with MemorySpace.open(db, embedder=embedder) as space:
        line = check_exposure(space, host)
        if announce:
            print(f"memoryspace: {line}; http://{host}:{port}/openapi.json", flush=True)
        if workers == 1:
            config = uvicorn.Config(
                create_app(space, mounts=mcp_mount(space, host)),
                host=host,
                port=port,
                log_level=log_level,
                access_log=access_log,
                timeout_graceful_shutdown=2,
            )
            uvicorn.Server(config).run()
            return
    # Several workers: uvicorn starts each process, which builds its app from these variables.
    os.environ.update({_DB: str(db), _EMBEDDER: embedder, _HOST: host})
    uvicorn.run(
        f"{__name__}:worker_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=log_level,
        access_log=access_log,
        timeout_graceful_shutdown=2,
    )


_DB, _EMBEDDER, _HOST = (
    "MEMORYSPACE_SERVE_DB",
    "MEMORYSPACE_SERVE_EMBEDDER",
    "MEMORYSPACE_SERVE_HOST",
)


def worker_app() -> FastAPI:
    """The app of one worker process of ``serve(..., workers=N)``: it opens the database named
    by the environment ``serve`` set and closes it when the process stops."""
    space = MemorySpace.open(os.environ[_DB], embedder=os.environ.get(_EMBEDDER, "auto"))
    host = os.environ.get(_HOST, "127.0.0.1")
    return create_app(space, mounts=mcp_mount(space, host, stateless=True), on_shutdown=space.close)


def mcp_mount(space: MemorySpace, host: str, *, stateless: bool = False) -> dict[str, ASGIApp]:
    """``{"/mcp": the MCP streamable-HTTP app}`` when the MCP SDK is installed, checking the
    same API keys (none configured at start: every request allowed, as on the REST routes);
    ``stateless`` when several processes serve the port."""
    try:
        from memoryspace.mcp import mcp_http_app
    except ImportError:
        return {}
    ring = KeyRing(space.store)
    resolve = ring.resolve if ring.configured() else None
    return {"/mcp": mcp_http_app(space, resolve=resolve, path="/", host=host, stateless=stateless)}


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
