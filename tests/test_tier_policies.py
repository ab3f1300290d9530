"""Replacement policies: one contract every policy passes, then what makes each one itself.

The contract runs through a real ``HotTier`` over a real SQLite file, with a fake clock.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from memoryspace.errors import InvalidInput, NotFound
from memoryspace.models import Memory
from memoryspace.store.sqlite import SQLiteStore
from memoryspace.tiers import (
    POLICY_NAMES,
    ARCPolicy,
    ClockPolicy,
    ForgettingCurvePolicy,
    HeatPolicy,
    HotTier,
    LFUPolicy,
    LRUPolicy,
    ReplacementPolicy,
    make_policy,
)
from store_contract import FakeClock


def record(id: str, *, tokens: int = 10, pinned: bool = False, access_count: int = 0) -> Memory:
    return Memory(
        id=id,
        content=f"memory {id}",
        tokens=tokens,
        pinned=pinned,
        created_at=1.0,
        updated_at=1.0,
        access_count=access_count,
    )


def fill(store: SQLiteStore, ids: list[str], **fields: object) -> None:
    store.insert([(record(id, **fields), None) for id in ids])  # type: ignore[arg-type]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteStore]:
    with SQLiteStore(tmp_path / "tier.db") as opened:
        fill(opened, [f"r{n}" for n in range(20)])
        yield opened


class PolicyContract:
    """Behaviour every replacement policy shares. Subclasses set ``policy_name``."""

    policy_name: str

    def tier(self, store: SQLiteStore, clock: FakeClock, **options: object) -> HotTier:
        options.setdefault("capacity_records", 4)
        return HotTier(store, policy=self.policy_name, clock=clock, **options)  # type: ignore[arg-type]

    def test_capacity_in_records_is_respected(self, store: SQLiteStore) -> None:
        clock = FakeClock(1_000_000.0)
        with self.tier(store, clock) as hot:
            for n in [0, 1, 2, 3, 4, 5, 1, 7, 8, 2, 9, 0, 11]:
                clock.advance(1)
                assert hot.get(f"r{n}").id == f"r{n}"
                assert len(hot) <= 4
            stats = hot.stats()
            assert stats["records"] == 4
            assert stats["evictions"] == stats["promotions"] - 4

    def test_capacity_in_tokens_is_respected(self, tmp_path: Path) -> None:
        clock = FakeClock(1_000_000.0)
        with SQLiteStore(tmp_path / "tokens.db") as store:
            store.insert([(record(f"t{n}", tokens=10 * (n % 4 + 1)), None) for n in range(12)])
            with self.tier(store, clock, capacity_records=None, capacity_tokens=70) as hot:
                for n in [0, 5, 3, 2, 7, 11, 1, 0, 9, 6]:
                    clock.advance(1)
                    hot.get(f"t{n}")
                    assert hot.stats()["tokens"] <= 70

    def test_pinned_records_are_never_evicted(self, store: SQLiteStore) -> None:
        clock = FakeClock(1_000_000.0)
        with self.tier(store, clock) as hot:
            hot.pin("r0")
            hot.pin("r1")
            for n in range(2, 20):
                clock.advance(1)
                hot.get(f"r{n}")
                assert "r0" in hot and "r1" in hot
            hot.unpin("r0")
            for n in range(2, 8):
                clock.advance(1)
                hot.get(f"r{n}")
            assert "r1" in hot

    def test_a_tier_full_of_pinned_records_refuses_admission(self, store: SQLiteStore) -> None:
        clock = FakeClock(1_000_000.0)
        with self.tier(store, clock, capacity_records=2) as hot:
            hot.pin("r0")
            hot.pin("r1")
            assert hot.get("r5").id == "r5"  # still served, from the store
            assert "r5" not in hot and "r0" in hot and "r1" in hot
            hot.pin("r2")  # a third pinned record does not fit either
            assert "r2" not in hot and store.get("r2").pinned
            stats = hot.stats()
            assert stats["bypasses"] == 2 and stats["evictions"] == 0

    def test_deterministic_under_an_injected_clock(self, tmp_path: Path) -> None:
        def replay(path: Path) -> tuple[list[str], dict[str, float]]:
            clock = FakeClock(1_000_000.0)
            with SQLiteStore(path) as store:
                fill(store, [f"r{n}" for n in range(12)])
                with self.tier(store, clock) as hot:
                    for n in [0, 1, 2, 0, 3, 4, 0, 5, 1, 6, 7, 0, 8, 2, 9, 10, 11, 0, 3]:
                        clock.advance(37)
                        hot.get(f"r{n}")
                    return sorted(f"r{n}" for n in range(12) if f"r{n}" in hot), hot.stats()

        assert replay(tmp_path / "a.db") == replay(tmp_path / "b.db")

    def test_victim_respects_can_evict_and_forgets_the_key(self) -> None:
        clock = FakeClock(1_000_000.0)
        policy = make_policy(self.policy_name, clock=clock)
        for id in ["a", "b", "c"]:
            clock.advance(1)
            policy.on_insert(id, record(id))
        chosen = policy.victim(lambda key: key != "a")
        assert chosen in {"b", "c"}
        rest = {"a", "b", "c"} - {chosen}
        assert policy.victim(lambda key: key in rest) in rest
        with pytest.raises(NotFound):
            policy.victim(lambda key: key == chosen)  # forgotten, so nothing is left to offer
        policy.on_remove("never-seen")  # harmless


class TestLRU(PolicyContract):
    policy_name = "lru"


class TestClock(PolicyContract):
    policy_name = "clock"


class TestLFU(PolicyContract):
    policy_name = "lfu"


class TestARC(PolicyContract):
    policy_name = "arc"


class TestHeat(PolicyContract):
    policy_name = "heat"


class TestForgettingCurve(PolicyContract):
    policy_name = "forgetting"


def test_every_policy_has_a_contract_run() -> None:
    covered = {cls.policy_name for cls in PolicyContract.__subclasses__()}
    assert covered == set(POLICY_NAMES)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=st.sampled_from(POLICY_NAMES),
    capacity=st.integers(1, 5),
    steps=st.lists(
        st.tuples(st.sampled_from(["get", "pin", "unpin", "evict"]), st.integers(0, 9)),
        max_size=60,
    ),
)
def test_random_accesses_never_exceed_capacity_or_evict_pinned(
    name: str, capacity: int, steps: list[tuple[str, int]]
) -> None:
    clock = FakeClock(1_000_000.0)
    with SQLiteStore(":memory:") as store:
        fill(store, [f"r{n}" for n in range(10)])
        with HotTier(store, capacity_records=capacity, policy=name, clock=clock) as hot:
            pinned_resident: set[str] = set()
            for action, n in steps:
                clock.advance(n + 1)
                id = f"r{n}"
                if action == "get":
                    hot.get(id)
                elif action == "pin":
                    hot.pin(id)
                    if id in hot:
                        pinned_resident.add(id)
                elif action == "unpin":
                    hot.unpin(id)
                    pinned_resident.discard(id)
                elif hot.evict(id):
                    pinned_resident.discard(id)
                assert len(hot) <= capacity
                assert all(p in hot for p in pinned_resident), "a pinned record was evicted"


@settings(max_examples=80, deadline=None)
@given(
    name=st.sampled_from(POLICY_NAMES),
    steps=st.lists(
        st.tuples(st.sampled_from(["insert", "access", "remove", "victim"]), st.integers(0, 6)),
        max_size=50,
    ),
    locked=st.sets(st.integers(0, 6)),
)
def test_a_victim_is_always_tracked_and_evictable(
    name: str, steps: list[tuple[str, int]], locked: set[int]
) -> None:
    clock = FakeClock(1_000_000.0)
    policy = make_policy(name, clock=clock)
    tracked: set[str] = set()
    locked_ids = {f"k{n}" for n in locked}
    for action, n in steps:
        clock.advance(3)
        key = f"k{n}"
        if action == "insert" and key not in tracked:
            policy.on_insert(key, record(key))
            tracked.add(key)
        elif action == "access" and key in tracked:
            policy.on_access(key, record(key))
        elif action == "remove":
            policy.on_remove(key)
            tracked.discard(key)
        elif action == "victim":
            if tracked - locked_ids:
                chosen = policy.victim(lambda k: k not in locked_ids)
                assert chosen in tracked - locked_ids
                tracked.remove(chosen)
            else:
                with pytest.raises(NotFound):
                    policy.victim(lambda k: k not in locked_ids)


# -- what each policy is for


def _insert(policy: ReplacementPolicy, clock: FakeClock, *ids: str) -> None:
    for id in ids:
        clock.advance(1)
        policy.on_insert(id, record(id))


def _anything(key: str) -> bool:
    return True


def test_lru_evicts_the_least_recently_used() -> None:
    clock = FakeClock(1_000_000.0)
    policy = LRUPolicy(clock=clock)
    _insert(policy, clock, "a", "b", "c")
    policy.on_access("a", record("a"))
    assert policy.victim(_anything) == "b"


def test_clock_gives_a_referenced_record_a_second_chance() -> None:
    clock = FakeClock(1_000_000.0)
    policy = ClockPolicy(clock=clock)
    _insert(policy, clock, "a", "b", "c")
    policy.on_access("a", record("a"))  # "a" is oldest, but referenced
    assert policy.victim(_anything) == "b"  # FIFO would evict "a"
    assert policy.victim(_anything) == "c"  # the hand cleared "a"'s bit on the way past
    assert policy.victim(_anything) == "a"  # its second chance is spent


def test_lfu_keeps_the_frequent_record() -> None:
    clock = FakeClock(1_000_000.0)
    policy = LFUPolicy(clock=clock)
    _insert(policy, clock, "often", "once", "twice")
    for _ in range(5):
        policy.on_access("often", record("often"))
    policy.on_access("twice", record("twice"))
    policy.on_access("once", record("once"))  # most recent, yet only two uses
    policy.on_access("twice", record("twice"))
    assert policy.victim(_anything) == "once"
    assert policy.victim(_anything) == "twice"


def _scan_and_hot_hits(policy: str, tmp_path: Path) -> int:
    """Hot records used twice a round, each round followed by a scan of never-reused records."""
    clock = FakeClock(1_000_000.0)
    with SQLiteStore(tmp_path / f"{policy}.db") as store:
        hot_ids = ["h0", "h1", "h2"]
        scan_ids = [f"s{n}" for n in range(60)]
        fill(store, hot_ids + scan_ids)
        with HotTier(store, capacity_records=6, policy=policy, clock=clock) as hot:
            for round in range(12):
                for id in hot_ids + hot_ids:
                    hot.get(id)
                for id in scan_ids[round * 5 : round * 5 + 5]:
                    hot.get(id)
            return int(hot.stats()["hits"])


def test_arc_resists_a_scan_that_flushes_lru(tmp_path: Path) -> None:
    lru, arc = _scan_and_hot_hits("lru", tmp_path), _scan_and_hot_hits("arc", tmp_path)
    # A 5-record scan pushes the hot records out of LRU's 6 slots: only the second use hits.
    assert lru == 12 * 3
    # ARC keeps the records used twice in T2 and lets the scan churn T1: only the first
    # three uses miss.
    assert arc == 12 * 6 - 3


def test_arc_adapts_toward_recency_on_ghost_hits() -> None:
    clock = FakeClock(1_000_000.0)
    policy = ARCPolicy(clock=clock)
    _insert(policy, clock, "a", "b")
    policy.on_access("b", record("b"))  # "b" moves to the frequency list T2
    _insert(policy, clock, "c")
    assert policy.victim(lambda key: key != "c") == "a"  # T1's oldest, into ghost list B1
    assert policy.p == 0
    _insert(policy, clock, "a")  # a ghost hit: recency deserved more room
    assert policy.p == 1
    assert policy.victim(lambda key: key != "a") == "b"  # T1 holds 1 = p: T2 gives way


def test_heat_evicts_the_coldest() -> None:
    clock = FakeClock(1_000_000.0)
    policy = HeatPolicy(clock=clock)
    _insert(policy, clock, "busy", "old", "fresh")
    for _ in range(3):
        policy.on_access("busy", record("busy"))
    clock.advance(3e7)  # three μ: recency has mostly faded
    policy.on_access("fresh", record("fresh"))
    assert policy.heat("fresh") > policy.heat("old")
    assert policy.victim(_anything) == "old"
    assert policy.victim(_anything) == "fresh"  # 2 visits + recency < 4 visits


def test_heat_formula_and_interaction_length() -> None:
    clock = FakeClock(1_000_000.0)
    policy = HeatPolicy(alpha=1.0, beta=2.0, gamma=3.0, mu=100.0, clock=clock)
    policy.on_insert("long", record("long", tokens=512, access_count=4))
    policy.on_insert("short", record("short", tokens=64))
    clock.advance(100)
    assert math.isclose(policy.heat("long"), 1 * 5 + 2 * 1.0 + 3 * math.exp(-1))
    assert math.isclose(policy.heat("short"), 1 * 1 + 2 * 0.25 + 3 * math.exp(-1))
    policy.on_insert("twin", record("twin", tokens=64))
    assert policy.victim(_anything) == "short"  # same visits as "twin", but older


def test_forgetting_curve_keeps_the_often_recalled_record() -> None:
    clock = FakeClock(1_000_000.0)
    policy = ForgettingCurvePolicy(clock=clock)
    _insert(policy, clock, "often", "once")
    for _ in range(4):
        policy.on_access("often", record("often"))
    policy.on_access("once", record("once"))  # same age: both last recalled now
    policy.on_insert("new", record("new"))
    clock.advance(5 * 86_400)
    assert policy.retention("often") > policy.retention("once")
    assert policy.victim(lambda key: key != "new") == "once"


def test_forgetting_curve_formula_more_recalls_slower_forgetting() -> None:
    clock = FakeClock(1_000_000.0)
    policy = ForgettingCurvePolicy(strength=10.0, growth=3.0, clock=clock)
    policy.on_insert("a", record("a"))  # one recall: S = 10
    policy.on_insert("b", record("b", access_count=2))  # three recalls: S = 10·3²
    clock.advance(20)
    assert math.isclose(policy.retention("a"), math.exp(-20 / 10))
    assert math.isclose(policy.retention("b"), math.exp(-20 / 90))


@pytest.mark.parametrize(
    ("name", "options"),
    [
        ("mru", {}),
        ("lru", {"alpha": 1.0}),
        ("heat", {"mu": 0}),
        ("forgetting", {"growth": 0.5}),
    ],
)
def test_make_policy_rejects_unknown_names_and_bad_options(
    name: str, options: dict[str, object]
) -> None:
    with pytest.raises(InvalidInput):
        make_policy(name, **options)


def test_make_policy_builds_each_policy() -> None:
    built: list[Callable[..., ReplacementPolicy]] = [
        LRUPolicy,
        ClockPolicy,
        LFUPolicy,
        ARCPolicy,
        HeatPolicy,
        ForgettingCurvePolicy,
    ]
    assert [type(make_policy(n)) for n in POLICY_NAMES] == built
