"""A bounded memory: ``gc("bounded", max_records=N)``, ``Settings(max_records=N)``, and TTL
collections that find expired records through the expiry index."""

from __future__ import annotations

from pathlib import Path

import pytest

from memoryspace import HashingEmbedder, MemorySpace, Settings
from memoryspace.errors import InvalidInput
from memoryspace.gc import BoundedCollector, TTLCollector
from memoryspace.models import Memory, parse_kind
from store_contract import FakeClock


def note(id: str, at: float, **fields: object) -> Memory:
    fields["kind"] = parse_kind(fields.get("kind", "fact"))
    return Memory(id=id, content=f"note {id}", created_at=at, updated_at=at, **fields)  # type: ignore[arg-type]


def test_the_least_recently_used_go_first_and_locked_pages_stay() -> None:
    memories = [
        note("old-but-read", 1.0, last_access=90.0),
        note("oldest", 2.0),
        note("pinned", 0.5, pinned=True),
        note("middle", 50.0),
        note("newest", 80.0),
        note("persona", 0.1, kind="persona"),  # a root
    ]
    plan = BoundedCollector(max_records=4).plan(memories, now=100.0)
    assert [m.id for m in plan.collect] == ["oldest", "middle"]
    assert BoundedCollector(max_records=6).plan(memories, now=100.0).collect == ()


def test_a_bound_per_user_bounds_each_user() -> None:
    memories = [note(f"{u}{i}", float(i), user=u) for u in ("ana", "bo") for i in range(5)]
    plan = BoundedCollector(max_records=3, per="user").plan(memories, now=10.0)
    assert sorted(m.id for m in plan.collect) == ["ana0", "ana1", "bo0", "bo1"]


def test_idle_records_go_even_under_the_bound() -> None:
    memories = [note("idle", 0.0), note("fresh", 95.0)]
    plan = BoundedCollector(max_records=10, idle_after=50.0).plan(memories, now=100.0)
    assert [m.id for m in plan.collect] == ["idle"]


@pytest.mark.parametrize(
    "options",
    [
        {"max_records": 0},
        {"max_records": "10"},
        {"max_records": 5, "target": 6},
        {"max_records": 5, "idle_after": -1},
        {"max_records": 5, "per": "galaxy"},
    ],
)
def test_bad_options_are_refused(options: dict[str, object]) -> None:
    with pytest.raises(InvalidInput):
        BoundedCollector(**options)  # type: ignore[arg-type]


def test_settings_max_records_keeps_a_space_bounded(tmp_path: Path) -> None:
    clock = FakeClock(step=1.0)
    settings = Settings(max_records=16)
    with MemorySpace.open(
        tmp_path / "b.db", embedder=HashingEmbedder(), settings=settings, clock=clock
    ) as ms:
        keep = ms.add("the door code is 4711", kind="fact", pinned=True)
        used = ms.add("the wifi password is tangerine", kind="fact")
        for n in range(60):
            ms.add(f"passing remark number {n}", kind="fact")
            if n % 10 == 0:
                assert ms.search("wifi password", k=1)[0].memory.id == used.id  # a use
        assert ms.count() <= 16
        assert ms.get(keep.id).archived is False and ms.get(used.id).archived is False
        archived = ms.count(include_archived=True) - ms.count()
        assert archived >= 60 + 2 - 16


def test_gc_bounded_from_the_facade(tmp_path: Path) -> None:
    clock = FakeClock(step=1.0)
    with MemorySpace.open(tmp_path / "b.db", embedder=HashingEmbedder(), clock=clock) as ms:
        ids = [ms.add(f"fact {n}", kind="fact").id for n in range(10)]
        event = ms.gc("bounded", max_records=4)
        assert (event.collected, ms.count()) == (6, 4)
        assert {m.id for m in ms.scan()} == set(ids[-4:])
        with pytest.raises(InvalidInput):
            ms.gc("bounded", max_records=-3)


def test_a_ttl_collection_reads_only_expired_records_in_bounded_batches(tmp_path: Path) -> None:
    clock = FakeClock()
    with MemorySpace.open(tmp_path / "t.db", embedder=HashingEmbedder(), clock=clock) as ms:
        ms.add_many([{"content": f"lasting {n}"} for n in range(50)])
        ms.add_many([{"content": f"brief {n}", "ttl": 10} for n in range(7)])
        clock.advance(60)
        first = ms.gc(TTLCollector(batch=5))
        assert (first.scanned, first.collected) == (5, 5)  # never the 50 live ones
        second = ms.gc("ttl")
        assert (second.scanned, second.collected) == (2, 2)
        assert ms.count(include_expired=True) == 50 + 2  # each batch compacted into a summary


@pytest.mark.parametrize("collector", ["mark_sweep", "generational", "bounded"])
def test_a_collection_plans_without_reading_the_heaps_contents(
    tmp_path: Path, collector: str
) -> None:
    """Planning reads the narrow heap view; only the records a plan acts on are read whole."""
    clock = FakeClock()
    with MemorySpace.open(tmp_path / "h.db", embedder=HashingEmbedder(), clock=clock) as ms:
        ms.add_many([{"content": f"remark {n}", "session": "old"} for n in range(40)])
        clock.advance(3 * 86_400)
        ms.add_many([{"content": f"fresh {n}", "session": "new"} for n in range(20)])
        options = {"max_records": 50} if collector == "bounded" else {}
        before = ms.stats()["store"]["rows_read"]
        event = ms.gc(collector, **options)
        read = ms.stats()["store"]["rows_read"] - before
        assert event.scanned == 60 and event.collected >= 10
        acted = event.collected + event.promoted
        # each record acted on is read whole once to build the edits and once more inside the
        # transaction to re-validate it; none of the records the plan only looked at
        assert 0 < acted < 60 and read == 2 * acted
        assert ms.count() == 60 - event.collected + event.compacted  # a summary per compaction
