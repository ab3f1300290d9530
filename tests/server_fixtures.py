"""A real MemorySpace served by uvicorn on 127.0.0.1 (a free port, a background thread)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from memoryspace import MemorySpace
from memoryspace.server import ServerThread


@contextmanager
def served(db: Path) -> Iterator[tuple[MemorySpace, str]]:
    """The space at ``db`` and the URL of a server over it; both closed on exit."""
    with MemorySpace.open(db, embedder="hashing") as space, ServerThread(space) as server:
        yield space, server.url
