"""``HotTier`` over a real SQLite file: faults, read-ahead, write policies, crashes, counters."""

from __future__ import annotations

import json
import sqlite3
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from memoryspace.errors import Closed, InvalidInput, NotFound
from memoryspace.models import Link, Memory
from memoryspace.store.sqlite import SQLiteStore
from memoryspace.tiers import HotTier
from store_contract import FakeClock
from subprocesses import first_line_then_sigkill


def record(id: str, **fields: object) -> Memory:
    values: dict[str, object] = {"content": f"memory {id}", "tokens": 10, "created_at": 1.0}
    values.update(fields)
    return Memory(id=id, **values)  # type: ignore[arg-type]


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "hot.db"


@pytest.fixture
def store(path: Path) -> Iterator[SQLiteStore]:
    with SQLiteStore(path) as opened:
        opened.insert([(record(f"r{n}"), None) for n in range(20)])
        yield opened


def stored(path: Path, id: str) -> Memory:
    """The record as another connection to the file sees it."""
    with SQLiteStore(path) as other:
        return other.get(id)


# -- faults and hits


def test_a_miss_is_a_page_fault_that_promotes_and_the_next_lookup_hits(
    store: SQLiteStore,
) -> None:
    with HotTier(store, capacity_records=2) as hot:
        assert "r1" not in hot
        assert hot.get("r1").content == "memory r1"
        assert "r1" in hot and len(hot) == 1
        hot.get("r1")
        hot.get("r2")
        hot.get("r3")  # evicts r1, the least recently used
        assert "r1" not in hot
        stats = hot.stats()
        assert (stats["hits"], stats["misses"], stats["promotions"]) == (1, 3, 3)
        assert (stats["evictions"], stats["records"], stats["tokens"]) == (1, 2, 20)
        assert stats["hit_rate"] == pytest.approx(0.25)


def test_unknown_ids_raise_or_are_skipped(store: SQLiteStore) -> None:
    with HotTier(store, capacity_records=4) as hot:
        with pytest.raises(NotFound):
            hot.get("nope")
        found = hot.get_many(["r3", "nope", "r1", "r3"])
        assert [m.id for m in found] == ["r3", "r1", "r3"]
        found = hot.get_many(["r1", "r2"])
        assert [m.id for m in found] == ["r1", "r2"]
        stats = hot.stats()
        assert (stats["hits"], stats["misses"]) == (1, 3)


def test_explicit_eviction(store: SQLiteStore) -> None:
    with HotTier(store, capacity_records=4) as hot:
        hot.get("r1")
        assert hot.evict("r1") and "r1" not in hot
        assert not hot.evict("r1")
        assert hot.stats()["evictions"] == 1


# -- read-ahead


def _session(store: SQLiteStore) -> None:
    """Two sessions; s1's turns 0-2 share a timestamp (like a LoCoMo session), 3-5 do not."""
    times = [100.0, 100.0, 100.0, 200.0, 300.0, 400.0]
    store.insert(
        [(record(f"s1t{n}", session="s1", created_at=t), None) for n, t in enumerate(times)]
        + [(record(f"s2t{n}", session="s2", created_at=250.0), None) for n in range(3)]
    )


def test_promotion_batch_brings_in_the_nearest_turns_of_the_session(
    store: SQLiteStore,
) -> None:
    _session(store)
    with HotTier(store, capacity_records=10, promotion_batch=3) as hot:
        hot.get("s1t4")
        assert {id for id in ["s1t3", "s1t4", "s1t5"] if id in hot} == {"s1t3", "s1t4", "s1t5"}
        assert len(hot) == 3 and hot.stats()["promotions"] == 3
        assert hot.get("s1t3") and hot.get("s1t5")  # the read-ahead pays off
        assert hot.stats()["hits"] == 2
    with HotTier(store, capacity_records=10, promotion_batch=4) as hot:
        hot.get("s1t1")  # same timestamp as t0 and t2: dialogue (insertion) order decides
        assert sorted(r for r in (f"s1t{n}" for n in range(6)) if r in hot) == [
            "s1t0",
            "s1t1",
            "s1t2",
            "s1t3",
        ]
        assert not any(f"s2t{n}" in hot for n in range(3))


def test_read_ahead_skips_resident_records_and_never_displaces_the_fault(
    store: SQLiteStore,
) -> None:
    _session(store)
    with HotTier(store, capacity_records=2, promotion_batch=4) as hot:
        hot.get("s1t4")  # room for one neighbour only
        assert "s1t4" in hot and len(hot) == 2
        stats = hot.stats()
        assert stats["promotions"] == 2 and stats["evictions"] == 0
    with HotTier(store, capacity_records=10, promotion_batch=3) as hot:
        hot.get("s1t5")
        hot.evict("s1t4")
        hot.get("s1t4")  # neighbours t5 (resident) and t3 (resident): nothing more to read
        assert hot.stats()["promotions"] == 4


