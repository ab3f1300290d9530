"""A collector for the race tests: runs every collector in turn on DB for SECONDS.

    collector.py DB SECONDS

Collected records are archived (turns are compacted into summaries, their sources archived),
never deleted, so every edit an editor acknowledged stays checkable. Prints one line per
collection: its collector, how many it collected and how many it skipped.
"""

from __future__ import annotations

import itertools
import sys
import time

from memoryspace import HashingEmbedder, MemorySpace
from memoryspace.gc import ActionPolicy
from memoryspace.models import Kind

path, seconds = sys.argv[1], float(sys.argv[2])
runs = [
    ("generational", {"young_age": 0, "cold_after": 0, "importance_threshold": 0.8}),
    ("generational", {"young_age": 0, "cold_after": 0, "major": True}),
    ("mark_sweep", {"cold_after": 0, "importance_threshold": 0.8}),
    ("ttl", {"idle_after": 0}),
]
policy = ActionPolicy(by_kind={Kind.TURN: "compact"}, default="archive")
with MemorySpace.open(path, embedder=HashingEmbedder()) as ms:
    print("ready", flush=True)
    deadline = time.monotonic() + seconds
    for name, options in itertools.cycle(runs):
        if time.monotonic() > deadline:
            break
        event = ms.gc(name, policy=policy, **options)
        print(name, event.collected, event.skipped, flush=True)
