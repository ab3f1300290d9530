"""Use a database this process can read but not write, the way a user would.

Usage: read_only_probe.py DB. Prints one JSON line: the count and search hits read, whether
the database had to be opened immutable (no -shm possible), the error
type and message an ``add`` raised, and the error (if any) ``close`` raised.
"""

from __future__ import annotations

import json
import sys

from memoryspace import MemorySpace, MemorySpaceError


def main(path: str) -> None:
    out: dict[str, object] = {}
    ms = MemorySpace.open(path, embedder="hashing", create=False)
    out["count"] = ms.count()
    out["immutable"] = ms.store.connections.immutable
    out["hits"] = [hit.memory.content for hit in ms.search("greyhound", k=1)]
    try:
        ms.add("this must not be stored")
    except MemorySpaceError as exc:
        out["add_error"], out["add_message"] = type(exc).__name__, str(exc)
    try:
        ms.close()
        out["close_error"] = None
    except MemorySpaceError as exc:
        out["close_error"] = f"{type(exc).__name__}: {exc}"
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
