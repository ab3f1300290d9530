"""Write into a database under a file-size limit (RLIMIT_FSIZE) until a write fails, then lift
the limit (the "space is freed") and write again.

Usage: fill_until_limit.py DB LIMIT_BYTES. Prints one JSON line: the error's type and message,
the ids acknowledged before and after the error, and the count read while the limit held.
"""

from __future__ import annotations

import json
import resource
import signal
import sys

from memoryspace import MemorySpace, MemorySpaceError


def main(path: str, limit: int) -> None:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes past the limit fail with EFBIG instead
    _, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    ms = MemorySpace.open(path, embedder="hashing")
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))
    acknowledged: list[str] = []
    error: MemorySpaceError | None = None
    for batch in range(10_000):
        items = [f"record {batch}-{i} " + "lorem ipsum dolor sit amet " * 30 for i in range(10)]
        try:
            acknowledged += [memory.id for memory in ms.add_many(items)]
        except MemorySpaceError as exc:
            error = exc
            break
    assert error is not None, "the limit was never reached"
    readable = ms.count()
    resource.setrlimit(resource.RLIMIT_FSIZE, (hard, hard))
    after = [memory.id for memory in ms.add_many([f"after the limit {i}" for i in range(20)])]
    ms.close()
    print(
        json.dumps(
            {
                "error": type(error).__name__,
                "message": str(error),
                "acknowledged": acknowledged,
                "readable_while_full": readable,
                "after": after,
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
