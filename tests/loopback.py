"""One loopback HTTP test server helper: run an ASGI app (on uvicorn) or an ``http.server``
server on 127.0.0.1, on a free port, in a background thread, as a context manager.

    with serve_asgi(create_app(space)) as url: ...          # http://127.0.0.1:PORT
    with serve_http(server_class=MyServer) as (server, url): ...

The listening socket is bound before the thread starts (port 0: the kernel picks a free one),
so there is no window in which another process could take the port. Used by the fake chat API
(``chat_server``), the REST server fixtures (``server_fixtures``) and the MCP tests.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, HTTPServer, ThreadingHTTPServer
from typing import TypeVar

import uvicorn
from starlette.types import ASGIApp

HOST = "127.0.0.1"
S = TypeVar("S", bound=HTTPServer)


def free_port() -> int:
    """A port free right now (for a server in another process, which binds it itself)."""
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def wait_for_port(
    port: int, *, alive: Callable[[], bool] | None = None, seconds: float = 60.0
) -> None:
    """Until something accepts connections on ``port`` (or ``alive()`` turns false)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if alive is not None and not alive():
            raise AssertionError("the server stopped before it listened")
        try:
            with socket.create_connection((HOST, port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"nothing listened on port {port}")


@contextmanager
def serve_asgi(app: ASGIApp, *, seconds: float = 60.0) -> Iterator[str]:
    """``app`` on a real uvicorn (lifespan on) at 127.0.0.1; yields its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((HOST, 0))
    port = int(sock.getsockname()[1])
    config = uvicorn.Config(
        app, host=HOST, port=port, log_level="warning", lifespan="on", timeout_graceful_shutdown=1
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name=f"loopback-asgi-{port}", daemon=True
    )
    thread.start()
    try:
        deadline = time.monotonic() + seconds
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise AssertionError(f"the ASGI server on port {port} did not start")
            time.sleep(0.02)
        yield f"http://{HOST}:{port}"
    finally:
        server.should_exit = True
        thread.join(30)
        sock.close()


@contextmanager
def serve_http(
    handler: type[BaseHTTPRequestHandler] = BaseHTTPRequestHandler,
    *,
    server_class: type[S] = ThreadingHTTPServer,  # type: ignore[assignment]
) -> Iterator[tuple[S, str]]:
    """An ``http.server`` server of ``server_class`` with ``handler`` at 127.0.0.1; yields it
    (its ``RequestHandlerClass`` may be replaced before the first request) and its base URL."""
    server = server_class((HOST, 0), handler)
    port = int(server.server_address[1])
    thread = threading.Thread(
        target=server.serve_forever, args=(0.01,), name=f"loopback-http-{port}", daemon=True
    )
    thread.start()
    try:
        yield server, f"http://{HOST}:{port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
