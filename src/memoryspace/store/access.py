"""``AccessCounts``: accesses counted in RAM and written in batches (like ``atime``).

Every store counts a use of a record (a search hit, ``record_use``) without logging it: the
counts wait here until ``take`` hands them to the store's one batched write, and reads add the
waiting counts to what the database holds, so a caller always sees its own uses.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

from memoryspace.models import Memory


class AccessCounts:
    """Pending access counts by record key; thread-safe."""

    def __init__(self, flush_every: int) -> None:
        self.flush_every = flush_every
        self._pending: dict[int, tuple[int, float]] = {}  # key -> (count, last access)
        self._lock = threading.Lock()

    def add(self, keys: Sequence[int], when: float) -> bool:
        """Count one access to each key at ``when``; True when the batch is due for writing."""
        with self._lock:
            for key in keys:
                count, last = self._pending.get(key, (0, when))
                self._pending[key] = (count + 1, max(last, when))
            return len(self._pending) >= self.flush_every

    def take(self) -> dict[int, tuple[int, float]]:
        """Every pending count, emptying the buffer (the caller writes them)."""
        with self._lock:
            pending, self._pending = self._pending, {}
        return pending

    def apply(self, key: int, memory: Memory) -> Memory:
        """``memory`` (as stored under ``key``) with its pending accesses added."""
        pending = self._pending.get(key)
        if pending is None:
            return memory
        return memory.evolve(
            access_count=memory.access_count + pending[0],
            last_access=max(memory.last_access or 0.0, pending[1]),
        )
