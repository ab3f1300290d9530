"""The profiler writes every event as a JSON line (and CSV on request) and summarises them."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from memoryspace import InvalidInput, MemorySpace
from memoryspace.errors import Closed
from memoryspace.profiler import MemoryProfiler
from store_contract import FakeClock


class Ticks:
    """A timer that advances 0.5 s per read, so every duration is exactly 0.5."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        self.now += 0.5
        return self.now


def lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_events_are_json_lines_with_timestamps_durations_and_fields(tmp_path: Path) -> None:
    path, table = tmp_path / "profile.jsonl", tmp_path / "profile.csv"
    with MemoryProfiler(path, csv_path=table, wall=lambda: 123.0) as profiler:
        profiler.record("retrieval", 0.25, hits=3, k=10)
        profiler.record("page_fault", id="m1")
    assert lines(path) == [
        {"ts": 123.0, "event": "retrieval", "duration": 0.25, "hits": 3, "k": 10},
        {"ts": 123.0, "event": "page_fault", "duration": None, "id": "m1"},
    ]
    with open(table, encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["ts", "event", "duration", "fields"]
    assert rows[1][:3] == ["123.0", "retrieval", "0.25"]
    assert json.loads(rows[1][3]) == {"hits": 3, "k": 10}
    assert rows[2][2] == ""
    with pytest.raises(Closed):
        profiler.record("retrieval", 0.1)


def test_summary_counts_and_times_each_event_type(tmp_path: Path) -> None:
    path = tmp_path / "p.jsonl"
    with MemoryProfiler(path) as profiler:
        for duration in (0.1, 0.3):
            profiler.record("retrieval", duration)
        profiler.record("eviction")
        summary = profiler.summary()
    assert summary["retrieval"]["count"] == 2
    assert summary["retrieval"]["total_duration"] == pytest.approx(0.4)
    assert summary["retrieval"]["mean_duration"] == pytest.approx(0.2)
    assert summary["retrieval"]["max_duration"] == pytest.approx(0.3)
    assert summary["eviction"] == {
        "count": 1,
        "total_duration": 0.0,
        "mean_duration": 0.0,
        "max_duration": 0.0,
    }
    assert MemoryProfiler.summarize_file(path) == summary
    with pytest.raises(InvalidInput):
        profiler.record("")
    (tmp_path / "bad.jsonl").write_text("not json\n", encoding="utf-8")
    with pytest.raises(InvalidInput):
        MemoryProfiler.summarize_file(tmp_path / "bad.jsonl")


def test_the_space_records_allocations_retrievals_and_gc(tmp_path: Path) -> None:
    path = tmp_path / "space.jsonl"
    clock = FakeClock(start=1_000.0)
    profiler = MemoryProfiler(path, clock=Ticks())
    with MemorySpace.open(":memory:", embedder="hashing", clock=clock, profiler=profiler) as ms:
        ms.add_many(["the river flooded", "the harbor was calm"])
        ms.search("river", k=5, min_score=0)  # both memories, however weakly they match
        ms.gc("ttl")
        stats = ms.stats()
    profiler.close()
    events = lines(path)
    assert [e["event"] for e in events] == ["allocation", "retrieval", "gc"]
    assert all(e["duration"] == 0.5 and e["ts"] for e in events[:2])
    assert events[0]["count"] == 2 and events[1]["hits"] == 2 and events[1]["k"] == 5
    assert events[2]["collector"] == "ttl" and events[2]["scanned"] == 0  # none expired
    assert stats["profile"]["retrieval"]["count"] == 1


def test_profiling_is_off_by_default() -> None:
    with MemorySpace.open(":memory:", embedder="hashing") as ms:
        ms.add("something")
        ms.search("something")
        assert ms.profiler is None
        assert "profile" not in ms.stats()


def test_the_hot_tier_reports_page_faults_and_evictions(tmp_path: Path) -> None:
    from memoryspace.models import Memory
    from memoryspace.store.sqlite import SQLiteStore
    from memoryspace.tiers import HotTier

    path = tmp_path / "tier.jsonl"
    with SQLiteStore() as store, MemoryProfiler(path) as profiler:
        store.insert([(Memory(id=i, content=f"note {i}"), None) for i in ("a", "b", "c", "d")])
        with HotTier(store, capacity_records=2, on_event=profiler.record) as hot:
            for id in ("a", "b", "c", "c"):
                hot.get(id)
            hot.get_many(["a", "d"])  # one batched read shared by two faults
        summary = profiler.summary()
    assert summary["page_fault"]["count"] == 5
    assert summary["eviction"]["count"] == 3
    events = lines(path)
    assert [e["id"] for e in events if e["event"] == "page_fault"] == ["a", "b", "c", "a", "d"]
    # every fault and eviction is timed: its store read, its promotion, its write-back
    assert all(isinstance(e["duration"], float) and e["duration"] > 0 for e in events)
