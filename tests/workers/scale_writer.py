"""A writer for the PostgreSQL scale test: adds ``count`` memories (batches of 1 to 3) and an
update now and then, directly (a database URL) or through a ``memoryspace serve`` (an
``http://`` URL), printing each acknowledged id (and ``updated ID``), then ``done``."""

from __future__ import annotations

import random
import sys
from typing import Any

from memoryspace import HashingEmbedder, MemorySpace
from memoryspace.client import MemoryClient

target, seed, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = random.Random(seed)
space: Any = (
    MemoryClient(target)
    if target.startswith("http")
    else MemorySpace.open(target, embedder=HashingEmbedder())
)
with space:
    written = 0
    while written < count:
        batch = [
            {"id": f"w{seed}n{written + i}", "content": f"writer {seed} note {written + i}",
             "user": f"u{seed % 3}"}
            for i in range(min(rng.choice([1, 2, 3]), count - written))
        ]  # fmt: skip
        space.add_many(batch)
        written += len(batch)
        sys.stdout.write("".join(item["id"] + "\n" for item in batch))
        sys.stdout.flush()
        if rng.random() < 0.2:
            victim = rng.choice(batch)["id"]
            space.update(victim, content=f"updated {victim}")
            sys.stdout.write(f"updated {victim}\n")
            sys.stdout.flush()
print("done", flush=True)
