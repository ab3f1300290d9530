"""The facade with a hot tier (L2): page faults and hits, capacity, write policies, coherence."""

from __future__ import annotations

import json
import sqlite3
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from memoryspace import (
    HashingEmbedder,
    InvalidInput,
    MemoryProfiler,
    MemorySpace,
    NotFound,
    Settings,
)
from store_contract import FakeClock
from subprocesses import first_line_then_sigkill

FACTS = [
    "Maren adopted a retired greyhound named Biscuit",
    "Tobi is learning the cello with a teacher called Ilse",
    "Maren moved to the Saltmarsh neighbourhood in April",
    "Tobi is allergic to hazelnuts",
    "The wedding was moved because the barn flooded",
]


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "m.db"


def open_space(
    path: Path,
    records: int = 3,
    write_policy: str = "write_through",
    clock: FakeClock | None = None,
) -> MemorySpace:
    settings = Settings(hot_tier_records=records, hot_tier_write_policy=write_policy)
    return MemorySpace.open(
        path,
        embedder=HashingEmbedder(),
        settings=settings,
        clock=clock or FakeClock(1_700_000_000.0),
    )


@pytest.fixture
def ms(path: Path) -> Iterator[MemorySpace]:
    space = open_space(path)
    yield space
    space.close()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(1_700_000_000.0)


@pytest.fixture
def wb(path: Path, clock: FakeClock) -> Iterator[MemorySpace]:
    space = open_space(path, write_policy="write_back", clock=clock)
    yield space
    space.close()


def fill(ms: MemorySpace) -> list[str]:
    return [m.id for m in ms.add_many(FACTS)]


def tier(ms: MemorySpace) -> dict[str, float]:
    stats: dict[str, float] = ms.stats()["hot_tier"]
    return stats


def test_without_the_setting_there_is_no_tier(path: Path) -> None:
    with MemorySpace.open(path, embedder=HashingEmbedder()) as space:
        space.get(fill(space)[0])
        assert space.hot_tier is None
        assert "hot_tier" not in space.stats()


def test_bad_tier_settings_are_refused(path: Path) -> None:
    with pytest.raises(InvalidInput):
        open_space(path, records=0)
    with pytest.raises(InvalidInput):
        open_space(path, write_policy="write_sideways")


def test_get_twice_is_one_fault_then_one_hit(ms: MemorySpace) -> None:
    id = fill(ms)[0]
    assert ms.get(id).content == FACTS[0]
    assert ms.get(id).content == FACTS[0]
    stats = tier(ms)
    assert (stats["misses"], stats["hits"], stats["records"]) == (1, 1, 1)
    with pytest.raises(NotFound):
        ms.get("no-such-id")


def test_search_pages_its_hits_in(ms: MemorySpace) -> None:
    fill(ms)
    first = ms.search("Maren greyhound", k=2)
    assert len(first) == 2
    assert (tier(ms)["misses"], tier(ms)["hits"]) == (2, 0)
    again = ms.search("Maren greyhound", k=2)
    assert [h.memory.id for h in again] == [h.memory.id for h in first]
    assert (tier(ms)["misses"], tier(ms)["hits"]) == (2, 2)


def test_capacity_is_respected_and_pinned_records_stay(ms: MemorySpace) -> None:
    ids = fill(ms)
    ms.pin(ids[0])
    for id in ids:
        ms.get(id)
    stats = tier(ms)
    assert stats["records"] == 3 and stats["evictions"] == 2
    assert ids[0] in ms.hot_tier  # type: ignore[operator]
    for id in ids[1:]:
        ms.get(id)
    assert ids[0] in ms.hot_tier  # type: ignore[operator]
    hits = tier(ms)["hits"]
    assert ms.get(ids[0]).pinned
    assert tier(ms)["hits"] == hits + 1


def test_write_through_is_seen_by_a_second_handle_at_once(ms: MemorySpace, path: Path) -> None:
    id = fill(ms)[0]
    ms.update(id, importance=0.9, tags=["dog"])
    with MemorySpace.open(path, embedder=HashingEmbedder()) as other:
        seen = other.get(id)
        assert seen.importance == 0.9 and seen.tags == ("dog",)
    assert ms.get(id).importance == 0.9


def test_write_back_is_seen_by_others_only_once_flushed(wb: MemorySpace, path: Path) -> None:
    id = fill(wb)[0]
    lsn = wb.store.last_lsn()
    wb.update(id, importance=0.9)
    wb.pin(id)
    assert wb.get(id).importance == 0.9 and wb.get(id).pinned
    assert tier(wb)["dirty"] == 1
    with MemorySpace.open(path, embedder=HashingEmbedder()) as other:
        assert other.get(id).importance == 0.5
        wb.search("greyhound")  # reads the store through SQL: flushes first
        seen = other.get(id)
        assert seen.importance == 0.9 and seen.pinned
    # two edits between reads became one logged change
    assert wb.store.last_lsn() == lsn + 1


def test_write_back_reaches_the_store_on_close(path: Path) -> None:
    space = open_space(path, write_policy="write_back")
    id = fill(space)[0]
    space.update(id, meta={"mood": "glad"}, valid_to=1_800_000_000.0)
    with MemorySpace.open(path, embedder=HashingEmbedder()) as other:
        assert other.get(id).meta == {}
    space.close()
    with MemorySpace.open(path, embedder=HashingEmbedder()) as other:
        seen = other.get(id)
        assert seen.meta == {"mood": "glad"} and seen.valid_to == 1_800_000_000.0


