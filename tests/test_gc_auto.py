"""Automatic garbage collection: ``Settings(gc_trigger=...)`` makes the space collect as it
writes, under an injected clock."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from memoryspace import InvalidInput, MemorySpace, Settings
from memoryspace.context import ContextWindow
from memoryspace.gc import EpsilonGreedyBandit, GCEvent, GrowthTrigger, HeapStats, PeriodicTrigger
from memoryspace.gc.auto import AutoCollector
from store_contract import FakeClock

HOUR = 3600.0


def open_space(clock: FakeClock, path: str | Path = ":memory:", **settings: object) -> MemorySpace:
    return MemorySpace.open(path, embedder="hashing", clock=clock, settings=Settings(**settings))  # type: ignore[arg-type]


def add_notes(ms: MemorySpace, n: int, start: int = 0) -> None:
    for i in range(start, start + n):
        ms.add(f"note number {i} about topic {i % 7}", kind="note", importance=0.1)


def test_no_trigger_means_no_automatic_collection() -> None:
    clock = FakeClock(start=1_000_000.0)
    with open_space(clock) as ms:
        add_notes(ms, 200)
        assert ms.auto_gc is None
        assert ms.stats()["gc"]["events"] == 0
        assert "auto_gc" not in ms.stats()


def test_a_periodic_trigger_collects_on_the_first_look_after_its_period() -> None:
    clock = FakeClock(start=1_000_000.0)
    with open_space(
        clock, gc_trigger="periodic", gc_every_seconds=HOUR, gc_check_every=10, gc_collector="ttl"
    ) as ms:
        ms.add("expires soon", kind="note", ttl=60)
        add_notes(ms, 9)  # 10 added: the first look sets the period's start
        looked = {"trigger": "periodic", "checks": 1, "runs": 0, "failures": 0}
        assert ms.stats()["auto_gc"] == looked
        clock.advance(HOUR)
        add_notes(ms, 9, start=9)  # 9 more: no look yet
        assert ms.stats()["gc"]["events"] == 0
        ms.add("the tenth")  # this add pays for the collection
        stats = ms.stats()
        assert stats["auto_gc"]["runs"] == 1
        assert stats["gc"]["events"] == 1 and stats["gc"]["collected"] == 1
        assert ms.count() == 19  # the expired note was deleted by the TTL collector


def test_a_growth_trigger_keeps_the_live_set_bounded_by_collecting() -> None:
    clock = FakeClock(start=1_000_000.0)
    with open_space(
        clock,
        gc_trigger="growth",
        gc_growth_factor=2.0,
        gc_check_every=20,
        gc_collector="generational",
    ) as ms:
        sizes = []
        for round_ in range(10):
            add_notes(ms, 20, start=20 * round_)
            clock.advance(2 * HOUR)  # the notes outlive young_age (1 h) unread and unimportant
            sizes.append(ms.count())
        stats = ms.stats()
    assert stats["auto_gc"]["runs"] >= 3
    assert max(sizes) < 200 * 0.5  # without collection the space would hold all 200
    assert stats["gc"]["collected"] == 200 - sizes[-1]


def test_a_collection_made_automatically_is_logged_and_undone_by_a_restore() -> None:
    clock = FakeClock(start=1_000_000.0)
    with open_space(clock, gc_trigger="growth", gc_check_every=8) as ms:
        add_notes(ms, 8)  # the first look sets the growth baseline
        clock.advance(2 * HOUR)
        add_notes(ms, 8, start=8)  # 16 live >= 2 × 8: collect
        event = ms.auto_gc.last_event if ms.auto_gc is not None else None
        assert isinstance(event, GCEvent) and event.collected > 0
        assert {c.actor for c in ms.changes(event.lsn_before)} == {"gc:generational"}
        ms.restore(None, to_lsn=event.lsn_before)
        assert ms.count() == 16


def test_the_fragmentation_trigger_reads_the_context_windows() -> None:
    clock = FakeClock(start=1_000_000.0)
    with open_space(
        clock, gc_trigger="fragmentation", gc_fragmentation=0.1, gc_check_every=1
    ) as ms:
        assert ms.auto_gc is not None
        ms.add("no window yet, so nothing is fragmented")
        assert ms.stats()["auto_gc"]["checks"] == 1 and ms.stats()["gc"]["events"] == 0
        window = ContextWindow(100)
        placed = [ms.add(f"record {i}") for i in range(6)]
        for memory, size in zip(placed, (20, 5, 20, 5, 20, 30), strict=True):
            window.place(memory, size=size)
        ms._windows[("u", None, None)] = window  # what context() keeps per scope
        ms.add("a full window is not fragmented")
        assert ms.stats()["gc"]["events"] == 0
        window.free(placed[1].id)
        window.free(placed[3].id)  # two 5-token holes, below the median record (20): 0.10
        ms.add("now the heap is fragmented")
        assert ms.stats()["gc"]["events"] == 1
        assert ms.stats()["auto_gc"]["runs"] == 1


def test_the_bandit_learns_from_each_automatic_collection() -> None:
    clock = FakeClock(start=1_000_000.0)
    with open_space(clock, gc_trigger="bandit", gc_check_every=5, hot_tier_records=16) as ms:
        assert ms.auto_gc is not None
        bandit = ms.auto_gc.trigger
        assert isinstance(bandit, EpsilonGreedyBandit)
        assert [t.name for t in bandit.triggers] == ["periodic", "growth", "fragmentation"]
        for round_ in range(12):
            add_notes(ms, 5, start=5 * round_)
            ms.search("topic 3")
            clock.advance(2 * HOUR)  # every look is past the periodic trigger's hour
        stats = ms.stats()["auto_gc"]
    assert stats["runs"] == sum(bandit.pulls) > 0
    assert stats["preferred"] in {"periodic", "growth", "fragmentation"}


def test_a_failed_automatic_collection_keeps_the_write_and_is_counted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = FakeClock(start=1_000_000.0)
    with open_space(clock, gc_trigger="periodic", gc_every_seconds=1.0, gc_check_every=1) as ms:
        assert ms.auto_gc is not None
        ms.add("first look")
        clock.advance(5)

        def broken() -> GCEvent:
            raise RuntimeError("disk on fire")

        ms.auto_gc._collect = broken
        with caplog.at_level(logging.ERROR, logger="memoryspace"):
            kept = ms.add("this write must survive")
        assert ms.get(kept.id).content == "this write must survive"
        assert ms.stats()["auto_gc"]["failures"] == 1
        assert "automatic garbage collection failed" in caplog.text


def test_bad_trigger_settings_are_refused_at_open() -> None:
    clock = FakeClock(start=1_000_000.0)
    with pytest.raises(InvalidInput, match="unknown gc_trigger"):
        open_space(clock, gc_trigger="sometimes")
    with pytest.raises(InvalidInput, match="factor must be above 1"):
        open_space(clock, gc_trigger="growth", gc_growth_factor=1.0)
    with pytest.raises(InvalidInput, match="gc_check_every"):
        open_space(clock, gc_trigger="growth", gc_check_every=0)


def test_read_only_views_never_collect(tmp_path: Path) -> None:
    clock = FakeClock(start=1_000_000.0)
    with open_space(clock, tmp_path / "m.db", gc_trigger="growth") as ms:
        add_notes(ms, 3)
        past = ms.as_of(ms.lsn)
        assert past.auto_gc is None
        past.close()


def test_the_collector_looks_once_per_check_interval() -> None:
    clock = FakeClock(start=0.0)
    looks: list[HeapStats] = []

    class Recording(PeriodicTrigger):
        def should_collect(self, now: float, stats: HeapStats) -> bool:
            looks.append(stats)
            return False

    live = iter(range(100, 1000, 100))
    auto = AutoCollector(
        Recording(60.0),
        collect=lambda: pytest.fail("nothing should be collected"),
        live=lambda: next(live),
        fragmentation=lambda: 0.25,
        lookups=lambda: (3, 4),
        clock=clock,
        check_every=10,
    )
    for _ in range(25):
        auto.wrote(1)
    auto.wrote(15)  # 5 pending + 15 = 20: one look, the rest is not carried over
    assert [s.live for s in looks] == [100, 200, 300]
    assert {s.fragmentation for s in looks} == {0.25}
    assert {s.hit_rate for s in looks} == {0.0}  # no lookups since the start


def test_growth_trigger_baseline_resets_after_each_automatic_collection() -> None:
    clock = FakeClock(start=0.0)
    sizes = iter([10, 25, 12, 20, 24])
    events: list[GCEvent] = []

    def collect() -> GCEvent:
        event = GCEvent("test", clock(), 0.001, scanned=20, collected=13, promoted=0, compacted=0)
        events.append(event)
        return event

    auto = AutoCollector(
        GrowthTrigger(2.0),
        collect=collect,
        live=lambda: next(sizes),
        fragmentation=lambda: 0.0,
        lookups=lambda: (0, 0),
        clock=clock,
        check_every=1,
    )
    results = [auto.wrote(1) for _ in range(3)]
    # look 1: baseline 10; look 2: 25 >= 20 collects, then the baseline is 12 (after);
    # look 3: 20 < 24: no collection
    assert [r is not None for r in results] == [False, True, False]
    assert len(events) == 1 and auto.counters == {"checks": 3, "runs": 1, "failures": 0}
