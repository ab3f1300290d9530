"""The keys a filter selects, remembered between searches (``memoryspace.store.filterkeys``):
always the keys the SQL selects at the time of the call, also after time passes and after
another process writes."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from memoryspace import MemorySpace
from memoryspace.embed.hashing import HashingEmbedder
from memoryspace.models import Filter
from memoryspace.store.codec import where_clause


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def selected(db: Path, flt: Filter, now: float) -> list[int]:
    """What the SQL alone selects, through a fresh handle that remembers nothing."""
    with MemorySpace.open(db, embedder=HashingEmbedder()) as fresh:
        where, params = where_clause(flt, now)
        with fresh.store._db.reading() as conn:  # type: ignore[attr-defined]
            rows = conn.execute(f"SELECT m.key FROM memories m WHERE {where}", params)
            return [int(row[0]) for row in rows]


@pytest.mark.parametrize(
    "flt",
    [
        Filter(user="alice", include_closed=False),
        Filter(user="alice"),
        Filter(user="alice", include_expired=True, include_closed=False),
        Filter(kinds=("fact",), include_closed=False),
    ],
)
def test_remembered_keys_follow_the_clock(tmp_path: Path, flt: Filter) -> None:
    db, clock = tmp_path / "m.db", Clock()
    with MemorySpace.open(db, embedder=HashingEmbedder(), clock=clock) as ms:
        ms.add("the kettle is in the shed", user="alice", ttl=60)
        ms.add("the bike is blue", user="alice", kind="fact", valid_to=clock.now + 120)
        ms.add("the door is red", user="alice", kind="fact")
        ms.add("the car is green", user="bob", kind="fact")
        store = ms.store
        for step in (0, 30, 90, 150):
            now = clock.now + step
            got = store.filter_keys(flt, now=now)
            assert got.dtype == np.int64
            assert got.tolist() == selected(db, flt, now), step
        assert store.filter_index.hits == 3  # remembered once, answered at four times


def test_remembered_keys_follow_another_process_writes(tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    flt = Filter(user="alice", include_closed=False)
    with MemorySpace.open(db, embedder=HashingEmbedder()) as ms:
        kept = ms.add("the kettle is in the shed", user="alice")
        now = time.time() + 1
        first = ms.store.filter_keys(flt, now=now).tolist()
        assert ms.store.filter_keys(flt, now=now).tolist() == first
        assert ms.store.filter_index.hits == 1
        writer = (  # another process adds a memory and closes the first one
            "import sys\n"
            "from memoryspace import MemorySpace\n"
            "from memoryspace.embed.hashing import HashingEmbedder\n"
            "with MemorySpace.open(sys.argv[1], embedder=HashingEmbedder()) as other:\n"
            "    print(other.add('the bike is blue', user='alice').id)\n"
            "    other.update(sys.argv[2], valid_to=float(sys.argv[3]))\n"
        )
        late = subprocess.run(
            [sys.executable, "-c", writer, str(db), kept.id, str(now - 1)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        after = ms.store.filter_keys(flt, now=now).tolist()
        assert after == [ms.store.key_of(late)] == selected(db, flt, now)
        # the search sees the new memory at once, in the dense part too
        hits = ms.search("bike", user="alice", min_score=0)
        assert [hit.memory.id for hit in hits] == [late]


def test_keys_read_inside_a_write_transaction_are_not_remembered(tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    flt = Filter(user="alice")
    with MemorySpace.open(db, embedder=HashingEmbedder()) as ms:
        ms.add("the kettle is in the shed", user="alice")
        now = time.time() + 1
        with pytest.raises(RuntimeError), ms.store.transaction():
            ms.add("the bike is blue", user="alice")
            assert len(ms.store.filter_keys(flt, now=now)) == 2
            raise RuntimeError("roll back")
        ms.add("the door is red", user="bob")  # takes the rolled-back sequence number
        assert ms.store.filter_keys(flt, now=now).tolist() == selected(db, flt, now)