def test_promotion_batch_follows_links_without_a_session(store: SQLiteStore) -> None:
    links = tuple(Link.to(id) for id in ("r7", "gone", "r8", "r9"))
    store.insert([(record("note", links=links), None)])
    with HotTier(store, capacity_records=10, promotion_batch=3) as hot:
        hot.get("note")
        assert "r7" in hot and "r8" not in hot  # the first two links; "gone" does not exist
        assert len(hot) == 2


# -- write-through


def test_write_through_reaches_the_store_before_put_returns(store: SQLiteStore, path: Path) -> None:
    with HotTier(store, capacity_records=4, write_policy="write_through") as hot:
        hot.put(hot.get("r1").evolve(content="changed", importance=0.9))
        seen = stored(path, "r1")
        assert (seen.content, seen.importance) == ("changed", 0.9)
        assert hot.get("r1").content == "changed"  # and the hot copy follows
        stats = hot.stats()
        assert stats["dirty"] == 0 and stats["store_writes"] == 1 and stats["write_backs"] == 0
    assert [c.op for c in store.history("r1")] == ["add", "update"]


def test_put_of_a_missing_record_is_refused_in_both_modes(store: SQLiteStore) -> None:
    for mode in ("write_through", "write_back"):
        with HotTier(store, capacity_records=4, write_policy=mode) as hot:
            with pytest.raises(NotFound):
                hot.put(record("nope"))
            assert "nope" not in hot and hot.stats()["dirty"] == 0
            with pytest.raises(InvalidInput):
                hot.put("r1")  # type: ignore[arg-type]


# -- write-back


def test_write_back_waits_for_flush_and_coalesces_puts(store: SQLiteStore, path: Path) -> None:
    hot = HotTier(store, capacity_records=4, write_policy="write_back")
    for n in range(3):
        hot.put(hot.get("r1").evolve(content=f"version {n}"))
    assert hot.get("r1").content == "version 2" and hot.is_dirty("r1")
    assert stored(path, "r1").content == "memory r1"
    assert hot.stats()["dirty"] == 1
    assert hot.flush() == 1
    assert stored(path, "r1").content == "version 2"
    assert [c.op for c in store.history("r1")] == ["add", "update"]  # one logged change
    assert hot.flush() == 0
    hot.close()


def test_write_back_writes_a_dirty_victim_on_eviction(store: SQLiteStore, path: Path) -> None:
    with HotTier(store, capacity_records=2, write_policy="write_back") as hot:
        hot.put(hot.get("r1").evolve(content="dirty"))
        hot.get("r2")
        assert stored(path, "r1").content == "memory r1"
        hot.get("r3")  # r1 is the victim
        assert "r1" not in hot
        assert stored(path, "r1").content == "dirty"
        stats = hot.stats()
        assert (stats["write_backs"], stats["dirty"], stats["evictions"]) == (1, 0, 1)


def test_discard_drops_only_the_ids_given_writing_dirty_ones_back(
    store: SQLiteStore, path: Path
) -> None:
    with HotTier(store, capacity_records=4, write_policy="write_back") as hot:
        hot.put(hot.get("r1").evolve(content="dirty"))
        hot.get("r2")
        hot.get("r3")
        assert hot.discard(["r1", "r2", "not-resident"]) == 1
        assert "r1" not in hot and "r2" not in hot and "r3" in hot
        assert stored(path, "r1").content == "dirty"
        stats = hot.stats()
        assert (stats["evictions"], stats["dirty"], stats["records"]) == (0, 0, 1)


def test_close_writes_back_everything_then_refuses_use(store: SQLiteStore, path: Path) -> None:
    hot = HotTier(store, capacity_records=8, write_policy="write_back")
    for n in range(5):
        hot.put(hot.get(f"r{n}").evolve(importance=0.1 * n))
    assert all(stored(path, f"r{n}").importance == 0.5 for n in range(5))
    hot.close()
    assert [stored(path, f"r{n}").importance for n in range(5)] == pytest.approx(
        [0.0, 0.1, 0.2, 0.3, 0.4]
    )
    hot.close()  # idempotent
    assert hot.stats()["write_backs"] == 5
    for call in (lambda: hot.get("r1"), hot.flush, lambda: hot.put(record("r1"))):
        with pytest.raises(Closed):
            call()


def test_flush_interval_flushes_on_the_first_call_after_it(store: SQLiteStore, path: Path) -> None:
    clock = FakeClock(1_000_000.0)
    with HotTier(
        store, capacity_records=8, write_policy="write_back", flush_interval=60, clock=clock
    ) as hot:
        hot.put(hot.get("r1").evolve(content="later"))
        clock.advance(59)
        hot.get("r2")
        assert hot.is_dirty("r1")
        clock.advance(1)
        hot.get("r2")
        assert not hot.is_dirty("r1") and stored(path, "r1").content == "later"


def test_delete_drops_the_dirty_copy_and_the_record(store: SQLiteStore) -> None:
    with HotTier(store, capacity_records=8, write_policy="write_back") as hot:
        hot.put(hot.get("r1").evolve(content="doomed"))
        changes = hot.delete(["r1"])
        assert [c.op for c in changes] == ["delete"] and "r1" not in hot
        assert hot.flush() == 0
        with pytest.raises(NotFound):
            hot.get("r1")
        with pytest.raises(NotFound):
            hot.delete(["r1"])


