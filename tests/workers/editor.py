"""An editor for the race tests: edits records and prints each acknowledged edit as JSON.

    editor.py DB own WORKER SECONDS        edits (and adds) records only it owns
    editor.py DB fields FIELD[,FIELD] SECONDS
                                           one thread per field edits that field of the shared
                                           records s0..s9 on one MemorySpace object

A line is printed only after the call returned, so every printed edit was acknowledged.
"""

from __future__ import annotations

import json
import random
import sys
import threading
import time
from typing import Any

from memoryspace import HashingEmbedder, MemorySpace

path, mode, who, seconds = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
# Each loop edits for SECONDS and at least this many times, so the tests' "enough to race"
# checks (over 100 edits in all) hold however loaded the machine is.
OWN_EDITS, FIELD_EDITS = 60, 20
print_lock = threading.Lock()


def acknowledge(id: str, field: str, value: Any) -> None:
    with print_lock:
        sys.stdout.write(json.dumps({"id": id, "field": field, "value": value}) + "\n")
        sys.stdout.flush()


def value_for(field: str, rng: random.Random, n: int, tag: str) -> Any:
    if field == "content":
        return f"{tag} edit {n} " + " ".join(rng.choice("abcdefgh") * 3 for _ in range(4))
    if field == "importance":
        return round(rng.random(), 6)
    if field == "tags":
        return [f"{tag}-t{n}"]
    if field == "pinned":
        return rng.random() < 0.5
    if field == "valid_to":
        return float(2_000_000_000 + n)
    if field == "meta":
        return {"editor": tag, "n": n}
    raise SystemExit(f"unknown field {field}")


def edit_own(ms: MemorySpace, worker: str) -> None:
    rng = random.Random(worker)
    owned: list[str] = []
    deadline, n = time.monotonic() + seconds, 0
    while time.monotonic() < deadline or n < OWN_EDITS:
        n += 1
        if not owned or rng.random() < 0.15:
            id = f"{worker}-r{len(owned)}"
            ms.add(f"{worker} record {len(owned)} starts", id=id)
            owned.append(id)
            acknowledge(id, "content", f"{worker} record {len(owned) - 1} starts")
            continue
        id = rng.choice(owned)
        field = rng.choice(["content", "content", "pinned", "tags", "importance"])
        value = value_for(field, rng, n, worker)
        ms.update(id, **{field: value})
        acknowledge(id, field, value)


def edit_field(ms: MemorySpace, field: str) -> None:
    rng = random.Random(field)
    deadline, n = time.monotonic() + seconds, 0
    while time.monotonic() < deadline or n < FIELD_EDITS:
        n += 1
        id = f"s{rng.randrange(10)}"
        value = value_for(field, rng, n, field)
        ms.update(id, **{field: value})
        acknowledge(id, field, value)


with MemorySpace.open(path, embedder=HashingEmbedder()) as ms:
    print("ready", flush=True)
    if mode == "own":
        edit_own(ms, who)
    else:
        failures: list[BaseException] = []

        def run(field: str) -> None:
            try:
                edit_field(ms, field)
            except BaseException as exc:  # a thread's failure must fail the process
                failures.append(exc)
                raise

        threads = [threading.Thread(target=run, args=(f,)) for f in who.split(",")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if failures:
            raise SystemExit(f"an editor thread failed: {failures[0]!r}")
