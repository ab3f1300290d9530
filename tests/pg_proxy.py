"""A loopback TCP proxy in front of the test PostgreSQL server, to drop connections on cue.

``CuttingProxy(server_url)`` listens on 127.0.0.1 and relays every connection to the server
byte for byte. ``cut("before")`` makes it close the next connection that sends ``COMMIT``
without passing the ``COMMIT`` on (the server rolls the transaction back); ``cut("after")``
passes it on and closes the connection before the answer comes back (the server commits; the
client cannot know). ``refuse()`` closes every connection at once and turns new ones away, as
a stopped server would; ``accept()`` lets them in again.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from typing import Literal
from urllib.parse import parse_qs, urlsplit, urlunsplit

Cut = Literal["before", "after"]


class CuttingProxy:
    def __init__(self, server_url: str) -> None:
        parts = urlsplit(server_url)
        # The embedded server is reached by its Unix socket (``?host=/folder``) or by TCP.
        socket_folder = parse_qs(parts.query).get("host", [""])[0]
        self._target: str | tuple[str, int] = (
            f"{socket_folder}/.s.PGSQL.{parts.port or 5432}"
            if socket_folder.startswith("/")
            else (parts.hostname or "127.0.0.1", parts.port or 5432)
        )
        self._listener = socket.create_server(("127.0.0.1", 0))
        port = self._listener.getsockname()[1]
        netloc = parts.netloc.rsplit("@", 1)
        host = f"127.0.0.1:{port}"
        self.url_of = lambda url: urlunsplit(
            urlsplit(url)._replace(
                netloc=f"{netloc[0]}@{host}" if len(netloc) == 2 else host, query=""
            )
        )
        self._lock = threading.Lock()
        self._cut: Cut | None = None
        self.cuts = 0
        self._refusing = False
        self._open: list[socket.socket] = []
        self._closed = False
        threading.Thread(target=self._serve, daemon=True).start()

    def cut(self, when: Cut) -> None:
        with self._lock:
            self._cut = when

    def refuse(self) -> None:
        with self._lock:
            self._refusing = True
            for sock in self._open:
                _close(sock)
            self._open.clear()

    def accept(self) -> None:
        with self._lock:
            self._refusing = False

    def close(self) -> None:
        self._closed = True
        self.refuse()
        _close(self._listener)

    def _serve(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                refusing = self._refusing
            if refusing:
                _close(client)
                continue
            try:
                server = _connect(self._target)
            except OSError:
                _close(client)
                continue
            with self._lock:
                self._open += [client, server]
            threading.Thread(target=self._pump, args=(client, server, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, False), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, upstream: bool) -> None:
        when: Cut | None = None
        try:
            while data := source.recv(65536):
                when: Cut | None = None
                if upstream and b"COMMIT" in data:
                    with self._lock:
                        when, self._cut = self._cut, None
                if when == "before":
                    break
                sink.sendall(data)
                if when == "after":
                    break
        except OSError:
            pass
        finally:
            if when is not None:
                self.cuts += 1
            _close(source)
            _close(sink)


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()


def _connect(target: str | tuple[str, int]) -> socket.socket:
    if isinstance(target, tuple):
        return socket.create_connection(target)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(target)
    return sock
