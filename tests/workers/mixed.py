"""A worker for the multi-process test: interleaves adds and searches on one shared file."""

from __future__ import annotations

import sys

from memoryspace import HashingEmbedder, MemorySpace

path, worker, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
with MemorySpace.open(path, embedder=HashingEmbedder()) as ms:
    for n in range(count):
        ms.add(f"worker{worker} note{n} about topic{n % 7}", id=f"w{worker}n{n}", user=f"u{worker}")
        if n % 5 == 0:
            hits = ms.search(f"topic{n % 7}", k=5)
            assert hits, "a search over a non-empty space found nothing"
        if n % 20 == 0:
            ms.get(f"w{worker}n{n}")
print("ok")
