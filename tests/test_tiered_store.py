"""``TieredStore``: the store contract through a hot tier in both write policies, plus what
only a tier in front of a store can get wrong (read-your-writes, transactions, saved reads)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from memoryspace import MemorySpace, Settings
from memoryspace.embed.hashing import HashingEmbedder
from memoryspace.models import Filter, Memory
from memoryspace.store.base import Store
from memoryspace.store.sqlite import SQLiteStore
from memoryspace.tiers import HotTier
from memoryspace.tiers.store import TieredStore
from store_contract import FakeClock, StoreContract, make_memory


def tiered(path: str | Path, clock: FakeClock, write_policy: str) -> TieredStore:
    backing = SQLiteStore(path, clock=clock)
    # A small tier, so that the contract's records are evicted and faulted in as it runs.
    tier = HotTier(backing, capacity_records=3, write_policy=write_policy, clock=clock)
    return TieredStore(backing, tier)


class TestTieredWriteThrough(StoreContract):
    def make_store(self, tmp_path: Path, clock: FakeClock) -> Store:
        return tiered(tmp_path / "space.db", clock, "write_through")

    def reopen(self, store: Store, clock: FakeClock) -> Store:
        assert store.path is not None
        return tiered(store.path, clock, "write_through")


class TestTieredWriteBack(StoreContract):
    def make_store(self, tmp_path: Path, clock: FakeClock) -> Store:
        return tiered(tmp_path / "space.db", clock, "write_back")

    def reopen(self, store: Store, clock: FakeClock) -> Store:
        assert store.path is not None
        return tiered(store.path, clock, "write_back")


class TestTieredInMemory(StoreContract):
    def make_store(self, tmp_path: Path, clock: FakeClock) -> Store:
        return tiered(":memory:", clock, "write_back")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[TieredStore]:
    opened = tiered(tmp_path / "space.db", FakeClock(), "write_back")
    notes = [make_memory(f"m{n}", f"note number {n} about walking") for n in range(6)]
    opened.insert([(note, None) for note in notes])
    yield opened
    opened.close()


def test_a_deferred_patch_stays_in_ram_until_a_query_needs_it(store: TieredStore) -> None:
    lsn = store.last_lsn()
    store.defer("m1", {"pinned": True, "tags": ("dog",)})
    assert store.backing.get("m1").pinned is False and store.last_lsn() == lsn  # still dirty
    assert store.get("m1").pinned and store.get_many(["m1"])[0].tags == ("dog",)
    # Every query the store answers sees it (each writes back first).
    assert [m.id for m in store.scan(Filter(pinned=True))] == ["m1"]
    assert store.backing.get("m1").pinned and store.last_lsn() == lsn + 1
    store.defer("m2", {"tags": ("cat",)})
    assert store.count(Filter(tags=("cat",))) == 1
    store.defer("m3", {"importance": 0.9})
    assert store.history("m3")[-1].after is not None
    assert store.history("m3")[-1].after.importance == 0.9  # type: ignore[union-attr]
    store.defer("m4", {"session": "s9"})
    key = store.key_of("m4")
    assert [k for k, _ in store.text_search(["walking"], 10, Filter(session="s9"))] == [key]


def test_several_deferred_patches_are_one_logged_change(store: TieredStore) -> None:
    lsn = store.last_lsn()
    for importance in (0.1, 0.2, 0.3):
        store.defer("m0", {"importance": importance})
    assert store.write_back() == 1
    assert store.last_lsn() == lsn + 1 and store.backing.get("m0").importance == 0.3


def test_a_transaction_reads_the_store_and_leaves_no_stale_copy(store: TieredStore) -> None:
    store.get("m0")  # resident
    store.defer("m0", {"importance": 0.7})  # dirty
    with store.transaction():
        inside = store.get("m0")  # the store's version: the transaction wrote back first
        assert inside.importance == 0.7 and inside.version == store.last_lsn()
        store.update("m0", {"tags": ("planned",)}, if_version=inside.version)
    assert store.get("m0").tags == ("planned",)  # the resident copy was dropped, then re-read
    assert store.tier.stats()["dirty"] == 0


def test_a_transaction_never_deadlocks_with_a_writer_waiting_in_the_tier(
    store: TieredStore,
) -> None:
    inside, done = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            inside.wait(5)
            for n in range(20):  # takes the tier's lock, then waits for the store's
                store.update("m5", {"importance": n / 20})
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            done.set()

    thread = threading.Thread(target=writer)
    thread.start()
    with store.transaction():
        inside.set()
        for n in range(20):
            store.update("m4", {"importance": n / 20})
            store.get("m4")
    thread.join(30)
    assert done.is_set() and not errors
    assert store.backing.get("m5").importance == 19 / 20


def test_get_by_keys_reads_resident_records_from_ram(store: TieredStore) -> None:
    keys = [store.key_of(f"m{n}") for n in range(4)]
    store.get_by_keys(keys)  # learns which id each key names; promotes nothing
    assert len(store.tier) == 0
    store.get_many(["m0", "m1"])  # now resident
    before = store.io_stats()["rows_read"]
    found = store.get_by_keys(keys)
    assert sorted(m.id for m in found.values()) == ["m0", "m1", "m2", "m3"]
    assert store.io_stats()["rows_read"] - before == 2  # only the two cold ones


def test_restore_empties_the_tier(store: TieredStore) -> None:
    store.checkpoint("before")
    store.defer("m0", {"importance": 0.9})
    store.update("m1", {"content": "changed"})
    store.restore("before")
    assert len(store.tier) == 0
    assert store.get("m1").content == "note number 1 about walking"
    assert store.get("m0").importance == make_memory("x").importance


def search_reads(ms: MemorySpace, query: str) -> int:
    before = ms.stats()["store"]["rows_read"]
    hits = ms.search(query, k=5, min_score=0)
    assert hits
    return int(ms.stats()["store"]["rows_read"] - before)


@pytest.mark.parametrize("records", [None, 64])
def test_a_warm_search_reads_its_hits_from_ram(tmp_path: Path, records: int | None) -> None:
    settings = Settings(hot_tier_records=records)
    path = tmp_path / f"warm{records}.db"
    with MemorySpace.open(path, embedder=HashingEmbedder(), settings=settings) as ms:
        ms.add_many(f"walk number {n} in the park with the dog" for n in range(40))
        cold = search_reads(ms, "a walk with the dog")
        warm = search_reads(ms, "a walk with the dog")
        if records is None:
            assert warm == cold  # every candidate is read from the store each time
        else:
            assert warm == cold - 5  # the five hits paged in by the first search stay in RAM
            assert ms.stats()["hot_tier"]["misses"] == 5  # faults served by the search's read


def test_a_structure_reading_through_the_store_sees_pending_edits(tmp_path: Path) -> None:
    settings = Settings(hot_tier_records=64, hot_tier_write_policy="write_back")
    with MemorySpace.open(tmp_path / "c.db", embedder=HashingEmbedder(), settings=settings) as ms:
        ms.add("the first turn", id="t1")
        ms.update("t1", meta={"stm": True})  # dirty in RAM: the database still has {}
        assert ms.backing.get("t1").meta == {}
        seen: list[Memory] = ms.store.get_many(["t1"])  # how a structure reads
        assert seen[0].meta == {"stm": True}