def test_write_back_reads_its_own_writes(wb: MemorySpace) -> None:
    ids = fill(wb)
    wb.update(ids[3], tags=["food"], pinned=True)
    assert [h.memory.id for h in wb.search("hazelnuts", tags=["food"])] == [ids[3]]
    assert [m.id for m in wb.scan(pinned=True)] == [ids[3]]
    assert wb.count(pinned=True) == 1
    wb.update(ids[1], importance=0.1)
    assert wb.history(ids[1])[-1].after.importance == 0.1  # type: ignore[union-attr]


def test_write_back_content_edits_write_through(wb: MemorySpace, path: Path) -> None:
    ids = fill(wb)
    wb.update(ids[0], importance=0.8)  # dirty
    wb.update(ids[0], content="Maren adopted a second greyhound named Crumpet")
    with MemorySpace.open(path, embedder=HashingEmbedder()) as other:
        seen = other.get(ids[0])
        assert seen.content.endswith("Crumpet") and seen.importance == 0.8
    assert tier(wb)["dirty"] == 0
    assert wb.search("Crumpet", k=1)[0].memory.id == ids[0]


def test_delete_and_forget_leave_no_stale_copy(wb: MemorySpace) -> None:
    ids = fill(wb)
    for id in ids:
        wb.get(id)
    wb.update(ids[4], importance=0.2)
    wb.delete(ids[4])
    with pytest.raises(NotFound):
        wb.get(ids[4])
    assert wb.forget("cello", k=1) == [ids[1]]
    with pytest.raises(NotFound):
        wb.get(ids[1])


def test_restore_and_gc_leave_no_stale_copy(wb: MemorySpace, clock: FakeClock) -> None:
    ids = fill(wb)
    wb.checkpoint("before")
    wb.update(ids[0], content="Maren gave Biscuit to her sister")
    wb.update(ids[2], importance=0.9)
    assert wb.get(ids[0]).content.startswith("Maren gave")
    wb.restore("before")
    assert wb.get(ids[0]).content == FACTS[0]
    assert wb.get(ids[2]).importance == 0.5
    assert tier(wb)["records"] == 2

    wb.update(ids[3], ttl=10)
    wb.get(ids[3])
    resident = tier(wb)["records"]
    clock.now += 60
    assert wb.gc("ttl").collected == 1
    # only what the collection changed leaves the tier; the rest stays resident
    assert wb.hot_tier is not None and ids[3] not in wb.hot_tier
    assert tier(wb)["records"] == resident - 1 > 0
    assert wb.get(ids[3]).archived  # archived, as its kind says, and not served stale from RAM


def test_a_collection_leaves_no_stale_generation_in_the_tier(
    wb: MemorySpace, clock: FakeClock
) -> None:
    ids = fill(wb)
    survivor = wb.get(ids[0])
    assert survivor.generation == 0
    wb.search(FACTS[0], k=1)  # an access: the survivor is promoted, the rest are collected
    clock.now += 2 * 3600
    assert wb.hot_tier is not None and ids[0] in wb.hot_tier
    event = wb.gc("generational")
    assert event.promoted >= 1
    assert wb.get(ids[0]).generation == 1  # the store's new version, not the tier's old one


def test_profiler_sees_page_faults(path: Path, tmp_path: Path) -> None:
    with MemoryProfiler(tmp_path / "p.jsonl") as profiler:
        settings = Settings(hot_tier_records=1)
        with MemorySpace.open(
            path, embedder=HashingEmbedder(), settings=settings, profiler=profiler
        ) as space:
            ids = fill(space)
            space.get(ids[0])
            space.get(ids[1])
            summary = space.stats()["profile"]
    assert summary["page_fault"]["count"] == 2
    assert summary["eviction"]["count"] == 1


WRITER = textwrap.dedent(
    """
    import json, sys, time
    from memoryspace import HashingEmbedder, MemorySpace, Settings

    settings = Settings(hot_tier_records=10, hot_tier_write_policy="write_back")
    ms = MemorySpace.open(sys.argv[1], embedder=HashingEmbedder(), settings=settings)
    ids = [m.id for m in ms.add_many([f"memory {n}" for n in range(4)])]
    ms.update(ids[0], importance=0.9)
    ms.update(ids[1], content="rewritten 1")   # content: written through at once
    ms.flush()
    ms.update(ids[2], importance=0.1)          # lost: never flushed
    ms.update(ids[3], tags=["lost"])           # lost
    print(json.dumps(ids), flush=True)
    time.sleep(600)
    """
)


@pytest.mark.crash
def test_sigkill_loses_only_the_unflushed_non_content_edits(path: Path, tmp_path: Path) -> None:
    script = tmp_path / "writer.py"
    script.write_text(WRITER, encoding="utf-8")
    line = first_line_then_sigkill(script, str(path))
    ids = json.loads(line)
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        conn.close()
    with MemorySpace.open(path, embedder=HashingEmbedder()) as after:
        records = {id: after.get(id) for id in ids}
        assert records[ids[0]].importance == 0.9
        assert records[ids[1]].content == "rewritten 1"
        assert records[ids[2]].importance == 0.5
        assert records[ids[3]].tags == ()
        assert after.search("rewritten", k=1)[0].memory.id == ids[1]


def test_a_token_budget_alone_bounds_the_tier(path: Path) -> None:
    settings = Settings(hot_tier_tokens=40)
    with MemorySpace.open(path, embedder=HashingEmbedder(), settings=settings) as ms:
        ids = fill(ms)
        for id in ids:
            ms.get(id)
        stats = tier(ms)
        assert 0 < stats["tokens"] <= 40
        assert stats["evictions"] > 0
        assert stats["records"] < len(ids)
