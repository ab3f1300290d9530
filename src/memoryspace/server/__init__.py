"""The REST server: a FastAPI app over one ``MemorySpace`` with API keys per namespace, a change
feed and Prometheus metrics (``memoryspace serve``). Needs the ``server`` extra. Every route
runs through ``memoryspace.access.ScopedMemory`` with the ``Access`` its API key grants.

The names below are imported on first use, so ``memoryspace.server.keys`` (API keys: storage
and checks only) works without the extra, and ``memoryspace keys`` can run anywhere."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from memoryspace.access import Access

if TYPE_CHECKING:
    from memoryspace.server.app import create_app, mount_app
    from memoryspace.server.keys import ApiKey, KeyRing
    from memoryspace.server.run import ServerThread, serve

_HOMES = {
    "create_app": "memoryspace.server.app",
    "mount_app": "memoryspace.server.app",
    "ApiKey": "memoryspace.server.keys",
    "KeyRing": "memoryspace.server.keys",
    "ServerThread": "memoryspace.server.run",
    "serve": "memoryspace.server.run",
}

__all__ = ["Access", "ApiKey", "KeyRing", "ServerThread", "create_app", "mount_app", "serve"]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'memoryspace.server' has no attribute {name!r}")
    return getattr(importlib.import_module(home), name)
