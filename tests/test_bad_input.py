"""Bad input at the facade: wrong types are rejected, never coerced, and nothing changes.

The cases the issue found on main (``pinned="no"`` stored as True, ``id=[1, 2]`` stored as
``"[1, 2]"``, ``add_many("hello")`` storing five letters, ``meta={1: "a"}``, ``forget`` with only
``include_expired`` deleting everything, ``checkpoint("daily\\n")``, a million-character query)
plus the bounds every public call now checks. ``test_fuzz_api.py`` tries the rest at random.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from memoryspace import HashingEmbedder, InvalidInput, MemorySpace, MemorySpaceError, Settings
from memoryspace.validate import MAX_TIME, MIN_TIME

START = 1_700_000_000.0


@pytest.fixture
def ms(tmp_path: Path) -> Iterator[MemorySpace]:
    space = MemorySpace.open(tmp_path / "m.db", embedder=HashingEmbedder(), clock=lambda: START)
    space.add_many([f"note {i} about green tea" for i in range(3)], actor="seed")
    yield space
    space.close()


def first_id(ms: MemorySpace) -> str:
    return next(ms.scan(limit=1)).id


def nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(depth - 1):
        value = {"k": value}
    return value


REJECTED: dict[str, Callable[[MemorySpace], object]] = {
    "pinned='no'": lambda ms: ms.add("x", pinned="no"),
    "pinned=1": lambda ms: ms.add("x", pinned=1),
    "update pinned='no'": lambda ms: ms.update(first_id(ms), pinned="no"),
    "id=[1, 2]": lambda ms: ms.add("x", id=[1, 2]),
    "id=''": lambda ms: ms.add("x", id=""),
    "id too long": lambda ms: ms.add("x", id="i" * 257),
    "add_many('hello')": lambda ms: ms.add_many("hello"),
    "add_many(one dict)": lambda ms: ms.add_many({"content": "x"}),
    "add_many(5)": lambda ms: ms.add_many(5),
    "add_many([5])": lambda ms: ms.add_many([5]),
    "meta={1: 'a'}": lambda ms: ms.add("x", meta={1: "a"}),
    "meta nested int key": lambda ms: ms.add("x", meta={"a": {2: "b"}}),
    "meta too deep": lambda ms: ms.add("x", meta=nested(40)),
    "meta NaN": lambda ms: ms.add("x", meta={"a": math.nan}),
    "meta 2**64": lambda ms: ms.add("x", meta={"a": 2**64}),
    "meta tuple": lambda ms: ms.add("x", meta={"a": (1, 2)}),
    "meta too large": lambda ms: ms.add("x", meta={"a": "m" * 100_001}),
    "meta surrogate": lambda ms: ms.add("x", meta={"a": "\ud800"}),
    "tags=[1]": lambda ms: ms.add("x", tags=[1]),
    "tags as a dict": lambda ms: ms.add("x", tags={"vip": 1}),
    "links=[5]": lambda ms: ms.add("x", links=[5]),
    "link id with a surrogate": lambda ms: ms.add("x", links=[{"id": "\ud800"}]),
    "link id too long": lambda ms: ms.add("x", links=[{"id": "l" * 257, "type": "supports"}]),
    "link strong='yes'": lambda ms: ms.add("x", links=[{"id": "a", "strong": "yes"}]),
    "user=5": lambda ms: ms.add("x", user=5),
    "user=''": lambda ms: ms.add("x", user=""),
    "session with NUL": lambda ms: ms.add("x", session="s\x00"),
    "kind=1": lambda ms: ms.add("x", kind=1),
    "timestamp in ms": lambda ms: ms.add("x", timestamp=START * 1000),
    "timestamp NaN": lambda ms: ms.add("x", timestamp=math.nan),
    "valid_to after 9999": lambda ms: ms.add("x", valid_to=MAX_TIME + 1),
    "ttl infinite": lambda ms: ms.add("x", ttl=math.inf),
    "actor=5": lambda ms: ms.add("x", actor=5),
    "delete(5)": lambda ms: ms.delete(5),
    "delete([[1]])": lambda ms: ms.delete([[1]]),
    "get([1, 2])": lambda ms: ms.get([1, 2]),
    "get_many('id')": lambda ms: ms.get_many(first_id(ms)),
    "get_many([None])": lambda ms: ms.get_many([None]),
    "history({})": lambda ms: ms.history({}),
    "forget(include_expired=True)": lambda ms: ms.forget(include_expired=True),
    "forget(include_archived=True)": lambda ms: ms.forget(include_archived=True),
    "forget(include_expired=1)": lambda ms: ms.forget(user="u", include_expired=1),
    "forget(all='yes')": lambda ms: ms.forget(all="yes"),
    "forget(query, all=True)": lambda ms: ms.forget("tea", all=True),
    "search 1,000,000 chars": lambda ms: ms.search("tea " * 250_000),
    "search surrogate": lambda ms: ms.search("tea \udc80"),
    "search k=10_001": lambda ms: ms.search("tea", k=10_001),
    "search k=True": lambda ms: ms.search("tea", k=True),
    "search touch='no'": lambda ms: ms.search("tea", touch="no"),
    "search pinned='no'": lambda ms: ms.search("tea", pinned="no"),
    "search kind=5": lambda ms: ms.search("tea", kind=5),
    "search tags=5": lambda ms: ms.search("tea", tags=5),
    "search meta 2**70": lambda ms: ms.search("tea", meta={"a": 2**70}),
    "search since=inf": lambda ms: ms.search("tea", since=math.inf),
    "context format": lambda ms: ms.context("tea", budget=100, format="html"),
    "context budget": lambda ms: ms.context("tea", budget=10**12),
    "scan offset=-1": lambda ms: list(ms.scan(offset=-1)),
    "scan limit=2**63": lambda ms: list(ms.scan(limit=2**63)),
    "scan newest_first=1": lambda ms: list(ms.scan(newest_first=1)),
    "count user=[]": lambda ms: ms.count(user=[]),
    "changes limit='5'": lambda ms: ms.changes(0, limit="5"),
    "changes since=-1": lambda ms: ms.changes(-1),
    "checkpoint 'daily\\n'": lambda ms: ms.checkpoint("daily\n"),
    "checkpoint overwrite=1": lambda ms: ms.checkpoint("daily", overwrite=1),
    "restore 'daily\\n'": lambda ms: ms.restore("daily\n"),
    "restore to_lsn=1.5": lambda ms: ms.restore(None, to_lsn=1.5),
    "as_of('1')": lambda ms: ms.as_of("1"),
    "gc collector=5": lambda ms: ms.gc(5),
    "gc dry_run=1": lambda ms: ms.gc(dry_run=1),
    "gc major='yes'": lambda ms: ms.gc("generational", major="yes"),
    "gc cold_after=NaN": lambda ms: ms.gc("mark_sweep", cold_after=math.nan),
    "gc sessions=['s']": lambda ms: ms.gc("mark_sweep", sessions=["s"]),
    "gc bounded idle_after=NaN": lambda ms: ms.gc("bounded", max_records=1, idle_after=math.nan),
    "gc policy={}": lambda ms: ms.gc(policy={}),
    "conversation user=5": lambda ms: ms.conversation(user=5),
    "conversation settings={}": lambda ms: ms.conversation(user="u", settings={}),
}


@pytest.mark.parametrize("attempt", list(REJECTED.values()), ids=list(REJECTED))
def test_bad_input_is_rejected_and_changes_nothing(
    ms: MemorySpace, attempt: Callable[[MemorySpace], object]
) -> None:
    before = (ms.count(), ms.lsn, [m.to_dict() for m in ms.scan()])
    with pytest.raises(InvalidInput):
        attempt(ms)
    assert (ms.count(), ms.lsn, [m.to_dict() for m in ms.scan()]) == before


def test_forget_everything_needs_all_true(ms: MemorySpace) -> None:
    with pytest.raises(InvalidInput, match="all=True"):
        ms.forget(include_expired=True, include_archived=True)
    assert ms.count() == 3
    assert len(ms.forget(all=True)) == 3
    assert ms.count() == 0


def test_accepted_values_are_stored_as_given(ms: MemorySpace) -> None:
    meta = {"a": [1, 2.5, None, True, {"b": "c"}], "deep": nested(31)}  # 32 levels with meta itself
    memory = ms.add("x", meta=meta, valid_from=0, tags=("a", "b"), pinned=False, id="my-id")
    stored = ms.get("my-id")
    assert stored.meta == memory.meta == meta
    assert stored.valid_from == memory.valid_from == 0.0  # 0 is a time, not "unset"
    assert stored.tags == ("a", "b")
    assert ms.add("y", timestamp=MIN_TIME).created_at == MIN_TIME
    assert ms.add("z", timestamp=MAX_TIME).created_at == MAX_TIME
    assert len(ms.search("tea", k=10_000, min_score=0)) == ms.count() == 6


def test_the_query_bound_is_a_setting(tmp_path: Path) -> None:
    with MemorySpace.open(
        tmp_path / "m.db", embedder=HashingEmbedder(), settings=Settings(max_query_chars=5)
    ) as ms:
        ms.add("tea")
        assert ms.search("tea")
        with pytest.raises(InvalidInput, match="max_query_chars"):
            ms.search("green tea")


@pytest.mark.parametrize(
    "fields",
    [
        {"candidates": "5"},
        {"max_content_chars": 0},
        {"max_query_chars": 2**60},
        {"dense_weight": math.nan},
        {"hot_tier_records": 0},
        {"hot_tier_tokens": 1.5},
        {"default_importance": 2},
        {"gc_fragmentation": -1},
        {"gc_trigger": ""},
        {"hot_tier_policy": None},
        {"token_counter": 5},
        {"max_records": 0},
    ],
    ids=str,
)
def test_settings_check_their_values(fields: dict[str, Any]) -> None:
    with pytest.raises(InvalidInput):
        Settings(**fields)


@pytest.mark.parametrize(
    "arguments",
    [
        {"path": 5},
        {"path": b"m.db"},
        {"path": ""},
        {"path": "m\x00.db"},
        {"path": "m.db", "settings": {}},
        {"path": "m.db", "embedder": 5},
        {"path": "m.db", "clock": 5},
        {"path": "m.db", "settings": Settings(gc_trigger="growth", gc_collector="nope")},
        {"path": "m.db", "settings": Settings(gc_trigger="nope")},
        {"path": "m.db", "settings": Settings(hot_tier_policy="nope")},
    ],
    ids=str,
)
def test_open_checks_its_arguments(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, arguments: dict[str, Any]
) -> None:
    monkeypatch.chdir(tmp_path)
    path = arguments.pop("path")
    with pytest.raises(InvalidInput):
        MemorySpace.open(path, **arguments)
    assert list(tmp_path.iterdir()) == []


def file_digests(folder: Path) -> dict[str, str]:
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not p.name.endswith("-shm")
    }


@pytest.mark.parametrize(
    "attempt",
    [
        lambda ms: ms.checkpoint("daily"),  # exists
        lambda ms: ms.restore("weekly"),  # no such checkpoint
        lambda ms: ms.restore("daily", to_lsn=10**6),  # past the end of the log
    ],
    ids=["checkpoint exists", "no such checkpoint", "LSN past the end"],
)
def test_a_refused_checkpoint_or_restore_writes_nothing(
    tmp_path: Path, attempt: Callable[[MemorySpace], object]
) -> None:
    with MemorySpace.open(tmp_path / "m.db", embedder=HashingEmbedder()) as ms:
        ms.add("green tea")
        ms.checkpoint("daily")
        ms.search("tea")  # batched access counters, waiting to be written
        before = file_digests(tmp_path)
        with pytest.raises(MemorySpaceError):
            attempt(ms)
        assert file_digests(tmp_path) == before
        assert ms.search("tea", touch=False)[0].memory.access_count == 1  # still counted