def test_a_dirty_record_refused_admission_is_written_through(
    store: SQLiteStore, path: Path
) -> None:
    with HotTier(store, capacity_records=2, write_policy="write_back") as hot:
        hot.pin("r0")
        hot.pin("r1")
        hot.put(store.get("r2").evolve(content="no room"))
        assert "r2" not in hot and stored(path, "r2").content == "no room"
        assert hot.stats()["bypasses"] == 1


def test_pinning_changes_reach_the_store_by_the_write_policy(
    store: SQLiteStore, path: Path
) -> None:
    with HotTier(store, capacity_records=2, write_policy="write_back") as hot:
        assert hot.pin("r3").pinned
        assert not stored(path, "r3").pinned
    assert stored(path, "r3").pinned


WRITER = textwrap.dedent(
    """
    import json, sys, time
    from memoryspace.store.sqlite import SQLiteStore
    from memoryspace.tiers import HotTier

    store = SQLiteStore(sys.argv[1])
    hot = HotTier(store, capacity_records=4, policy="lru", write_policy="write_back")

    def put(id, text):
        hot.put(hot.get(id).evolve(content=text))

    for n in range(4):
        put(f"r{n}", f"flushed {n}")
    hot.flush()
    put("r0", "written back 0")       # LRU order now r1 r2 r3 r0
    for n in (5, 6, 7, 8):
        hot.get(f"r{n}")              # evicts r1, r2, r3, then r0 (dirty: written back)
    put("r1", "lost 1")
    put("r5", "lost 5")
    print(json.dumps(hot.stats()), flush=True)
    time.sleep(600)                   # killed here, with r1 and r5 dirty
    """
)


@pytest.mark.crash
def test_sigkill_loses_exactly_the_unflushed_write_back_changes(
    store: SQLiteStore, path: Path, tmp_path: Path
) -> None:
    script = tmp_path / "writer.py"
    script.write_text(WRITER, encoding="utf-8")
    line = first_line_then_sigkill(script, str(path))
    before_kill = json.loads(line)
    assert before_kill["dirty"] == 2 and before_kill["write_backs"] == 5

    expected = {f"r{n}": f"memory r{n}" for n in range(20)}
    expected.update({f"r{n}": f"flushed {n}" for n in range(4)})
    expected["r0"] = "written back 0"
    with SQLiteStore(path) as after:
        assert {m.id: m.content for m in after.scan()} == expected
        assert sum(c.op == "update" for c in after.changes()) == 5
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        conn.close()


def test_clear_writes_back_then_drops_everything_pinned_too(store: SQLiteStore, path: Path) -> None:
    with HotTier(store, capacity_records=3, write_policy="write_back") as hot:
        hot.put(record("r0", content="dirty 0"))
        hot.pin("r1")
        hot.get("r2")
        assert hot.clear() == 2
        assert len(hot) == 0 and hot.stats()["evictions"] == 0
        assert stored(path, "r0").content == "dirty 0" and stored(path, "r1").pinned
        hot.get("r0")
        assert hot.stats()["misses"] == 2


# -- threads and arguments


def test_threads_share_one_tier_safely(store: SQLiteStore, path: Path) -> None:
    hot = HotTier(store, capacity_records=5, policy="arc", write_policy="write_back")
    errors: list[BaseException] = []

    def work(worker: int) -> None:
        try:
            for step in range(60):
                id = f"r{(worker * 7 + step) % 20}"
                hot.put(hot.get(id).evolve(meta={"by": worker, "step": step}))
                assert len(hot) <= 5
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    final = {id: hot.get(id).meta for id in (f"r{n}" for n in range(20))}
    hot.close()
    assert {f"r{n}": stored(path, f"r{n}").meta for n in range(20)} == final


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"capacity_records": 0},
        {"capacity_records": 4, "capacity_tokens": -1},
        {"capacity_records": True},
        {"capacity_records": 4, "write_policy": "write_around"},
        {"capacity_records": 4, "flush_interval": 5},
        {"capacity_records": 4, "write_policy": "write_back", "flush_interval": 0},
        {"capacity_records": 4, "promotion_batch": 0},
        {"capacity_records": 4, "policy": "mru"},
    ],
)
def test_bad_arguments_are_refused(store: SQLiteStore, options: dict[str, object]) -> None:
    with pytest.raises(InvalidInput):
        HotTier(store, **options)  # type: ignore[arg-type]


def test_get_many_serves_a_record_its_own_faults_evicted(store: SQLiteStore) -> None:
    with HotTier(store, capacity_records=2) as hot:
        hot.get("r1")
        # r1 is resident when the call starts; the faults of r2 and r3 evict it before its turn
        found = hot.get_many(["r2", "r3", "r1"])
        assert [m.id for m in found] == ["r2", "r3", "r1"]
        stats = hot.stats()
        assert (stats["hits"], stats["misses"], stats["records"]) == (0, 4, 2)
