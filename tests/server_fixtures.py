"""A real MemorySpace served by uvicorn on 127.0.0.1 (a free port, a background thread), with
the loopback helper every test server uses."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from starlette.types import ASGIApp

from loopback import serve_asgi
from memoryspace import MemorySpace
from memoryspace.server import create_app


@contextmanager
def serve_space(space: MemorySpace, mounts: Mapping[str, ASGIApp] | None = None) -> Iterator[str]:
    """The REST app over ``space`` (with ``mounts``) on a loopback port; yields its URL."""
    with serve_asgi(create_app(space, mounts=mounts)) as url:
        yield url


@contextmanager
def served(db: Path) -> Iterator[tuple[MemorySpace, str]]:
    """The space at ``db`` and the URL of a server over it; both closed on exit."""
    with MemorySpace.open(db, embedder="hashing") as space, serve_space(space) as url:
        yield space, url
