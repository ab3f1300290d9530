"""The REST server: a FastAPI app over one ``MemorySpace`` with API keys per namespace, a change
feed and Prometheus metrics (``memoryspace serve``). Needs the ``server`` extra. Every route
runs through ``memoryspace.access.ScopedMemory`` with the ``Access`` its API key grants."""

from memoryspace.access import Access
from memoryspace.server.app import create_app, mount_app
from memoryspace.server.keys import ApiKey, KeyRing
from memoryspace.server.run import ServerThread, serve

__all__ = ["Access", "ApiKey", "KeyRing", "ServerThread", "create_app", "mount_app", "serve"]
