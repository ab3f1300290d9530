"""A writer for the crash test: adds memories and prints each acknowledged id, until killed."""

from __future__ import annotations

import random
import sys

from memoryspace import HashingEmbedder, MemorySpace, Settings

path, seed = sys.argv[1], int(sys.argv[2])
rng = random.Random(seed)
# Save the vector index often, so some kills land in the middle of a save.
settings = Settings(index_save_every=25)
with MemorySpace.open(path, embedder=HashingEmbedder(), settings=settings) as ms:
    serial = 0
    while True:
        batch = [
            {"id": f"s{seed}n{serial + i}", "content": f"token{seed}x{serial + i} cycle {seed}"}
            for i in range(rng.choice([1, 1, 1, 5, 20]))
        ]
        ms.add_many(batch)
        serial += len(batch)
        sys.stdout.write("".join(item["id"] + "\n" for item in batch))
        sys.stdout.flush()
        if rng.random() < 0.1:
            victim = rng.choice(batch)["id"]
            # Said before the update: a kill after its commit and before "updated" leaves the
            # new content stored but unacknowledged, so the test must not expect the old one.
            sys.stdout.write(f"updating {victim}\n")
            sys.stdout.flush()
            ms.update(victim, content=f"updated {victim}")
            sys.stdout.write(f"updated {victim}\n")
            sys.stdout.flush()
