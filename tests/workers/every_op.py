"""A worker for the crash test of every operation: runs a random mix until killed.

    every_op.py DB SEED

Operations: add, content edit, write-back importance edits then flush, delete, gc, checkpoint,
restore. After each one returns it prints an acknowledgement with the LSN it reached:

    add LSN ID CONTENT_JSON | edit LSN ID FIELD VALUE_JSON | delete LSN ID | gc LSN
    checkpoint LSN NAME | restore LSN TO_LSN
"""

from __future__ import annotations

import json
import random
import sys

from memoryspace import HashingEmbedder, MemorySpace, Settings
from memoryspace.errors import NotFound
from memoryspace.gc import ActionPolicy
from memoryspace.models import Kind

path, seed = sys.argv[1], int(sys.argv[2])
rng = random.Random(seed)
settings = Settings(index_save_every=25, hot_tier_records=16, hot_tier_write_policy="write_back")
policy = ActionPolicy(by_kind={Kind.TURN: "compact"}, default="archive")
collectors = [
    ("generational", {"young_age": 0, "cold_after": 0}),
    ("mark_sweep", {"cold_after": 0, "importance_threshold": 0.6}),
    ("generational", {"young_age": 0, "cold_after": 0, "major": True}),
]


def ack(*parts: object) -> None:
    sys.stdout.write(" ".join(str(p) for p in parts) + "\n")
    sys.stdout.flush()


with MemorySpace.open(path, embedder=HashingEmbedder(), settings=settings) as ms:
    # its own records (GC's summaries are not tracked by the test)
    ids = [m.id for m in ms.scan(include_archived=True, include_expired=True) if m.id[0] == "c"]
    ack("ready", ms.lsn)
    serial = 0
    while True:
        serial += 1
        op = rng.choices(
            ["add", "edit", "flush", "delete", "gc", "checkpoint", "restore"],
            weights=[6, 4, 3, 1, 2, 2, 1],
        )[0]
        try:
            if op == "add" or not ids:
                batch = [
                    {"id": f"c{seed}n{serial}x{i}", "content": f"cycle {seed} note {serial} {i}"}
                    for i in range(rng.choice([1, 1, 3, 8]))
                ]
                ms.add_many(batch)
                ids.extend(item["id"] for item in batch)
                for item in batch:
                    ack("add", ms.lsn, item["id"], json.dumps(item["content"]))
            elif op == "edit":
                id = rng.choice(ids)
                content = f"edited {id} at {seed}/{serial}"
                ms.update(id, content=content)
                ack("edit", ms.lsn, id, "content", json.dumps(content))
            elif op == "flush":  # dirty in the write-back tier until the flush returns
                values = {}
                for id in rng.sample(ids, min(3, len(ids))):
                    value = round(rng.random(), 6)
                    try:
                        ms.update(id, importance=value)
                    except NotFound:
                        continue
                    values[id] = value
                ms.flush()
                for id, value in values.items():
                    ack("edit", ms.lsn, id, "importance", json.dumps(value))
            elif op == "delete":
                id = rng.choice(ids)
                ms.delete(id)
                ack("delete", ms.lsn, id)
            elif op == "gc":
                name, options = rng.choice(collectors)
                ms.gc(name, policy=policy, **options)
                ack("gc", ms.lsn)
            elif op == "checkpoint":
                checkpoint = ms.checkpoint(f"cp{rng.randrange(3)}", overwrite=True)
                ack("checkpoint", ms.lsn, checkpoint.name)
            else:
                points = ms.checkpoints()
                if points:
                    point = rng.choice(points)
                    ms.restore(point.name)
                    ack("restore", ms.lsn, point.lsn)
        except NotFound:
            continue  # a record deleted (or restored away) earlier: pick another next time
