"""Remote clients of a ``memoryspace serve`` server, with the facade's method names and types:
``MemoryClient`` (blocking) and ``AsyncMemoryClient`` (asyncio), over httpx."""

from memoryspace.client.aio import AsyncMemoryClient
from memoryspace.client.sync import MemoryClient

__all__ = ["AsyncMemoryClient", "MemoryClient"]
