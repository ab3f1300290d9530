"""The parts ``MemorySpace`` (``memoryspace.space``) is assembled from, one concern each:
``writes``, ``reads``, ``history``, ``maintenance`` and ``structures``, over the shared
``state``. Users import ``MemorySpace``; nothing here is used on its own."""
