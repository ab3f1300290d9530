"""The contract every ``Store`` implementation honours, as a reusable pytest mixin.

A backend's test module subclasses ``StoreContract`` and implements ``make_store`` (and
``reopen`` when its databases outlive the store object); pytest then runs every test here
against it::

    class TestSQLiteFileStore(StoreContract):
        def make_store(self, tmp_path, clock):
            return SQLiteStore(tmp_path / "space.db", clock=clock)

This module's name does not start with ``test_``, so pytest only collects the subclasses.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from memoryspace.errors import Closed, Conflict, InvalidInput, NotFound, ReadOnly
from memoryspace.fingerprint import ContentKey
from memoryspace.heapview import HeapEntry
from memoryspace.models import Filter, Kind, Link, LinkType, Memory, Op
from memoryspace.store.base import IndexDelta, Store, Vector

VectorTuple = tuple[float, ...]
State = dict[str, tuple[dict[str, Any], VectorTuple | None]]


class FakeClock:
    """A clock that moves only when a test says so (plus ``step`` on every read)."""

    def __init__(self, start: float = 1_000.0, step: float = 0.0) -> None:
        self.now = start
        self.step = step

    def __call__(self) -> float:
        now = self.now
        self.now += self.step
        return now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def make_memory(id: str, content: str | None = None, **fields: Any) -> Memory:
    """A memory with plausible times; ``fields`` override any attribute."""
    fields.setdefault("created_at", 100.0)
    fields.setdefault("updated_at", fields["created_at"])
    return Memory(id=id, content=content if content is not None else f"note {id}", **fields)


def vec(*values: float) -> Vector:
    return np.array(values, dtype=np.float32)


def as_tuple(vector: Vector | None) -> VectorTuple | None:
    return None if vector is None else tuple(float(x) for x in vector)


def live_state(store: Store) -> State:
    """Every record's logged fields and vector, by id: what the log must be able to rebuild."""
    memories = list(store.scan(Filter(include_archived=True)))
    keys = {m.id: store.key_of(m.id) for m in memories}
    vectors = store.vectors(list(keys.values()))
    return {m.id: (m.content_state(), as_tuple(vectors.get(keys[m.id]))) for m in memories}


def all_vectors(store: Store) -> dict[int, VectorTuple]:
    """Every stored vector, by key, read through ``iter_vectors``."""
    out: dict[int, VectorTuple] = {}
    for keys, matrix in store.iter_vectors(batch=2):
        assert len(keys) == len(matrix)
        for key, row in zip(keys.tolist(), matrix, strict=True):
            assert key not in out, "iter_vectors returned a key twice"
            out[int(key)] = tuple(float(x) for x in row)
    return out


def follow(index: dict[int, VectorTuple], deltas: Iterable[IndexDelta]) -> dict[int, VectorTuple]:
    """Apply index deltas to a dict standing in for a vector index, as an index would."""
    for delta in deltas:
        if delta.op in (Op.DELETE, Op.PURGE):
            index.pop(delta.key, None)
        elif delta.vector is not None:
            index[delta.key] = tuple(float(x) for x in delta.vector)
        elif delta.op is Op.ADD:
            index.pop(delta.key, None)
        else:
            raise AssertionError(f"an update delta without a vector: {delta}")
    return index


def ids_of(store: Store, hits: Iterable[tuple[int, float]]) -> list[str]:
    keys = [key for key, _ in hits]
    found = store.get_by_keys(keys)
    return [found[key].id for key in keys]


@contextmanager
def opened(view: Store) -> Iterator[Store]:
    try:
        yield view
    finally:
        view.close()


# A small space where every filter selects a different subset; NOW is after m4 expired.
NOW = 1_000.0
FILTER_SPACE = [
    make_memory(
        "m1",
        "alpha",
        kind=Kind.TURN,
        user="u1",
        agent="a1",
        session="s1",
        tags=("x", "y"),
        created_at=10.0,
        meta={"lang": "en", "n": 1, "ok": True, "gone": None},
    ),
    make_memory(
        "m2",
        "beta",
        kind=Kind.FACT,
        user="u1",
        agent="a2",
        session="s2",
        tags=("x",),
        created_at=20.0,
        meta={"lang": "de", "n": 2, "ok": False},
        pinned=True,
        valid_from=15.0,
        valid_to=25.0,
    ),
    make_memory(
        "m3",
        "gamma",
        kind=Kind.NOTE,
        user="u2",
        agent="a1",
        session="s1",
        tags=("y",),
        created_at=30.0,
        meta={"lang": "en", "n": 2},
        valid_from=25.0,
    ),
    make_memory("m4", "delta", kind=Kind.TURN, created_at=40.0, expires_at=500.0),
    make_memory(
        "m5",
        "epsilon",
        kind=Kind.FACT,
        user="u2",
        agent="a2",
        session="s3",
        created_at=50.0,
        expires_at=2_000.0,
        meta={"n": 1, "ok": True},
    ),
]
FILTER_CASES: list[tuple[dict[str, Any], set[str]]] = [
    ({}, {"m1", "m2", "m3", "m5"}),
    ({"include_expired": True}, {"m1", "m2", "m3", "m4", "m5"}),
    ({"user": "u1"}, {"m1", "m2"}),
    ({"agent": "a1"}, {"m1", "m3"}),
    ({"session": "s1"}, {"m1", "m3"}),
    ({"user": "u2", "agent": "a2"}, {"m5"}),
    ({"user": "nobody"}, set()),
    ({"kind": "fact"}, {"m2", "m5"}),
    ({"kind": ["turn", "note"]}, {"m1", "m3"}),
    ({"kind": "turn", "include_expired": True}, {"m1", "m4"}),
    ({"tags": "y"}, {"m1", "m3"}),
    ({"tags": ["x"]}, {"m1", "m2"}),
    ({"tags": ["x", "y"]}, {"m1"}),
    ({"since": 20.0}, {"m2", "m3", "m5"}),
    ({"until": 30.0}, {"m1", "m2"}),
    ({"since": 20.0, "until": 40.0, "include_expired": True}, {"m2", "m3"}),
    ({"valid_at": 20.0}, {"m1", "m2", "m5"}),
    ({"valid_at": 25.0}, {"m1", "m3", "m5"}),
    ({"meta": {"lang": "en"}}, {"m1", "m3"}),
    ({"meta": {"n": 2}}, {"m2", "m3"}),
    ({"meta": {"ok": True}}, {"m1", "m5"}),
    ({"meta": {"ok": False}}, {"m2"}),
    ({"meta": {"gone": None}}, {"m1"}),
    ({"meta": {"lang": "en", "n": 2}}, {"m3"}),
    # JSON semantics on every backend: true is not 1, 1 is not true, "1" is not 1.
    ({"meta": {"ok": 1}}, set()),
    ({"meta": {"n": True}}, set()),
    ({"meta": {"n": "1"}}, set()),
    ({"meta": {"n": 1.0}}, {"m1", "m5"}),
    ({"pinned": True}, {"m2"}),
    ({"pinned": False}, {"m1", "m3", "m5"}),
]


class StoreContract:
    """Behaviour every ``Store`` shows. Subclasses implement ``make_store``."""

    def make_store(self, tmp_path: Path, clock: FakeClock) -> Store:
        raise NotImplementedError("a contract subclass must say how to make its store")

    def reopen(self, store: Store, clock: FakeClock) -> Store | None:
        """A new store object on ``store``'s (closed) database, or None if it cannot outlive it."""
        return None

    @pytest.fixture
    def clock(self) -> FakeClock:
        return FakeClock()

    @pytest.fixture
    def store(self, tmp_path: Path, clock: FakeClock) -> Iterator[Store]:
        store = self.make_store(tmp_path, clock)
        yield store
        store.close()

    # -- records

    def test_insert_then_get_returns_every_field(self, store: Store) -> None:
        memory = Memory(
            id="full",
            content="Zoë moved to Zürich — 東京 next 🚀",
            kind=Kind.FACT,
            user="ülrich",
            agent="planner",
            session="s-1",
            meta={
                "city": "Zürich",
                "n": 3,
                "ratio": 0.5,
                "ok": True,
                "none": None,
                "nested": {"list": [1, "二", None]},
            },
            tags=("travel", "straße"),
            links=(Link.to("other-1"), Link.to("other-2", LinkType.DERIVED_FROM)),
            tokens=17,
            importance=0.875,
            pinned=True,
            created_at=100.25,
            updated_at=101.5,
            valid_from=90.0,
            valid_to=200.0,
            expires_at=5_000.0,
        )
        store.insert([(memory, None)])
        got = store.get("full")
        assert got == memory.evolve(version=store.last_lsn())
        assert got.kind is Kind.FACT
        assert isinstance(got.tags, tuple) and isinstance(got.links, tuple)
        assert got.access_count == 0 and got.last_access is None

    def test_none_scopes_and_defaults_round_trip(self, store: Store) -> None:
        memory = Memory(id="bare", content="just text")
        store.insert([(memory, None)])
        got = store.get("bare")
        assert got == memory.evolve(version=store.last_lsn())
        assert (got.user, got.agent, got.session) == (None, None, None)
        assert got.valid_from is None and got.valid_to is None and got.expires_at is None

    def test_get_many_keeps_the_order_asked_and_skips_unknown_ids(self, store: Store) -> None:
        store.insert([(make_memory(i), None) for i in ("a", "b", "c")])
        assert [m.id for m in store.get_many(["c", "nope", "a"])] == ["c", "a"]
        keys = {i: store.key_of(i) for i in ("a", "b", "c")}
        assert len(set(keys.values())) == 3
        by_key = store.get_by_keys([keys["b"], keys["a"], 999_999])
        assert {k: m.id for k, m in by_key.items()} == {keys["b"]: "b", keys["a"]: "a"}

    def test_get_of_an_unknown_id_raises_not_found(self, store: Store) -> None:
        with pytest.raises(NotFound) as caught:
            store.get("missing")
        assert isinstance(caught.value, KeyError)
        with pytest.raises(NotFound):
            store.key_of("missing")

    def test_insert_returns_one_logged_change_per_item(
        self, store: Store, clock: FakeClock
    ) -> None:
        items = [(make_memory(i), None) for i in ("a", "b", "c")]
        changes = store.insert(items, actor="importer")
        assert [c.op for c in changes] == [Op.ADD] * 3
        assert [c.after for c in changes] == [
            m.evolve(version=c.lsn) for (m, _), c in zip(items, changes, strict=True)
        ]
        assert all(c.before is None and c.actor == "importer" for c in changes)
        assert all(c.time == clock.now for c in changes)
        lsns = [c.lsn for c in changes]
        assert lsns == sorted(set(lsns)) and lsns[-1] == store.last_lsn()
        assert store.changes() == changes

    def test_a_transaction_commits_its_writes_together_or_not_at_all(self, store: Store) -> None:
        store.insert([(make_memory("a", "first"), None)])
        lsn = store.last_lsn()
        with pytest.raises(RuntimeError), store.transaction():
            store.insert([(make_memory("b", "bravo"), vec(1, 2))])
            store.update("a", {"content": "changed"})
            with store.transaction():  # a nested one joins the outer
                store.delete(["a"])
            raise RuntimeError("the caller failed half way")
        assert store.get("a").content == "first"
        with pytest.raises(NotFound):
            store.get("b")
        assert store.last_lsn() == lsn
        with store.transaction():
            store.insert([(make_memory("b", "bravo"), vec(1, 2))])
            store.update("a", {"content": "changed"})
        assert [c.op for c in store.changes(lsn)] == [Op.ADD, Op.UPDATE]
        assert store.get("a").content == "changed" and store.get("b").content == "bravo"

    def test_duplicate_id_is_a_conflict_and_inserts_nothing(self, store: Store) -> None:
        store.insert([(make_memory("a", "first"), None)])
        lsn = store.last_lsn()
        with pytest.raises(Conflict):
            store.insert([(make_memory("a", "second"), None)])
        assert store.get("a").content == "first"
        assert store.last_lsn() == lsn

    def test_a_batch_with_one_duplicate_inserts_none_of_it(self, store: Store) -> None:
        store.insert([(make_memory("a"), None)])
        lsn = store.last_lsn()
        batch = [
            (make_memory("b", "bravo"), vec(1, 2)),
            (make_memory("a"), None),
            (make_memory("c", "charlie"), None),
        ]
        with pytest.raises(Conflict):
            store.insert(batch)
        with pytest.raises(Conflict):  # a duplicate inside the batch itself
            store.insert([(make_memory("d"), None), (make_memory("d"), None)])
        assert [m.id for m in store.scan()] == ["a"]
        assert store.last_lsn() == lsn
        assert store.text_search(["bravo", "charlie"], 10) == []
        assert all_vectors(store) == {}

    def test_update_replaces_fields_and_full_text_follows(self, store: Store) -> None:
        old = make_memory("a", "an apple orchard", tags=("kiwi",), importance=0.2)
        store.insert([(old, None)])
        added = store.last_lsn()
        patch = {
            "content": "a banana plantation",
            "tags": ("mango",),
            "importance": 0.9,
            "kind": Kind.FACT,
            "user": "u",
            "meta": {"k": "v"},
            "updated_at": 150.0,
        }
        change = store.update("a", patch, actor="editor")
        new = old.evolve(**patch, version=change.lsn)
        assert store.get("a") == new
        assert (change.op, change.before, change.after, change.actor) == (
            Op.UPDATE,
            old.evolve(version=added),
            new,
            "editor",
        )
        key = store.key_of("a")
        for word in ("apple", "orchard", "kiwi"):
            assert store.text_search([word], 10) == [], word
        for word in ("banana", "plantation", "mango"):
            assert [k for k, _ in store.text_search([word], 10)] == [key], word

    def test_update_keeps_the_vector_unless_given_a_new_one(self, store: Store) -> None:
        memory = make_memory("a")
        store.insert([(memory, vec(1, 0, 0))])
        key = store.key_of("a")
        store.update("a", {"content": "edited"})
        assert as_tuple(store.vectors([key])[key]) == (1.0, 0.0, 0.0)
        store.update("a", {"content": "edited again"}, vector=vec(0, 0.5, 1))
        assert as_tuple(store.vectors([key])[key]) == (0.0, 0.5, 1.0)
        assert store.key_of("a") == key

    def test_update_of_an_unknown_id_raises_not_found_and_logs_nothing(self, store: Store) -> None:
        lsn = store.last_lsn()
        with pytest.raises(NotFound):
            store.update("ghost", {"content": "boo"})
        assert store.last_lsn() == lsn
        assert store.count() == 0

    def test_a_record_version_is_the_lsn_of_its_last_change(self, store: Store) -> None:
        store.insert([(make_memory("a"), None)])
        assert store.get("a").version == store.last_lsn()
        store.touch([store.key_of("a")], when=5.0)
        store.flush()  # reads are counters, not changes
        assert store.get("a").version == store.last_lsn()
        change = store.update("a", {"importance": 0.7})
        assert store.get("a").version == change.lsn == store.last_lsn()
        assert store.history("a")[1].before.version == store.history("a")[0].lsn  # type: ignore[union-attr]

    def test_a_patch_keeps_the_fields_it_does_not_name(self, store: Store) -> None:
        store.insert([(make_memory("a", "first text"), vec(1, 0))])
        store.update("a", {"tags": ("vip",), "importance": 0.9})
        store.update("a", {"content": "second text"}, vector=vec(0, 1))
        got = store.get("a")
        assert (got.content, got.tags, got.importance) == ("second text", ("vip",), 0.9)
        key = store.key_of("a")
        assert as_tuple(store.vectors([key])[key]) == (0.0, 1.0)

    def test_if_version_refuses_a_change_made_from_an_old_copy(self, store: Store) -> None:
        store.insert([(make_memory("a"), None)])
        seen = store.get("a").version
        store.update("a", {"importance": 0.1}, if_version=seen)
        lsn = store.last_lsn()
        with pytest.raises(Conflict):
            store.update("a", {"importance": 0.9}, if_version=seen)
        assert store.get("a").importance == 0.1 and store.last_lsn() == lsn

    def test_a_patch_of_an_unknown_field_changes_nothing(self, store: Store) -> None:
        store.insert([(make_memory("a"), None)])
        lsn = store.last_lsn()
        for bad in ({"id": "b"}, {"access_count": 5}, {"nonsense": 1}):
            with pytest.raises(InvalidInput):
                store.update("a", bad)
        assert store.last_lsn() == lsn

    def test_delete_removes_record_vector_and_full_text(self, store: Store) -> None:
        store.insert(
            [
                (make_memory("a", "unique walrus"), vec(1, 1)),
                (make_memory("b", "plain walrus"), vec(2, 2)),
            ]
        )
        key_a, key_b = store.key_of("a"), store.key_of("b")
        changes = store.delete(["a"], actor="gc")
        assert [(c.op, c.id, c.after, c.actor) for c in changes] == [(Op.DELETE, "a", None, "gc")]
        assert changes[0].before is not None and changes[0].before.content == "unique walrus"
        with pytest.raises(NotFound):
            store.get("a")
        assert dict(store.vectors([key_a, key_b])).keys() == {key_b}
        assert all_vectors(store) == {key_b: (2.0, 2.0)}
        assert store.text_search(["unique"], 10) == []
        assert [k for k, _ in store.text_search(["walrus"], 10)] == [key_b]
        assert store.count() == 1

    def test_delete_of_a_batch_with_an_unknown_id_deletes_nothing(self, store: Store) -> None:
        store.insert([(make_memory("a"), vec(1)), (make_memory("b"), None)])
        lsn = store.last_lsn()
        with pytest.raises(NotFound):
            store.delete(["a", "ghost", "b"])
        assert [m.id for m in store.scan()] == ["a", "b"]
        assert len(all_vectors(store)) == 1
        assert store.last_lsn() == lsn

    # -- filters, counting and scanning

    @pytest.mark.parametrize(("kwargs", "expected"), FILTER_CASES)
    def test_filter_selects(self, store: Store, kwargs: dict[str, Any], expected: set[str]) -> None:
        store.insert([(m, None) for m in FILTER_SPACE])
        flt = Filter.build(**kwargs)
        assert {m.id for m in store.scan(flt, now=NOW)} == expected
        assert store.count(flt, now=NOW) == len(expected)
        keys = store.filter_keys(flt, now=NOW).tolist()
        assert {m.id for m in store.get_by_keys(keys).values()} == expected

    def test_gc_fields_round_trip_through_the_log(self, store: Store) -> None:
        store.insert([(make_memory("g", generation=1, archived=True), None)])
        assert store.get("g").generation == 1 and store.get("g").archived is True
        store.update("g", {"archived": False, "generation": 2})
        history = store.history("g")
        assert history[0].after is not None and history[0].after.archived is True
        assert history[1].after is not None and history[1].after.generation == 2
        with opened(store.as_of(history[0].lsn)) as past:
            assert past.get("g").archived is True

    def test_heap_is_every_live_record_without_its_content(self, store: Store) -> None:
        store.insert(
            [
                (make_memory("a", "alpha", session="s", meta={"page": True}, tags=("x",)), None),
                (make_memory("b", "beta", links=(Link.to("a", LinkType.DERIVED_FROM),)), None),
                (make_memory("gone", "gamma", archived=True), None),
                (make_memory("old", "delta", expires_at=NOW - 10, created_at=NOW - 20), None),
            ]
        )
        store.update("a", {"importance": 0.9, "pinned": True})
        store.touch([store.key_of("b")], NOW)
        store.flush()
        heap = {entry.id: entry for entry in store.heap()}
        whole = {m.id: m for m in store.scan(Filter(include_expired=True))}
        assert set(heap) == set(whole) == {"a", "b", "old"}  # archived left out, expired kept
        assert [e.id for e in store.heap()] == [m.id for m in whole.values()]  # creation order
        fields = [f for f in HeapEntry.__dataclass_fields__ if f != "links"]
        for id, entry in heap.items():
            assert {f: getattr(entry, f) for f in fields} == {
                f: getattr(whole[id], f) for f in fields
            }
            assert entry.links == whole[id].links
        assert heap["b"].link_ids(strong=True) == ["a"] and heap["b"].access_count == 1
        assert heap["a"].meta == {"page": True} and heap["a"].tags == ("x",)

    def test_archived_records_are_hidden_unless_asked_for(self, store: Store) -> None:
        store.insert(
            [
                (make_memory("live", "harbor lights", session="s"), vec(1, 0)),
                (make_memory("gone", "harbor fog", session="s", archived=True), vec(0, 1)),
            ]
        )
        visible = Filter()
        everything = Filter(include_archived=True)
        assert [m.id for m in store.scan(visible)] == ["live"]
        assert store.count(visible, now=NOW) == 1
        assert {m.id for m in store.scan(everything)} == {"live", "gone"}
        assert store.count(everything, now=NOW) == 2
        assert ids_of(store, store.text_search(["harbor"], 10)) == ["live"]
        assert set(ids_of(store, store.text_search(["harbor"], 10, everything))) == {"live", "gone"}
        assert set(ids_of(store, store.text_search(["harbor"], 10, Filter(session="s")))) == {
            "live"
        }
        keys = store.filter_keys(Filter(session="s"), now=NOW).tolist()
        assert [m.id for m in store.get_by_keys(keys).values()] == ["live"]
        assert store.get("gone").archived  # get still finds it

    def test_expiry_is_judged_at_the_time_given(self, store: Store) -> None:
        store.insert([(m, None) for m in FILTER_SPACE])
        m4 = Filter.build(kind="turn", since=40.0)
        assert store.count(m4, now=499.0) == 1
        assert store.count(m4, now=500.0) == 0  # expires_at is the first instant it is gone
        assert store.count(m4) == 1  # no time given: nothing counts as expired

    def test_closed_memories_are_left_out_only_when_asked(self, store: Store) -> None:
        store.insert(
            [
                (make_memory("old", valid_to=200.0), None),
                (make_memory("now", valid_from=200.0), None),
                (make_memory("open"), None),
            ]
        )
        current = Filter.build(include_closed=False)
        assert {m.id for m in store.scan(current, now=300.0)} == {"now", "open"}
        assert store.count(current, now=150.0) == 3  # closed only from valid_to on
        assert store.count(Filter(), now=300.0) == 3  # the default keeps closed ones
        past = Filter.build(include_closed=False, valid_at=150.0)
        assert {m.id for m in store.scan(past, now=300.0)} == {"old", "open"}

    def test_scan_orders_by_creation_time_with_limit_and_offset(self, store: Store) -> None:
        store.insert(
            [
                (make_memory(i, created_at=t), None)
                for i, t in (("c", 30.0), ("a", 10.0), ("d", 30.0), ("b", 20.0))
            ]
        )
        assert [m.id for m in store.scan()] == ["a", "b", "c", "d"]
        assert [m.id for m in store.scan(newest_first=True)] == ["d", "c", "b", "a"]
        assert [m.id for m in store.scan(limit=2)] == ["a", "b"]
        assert [m.id for m in store.scan(limit=2, offset=1)] == ["b", "c"]
        assert [m.id for m in store.scan(offset=3)] == ["d"]
        assert [m.id for m in store.scan(newest_first=True, limit=1, offset=1)] == ["c"]
        assert [m.id for m in store.scan(Filter.build(since=20.0), limit=2)] == ["b", "c"]
        assert store.count() == 4

    # -- full text

    def test_text_search_ranks_a_rare_term_first(self, store: Store) -> None:
        store.insert(
            [
                (make_memory("d1", "the cat sat on the mat"), None),
                (make_memory("d2", "the dog chased the cat", user="u2"), None),
                (make_memory("d3", "a platypus swam past the cat"), None),
                (make_memory("d4", "nothing to see here"), None),
            ]
        )
        hits = store.text_search(["platypus", "cat"], 10)
        assert ids_of(store, hits)[0] == "d3"
        assert set(ids_of(store, hits)) == {"d1", "d2", "d3"}
        scores = [s for _, s in hits]
        assert scores == sorted(scores, reverse=True)
        assert scores[0] > scores[1]
        assert len(store.text_search(["platypus", "cat"], 2)) == 2
        assert store.text_search([], 10) == []
        assert store.text_search(["absent"], 10) == []

    def test_text_search_respects_the_filter(self, store: Store) -> None:
        store.insert(
            [
                (make_memory("d1", "the cat sat on the mat", user="u1"), None),
                (make_memory("d2", "the dog chased the cat", user="u2"), None),
                (make_memory("d3", "an old cat", user="u2", expires_at=50.0), None),
            ]
        )
        assert ids_of(store, store.text_search(["cat"], 10, Filter.build(user="u2"), now=NOW)) == [
            "d2"
        ]
        everything = Filter.build(user="u2", include_expired=True)
        assert set(ids_of(store, store.text_search(["cat"], 10, everything, now=NOW))) == {
            "d2",
            "d3",
        }

    def test_text_search_covers_tags(self, store: Store) -> None:
        store.insert([(make_memory("a", "unrelated words", tags=("gardening",)), None)])
        assert ids_of(store, store.text_search(["gardening"], 5)) == ["a"]

    def test_text_search_folds_diacritics_both_ways(self, store: Store) -> None:
        store.insert(
            [
                (make_memory("a", "a café crème near Zürich station"), None),
                (make_memory("b", "the naive resume of Sao Paulo"), None),
            ]
        )
        assert ids_of(store, store.text_search(["cafe"], 5)) == ["a"]
        assert ids_of(store, store.text_search(["zurich"], 5)) == ["a"]
        assert ids_of(store, store.text_search(["naïve", "résumé"], 5)) == ["b"]
        assert ids_of(store, store.text_search(["São"], 5)) == ["b"]

    def test_another_scopes_memories_do_not_change_this_scopes_bm25(self, store: Store) -> None:
        store.insert(
            [
                (make_memory("a1", "kiwi kiwi kiwi", user="alice"), None),
                (make_memory("a2", "mango mango", user="alice"), None),
                (make_memory("a3", "nothing relevant", user="alice"), None),
            ]
        )
        alice = Filter.build(user="alice")
        before = store.text_search(["kiwi", "mango"], 10, alice, now=NOW)
        # Bob's memories make "kiwi" common across the table, not within Alice's scope.
        store.insert(
            [(make_memory(f"b{i}", f"kiwi note {i}", user="bob"), None) for i in range(40)]
        )
        after = store.text_search(["kiwi", "mango"], 10, alice, now=NOW)
        assert ids_of(store, after) == ids_of(store, before) == ["a1", "a2"]
        assert [s for _, s in after] == pytest.approx([s for _, s in before], rel=0.2)
        # Unscoped, table-wide statistics apply: "kiwi" is now common and mango outranks it.
        everyone = ids_of(store, store.text_search(["kiwi", "mango"], 50, now=NOW))
        assert everyone.index("a2") < everyone.index("a1")

    def test_text_search_finds_a_turn_through_its_dialogue_context(self, store: Store) -> None:
        turns = [
            "where did you move from",
            "Sweden, years ago",
            "do you miss it",
            "sometimes, mostly the food",
            "unrelated chatter",
        ]
        store.insert(
            [
                (make_memory(f"t{i}", text, session="s", created_at=100.0 + i), None)
                for i, text in enumerate(turns)
            ]
        )
        store.insert([(make_memory("x", "where is the station", session="other"), None)])
        # "move" is only in t0; t1 (the answer) and t2 hold it in their context (radius 2).
        found = ids_of(store, store.text_search(["move"], 10))
        assert found[0] == "t0" and set(found) == {"t0", "t1", "t2"}
        assert ids_of(store, store.text_search(["move"], 10, with_context=False)) == ["t0"]

    def test_dialogue_context_follows_updates_and_deletes(self, store: Store) -> None:
        turns = ["alpha", "bravo", "charlie", "delta", "echo"]
        store.insert(
            [
                (make_memory(f"t{i}", text, session="s", created_at=100.0 + i), None)
                for i, text in enumerate(turns)
            ]
        )
        assert set(ids_of(store, store.text_search(["echo"], 10))) == {"t4", "t3", "t2"}
        store.delete(["t3"])  # t1 now sits within two turns of t4
        assert set(ids_of(store, store.text_search(["echo"], 10))) == {"t4", "t2", "t1"}
        store.update("t4", {"content": "foxtrot"})
        assert ids_of(store, store.text_search(["echo"], 10)) == []
        assert set(ids_of(store, store.text_search(["foxtrot"], 10))) == {"t4", "t2", "t1"}
        store.update("t0", {"session": "elsewhere"})  # moved out of the session
        assert set(ids_of(store, store.text_search(["alpha"], 10))) == {"t0"}

    # -- vectors

    def test_vectors_round_trip_exactly(self, store: Store) -> None:
        vectors = {"a": vec(0.1, -2.5, 3e-8), "b": vec(1e10, 0, -0.0)}
        store.insert([(make_memory(i), v) for i, v in vectors.items()])
        store.insert([(make_memory("c"), None)])
        keys = {i: store.key_of(i) for i in ("a", "b", "c")}
        got = store.vectors(list(keys.values()))
        assert set(got) == {keys["a"], keys["b"]}
        for id, vector in vectors.items():
            assert got[keys[id]].dtype == np.float32
            assert np.array_equal(got[keys[id]], vector)

    def test_iter_vectors_covers_every_vector_once(self, store: Store) -> None:
        store.insert([(make_memory(f"m{i}"), vec(i, -i, 0.5)) for i in range(5)])
        store.insert([(make_memory("novec"), None)])
        expected = {store.key_of(f"m{i}"): (float(i), float(-i), 0.5) for i in range(5)}
        assert all_vectors(store) == expected

    # -- access counters

    def test_touch_and_flush_count_accesses_without_logging(self, store: Store) -> None:
        store.insert([(make_memory("a"), None), (make_memory("b"), None)])
        key_a, key_b = store.key_of("a"), store.key_of("b")
        lsn = store.last_lsn()
        store.touch([key_a, key_b, key_a], when=500.0)
        store.touch([key_a], when=400.0)
        store.flush()
        a, b = store.get("a"), store.get("b")
        assert (a.access_count, a.last_access) == (3, 500.0)
        assert (b.access_count, b.last_access) == (1, 500.0)
        assert store.last_lsn() == lsn
        assert store.changes(since_lsn=lsn) == []
        store.touch([key_b], when=600.0)  # later flushes add to the stored counts
        store.flush()
        b = store.get("b")
        assert (b.access_count, b.last_access) == (2, 600.0)
        store.update("a", {"content": "edited"})  # an edit keeps the counters
        assert store.get("a").access_count == 3

    def test_touch_of_a_deleted_key_is_harmless(self, store: Store) -> None:
        store.insert([(make_memory("a"), None)])
        old_key = store.key_of("a")
        store.touch([old_key], when=10.0)
        store.delete(["a"])
        store.touch([old_key], when=20.0)
        store.flush()
        store.insert([(make_memory("a"), None)])  # the same id again starts from zero
        store.flush()
        assert store.get("a").access_count == 0
        assert store.count() == 1

    # -- the log

    def test_every_write_appends_exactly_one_change(self, store: Store, clock: FakeClock) -> None:
        v1 = make_memory("a", "first")
        added = store.insert([(v1, None)], actor="me")
        clock.advance(5)
        updated = store.update("a", {"content": "second", "pinned": True}, actor="me")
        clock.advance(5)
        deleted = store.delete(["a"], actor="me")
        log = store.changes()
        assert log == [*added, updated, *deleted]
        v1 = v1.evolve(version=log[0].lsn)
        v2 = v1.evolve(content="second", pinned=True, version=log[1].lsn)
        assert [(c.op, c.before, c.after) for c in log] == [
            (Op.ADD, None, v1),
            (Op.UPDATE, v1, v2),
            (Op.DELETE, v2, None),
        ]
        assert [c.time for c in log] == [1_000.0, 1_005.0, 1_010.0]
        assert all(a.lsn < b.lsn for a, b in pairwise(log))

    def test_changes_tails_the_log(self, store: Store) -> None:
        store.insert([(make_memory(f"m{i}"), None) for i in range(5)])
        log = store.changes()
        middle = log[1].lsn
        assert store.changes(since_lsn=middle) == log[2:]
        assert store.changes(since_lsn=middle, limit=2) == log[2:4]
        assert store.changes(since_lsn=store.last_lsn()) == []

    def test_history_outlives_the_record(self, store: Store) -> None:
        memory = make_memory("a")
        store.insert([(memory, None), (make_memory("b"), None)])
        store.update("a", {"content": "changed"})
        store.delete(["a"])
        assert [c.op for c in store.history("a")] == [Op.ADD, Op.UPDATE, Op.DELETE]
        assert {c.id for c in store.history("a")} == {"a"}
        with pytest.raises(NotFound):
            store.history("never-stored")

    def test_index_deltas_cover_adds_deletes_and_vector_changes_only(self, store: Store) -> None:
        a, b = make_memory("a"), make_memory("b")
        store.insert([(a, vec(1, 0)), (b, None)])
        key_a, key_b = store.key_of("a"), store.key_of("b")
        store.update(a.id, {"content": "text only"})
        after_text_edit = store.last_lsn()
        store.update(b.id, {"content": "and a vector"}, vector=vec(0, 1))
        store.delete(["a"])
        got = [(d.op, d.key, as_tuple(d.vector)) for d in store.index_deltas(0)]
        assert got == [
            (Op.ADD, key_a, (1.0, 0.0)),
            (Op.ADD, key_b, None),
            (Op.UPDATE, key_b, (0.0, 1.0)),
            (Op.DELETE, key_a, None),
        ]
        tail = list(store.index_deltas(after_text_edit))
        assert [(d.op, d.key) for d in tail] == [(Op.UPDATE, key_b), (Op.DELETE, key_a)]
        assert all(d.lsn > after_text_edit for d in tail)
        assert follow({}, store.index_deltas(0)) == all_vectors(store)

    # -- erasure (memoryspace.store.erasure)

    def test_purge_erases_a_record_from_every_past_state(self, store: Store) -> None:
        steps = self._history(store)  # a edited, b deleted, c; checkpoint "base" holds a and b
        texts = ["alpha one", "alpha changed", "beta two"]
        report = store.purge(["a", "b", "never-stored"], texts=texts, actor="dpo")
        assert report.ids == ("a", "b") and report.records == 1 and report.log_entries == 4
        assert [c.op for c in store.history("a")] == [Op.ADD, Op.UPDATE, Op.PURGE]
        assert all(c.before is None and c.after is None for c in store.history("b"))
        assert store.history("b")[-1].actor == "dpo" and report.lsn == store.last_lsn()
        for lsn, state in steps:
            with opened(store.as_of(lsn)) as past:
                assert live_state(past) == {i: s for i, s in state.items() if i not in "ab"}
        assert follow({}, store.index_deltas(0)) == all_vectors(store)
        assert store.text_search(["alpha", "beta"], 5) == []
        assert [m.id for m in store.scan()] == ["c"]
        assert store.purge(["a"]).ids == ()  # erased already: nothing logged
        assert [c.op for c in store.history("a")] == [Op.ADD, Op.UPDATE, Op.PURGE]

    def test_ever_stored_finds_deleted_records_through_the_log(self, store: Store) -> None:
        store.insert(
            [
                (make_memory("a", user="u1"), None),
                (make_memory("b", user="u2"), None),
                (make_memory("c", user="u1", session="s"), None),
            ]
        )
        store.delete(["a"])
        assert store.ever_stored(user="u1") == ["a", "c"]
        assert store.ever_stored(user="u1", session="s") == ["c"]
        assert store.ever_stored(agent="nobody") == []

    # -- checkpoints and restore

    def _history(self, store: Store) -> list[tuple[int, State]]:
        """Writes a small history: (LSN, live state) at the start and after each of 4 steps.

        Step 1 adds a and b (checkpoint "base" is taken there), 2 edits a and its vector,
        3 adds c, 4 deletes b.
        """
        steps = [(store.last_lsn(), live_state(store))]
        a, b = make_memory("a", "alpha one"), make_memory("b", "beta two")
        store.insert([(a, vec(1, 0)), (b, vec(0, 1))])
        steps.append((store.last_lsn(), live_state(store)))
        store.checkpoint("base")
        store.update(a.id, {"content": "alpha changed"}, vector=vec(5, 5))
        steps.append((store.last_lsn(), live_state(store)))
        store.insert([(make_memory("c", "gamma three"), None)])
        steps.append((store.last_lsn(), live_state(store)))
        store.delete(["b"])
        steps.append((store.last_lsn(), live_state(store)))
        assert steps[0][0] == 0 and all(x[0] < y[0] for x, y in pairwise(steps))
        return steps

    def test_checkpoints_are_listed_by_lsn(self, store: Store) -> None:
        store.insert([(make_memory("a"), None)])
        first = store.checkpoint("first")
        store.insert([(make_memory("b"), None)])
        second = store.checkpoint("second")
        assert first.name == "first" and first.lsn < second.lsn == store.last_lsn()
        assert [(c.name, c.lsn) for c in store.checkpoints()] == [
            ("first", first.lsn),
            ("second", second.lsn),
        ]

    def test_checkpoint_names_are_unique_unless_overwritten(self, store: Store) -> None:
        store.checkpoint("cp")
        store.insert([(make_memory("a"), None)])
        with pytest.raises(Conflict):
            store.checkpoint("cp")
        assert [c.lsn for c in store.checkpoints()] == [0]
        lsn = store.last_lsn()
        assert store.checkpoint("cp", overwrite=True).lsn == lsn > 0
        assert [(c.name, c.lsn) for c in store.checkpoints()] == [("cp", lsn)]

    @pytest.mark.parametrize("name", ["", "a/b", "../up", ".hidden", "with space", "x" * 65])
    def test_bad_checkpoint_names_are_invalid(self, store: Store, name: str) -> None:
        with pytest.raises(InvalidInput):
            store.checkpoint(name)
        assert store.checkpoints() == []

    def test_delete_checkpoint(self, store: Store) -> None:
        store.checkpoint("keep")
        store.checkpoint("drop")
        store.delete_checkpoint("drop")
        assert [c.name for c in store.checkpoints()] == ["keep"]
        with pytest.raises(NotFound):
            store.delete_checkpoint("drop")
        with pytest.raises(NotFound):
            store.restore("drop")

    def test_restore_to_a_checkpoint(self, store: Store) -> None:
        steps = self._history(store)
        log_before = store.changes()
        changes = store.restore("base", actor="undo-bot")
        assert live_state(store) == steps[1][1]
        assert store.changes()[: len(log_before)] == log_before  # the log is never rewound
        assert store.changes(since_lsn=log_before[-1].lsn) == changes
        assert {(c.id, c.op) for c in changes} == {
            ("a", Op.UPDATE),
            ("b", Op.ADD),
            ("c", Op.DELETE),
        }
        assert all(c.actor == "undo-bot" for c in changes)
        assert ids_of(store, store.text_search(["beta"], 5)) == ["b"]
        assert store.text_search(["changed", "gamma"], 5) == []
        assert follow({}, store.index_deltas(0)) == all_vectors(store)

    @pytest.mark.parametrize("step", [2, 3, 4])
    def test_restore_to_an_lsn_after_a_checkpoint(self, store: Store, step: int) -> None:
        lsn, state = self._history(store)[step]
        store.update("a", {"content": "later"}, vector=vec(9, 9))
        store.restore("base", to_lsn=lsn)
        assert live_state(store) == state

    @pytest.mark.parametrize("step", [0, 1, 2, 3])
    def test_restore_from_the_log_alone(self, store: Store, step: int) -> None:
        lsn, state = self._history(store)[step]
        store.restore(None, to_lsn=lsn)
        assert live_state(store) == state
        assert follow({}, store.index_deltas(0)) == all_vectors(store)

    def test_restore_is_undone_by_restoring_to_just_before_it(self, store: Store) -> None:
        self._history(store)
        before, lsn = live_state(store), store.last_lsn()
        assert store.restore("base")
        assert live_state(store) != before
        store.restore(None, to_lsn=lsn)
        assert live_state(store) == before

    def test_restore_removes_a_vector_the_record_gained_later(self, store: Store) -> None:
        memory = make_memory("a", "no vector yet")
        store.insert([(memory, None)])
        lsn = store.last_lsn()
        before = live_state(store)
        store.update(memory.id, {"content": "now with a vector"}, vector=vec(1, 2))
        changes = store.restore(None, to_lsn=lsn, actor="undo")
        assert changes and all(c.actor == "undo" for c in changes)
        assert live_state(store) == before
        assert all_vectors(store) == {}
        assert follow({}, store.index_deltas(0)) == {}

    def test_restore_rejects_impossible_targets(self, store: Store) -> None:
        steps = self._history(store)
        lsn = store.last_lsn()
        with pytest.raises(InvalidInput):
            store.restore("base", to_lsn=steps[1][0] - 1)  # before the checkpoint
        with pytest.raises(InvalidInput):
            store.restore(None)  # neither a checkpoint nor an LSN
        with pytest.raises(InvalidInput):
            store.restore(None, to_lsn=lsn + 1)
        with pytest.raises(NotFound):
            store.restore("nope")
        assert store.last_lsn() == lsn

    # -- time travel

    @pytest.mark.parametrize("step", [0, 1, 2, 3, 4])
    def test_as_of_shows_the_past(self, store: Store, step: int) -> None:
        steps = self._history(store)
        lsn, state = steps[step]
        with opened(store.as_of(lsn)) as past:
            assert past.read_only
            assert live_state(past) == state
            assert past.last_lsn() == lsn
        assert live_state(store) == steps[-1][1]

    def test_as_of_searches_past_text(self, store: Store) -> None:
        steps = self._history(store)
        with opened(store.as_of(steps[1][0])) as past:
            assert ids_of(past, past.text_search(["beta"], 5)) == ["b"]
            assert past.text_search(["changed"], 5) == []
            assert [c.op for c in past.history("a")] == [Op.ADD]

    def test_as_of_refuses_writes(self, store: Store) -> None:
        steps = self._history(store)
        with opened(store.as_of(steps[2][0])) as past:
            a = past.get("a")
            with pytest.raises(ReadOnly):
                past.insert([(make_memory("z"), None)])
            with pytest.raises(ReadOnly):
                past.update("a", {"content": "nope"})
            with pytest.raises(ReadOnly):
                past.delete(["a"])
            with pytest.raises(ReadOnly):
                past.set_setting("k", "v")
            with pytest.raises(ReadOnly):
                past.restore(None, to_lsn=0)
            assert past.get("a") == a

    def test_as_of_out_of_range_is_invalid(self, store: Store) -> None:
        self._history(store)
        last = store.last_lsn()
        for lsn in (-1, last + 1, last + 100):
            with pytest.raises(InvalidInput):
                store.as_of(lsn)

    # -- lifecycle and settings

    def test_a_closed_store_refuses_use(self, store: Store) -> None:
        store.insert([(make_memory("a"), None)])
        store.close()
        store.close()  # closing twice is fine
        calls: list[Callable[[], object]] = [
            lambda: store.get("a"),
            lambda: store.insert([(make_memory("b"), None)]),
            lambda: store.update("a", {"content": "x"}),
            lambda: store.delete(["a"]),
            lambda: store.count(),
            lambda: list(store.scan()),
            lambda: store.text_search(["note"], 5),
            lambda: store.last_lsn(),
            lambda: store.changes(),
            lambda: store.get_setting("k"),
            lambda: store.set_setting("k", "v"),
            lambda: store.as_of(0),
            lambda: store.restore(None, to_lsn=0),
            lambda: store.checkpoint("cp"),
        ]
        for call in calls:
            with pytest.raises(Closed):
                call()

    # -- finding a record by its content (one memory per fact)

    def test_find_same_content_matches_scope_kind_and_normal_form(self, store: Store) -> None:
        store.insert(
            [
                (make_memory("a", "Tobi likes tea", user="tobi", kind=Kind.FACT), None),
                (make_memory("b", "tobi LIKES  tea", user="tobi", kind=Kind.FACT), None),
                (make_memory("c", "Tobi likes tea", user="maren", kind=Kind.FACT), None),
                (make_memory("d", "Tobi likes tea", user="tobi", kind=Kind.NOTE), None),
            ]
        )
        tobi = ContentKey.of(" TOBI likes tea", "fact", "tobi", None, None)
        nobody = ContentKey.of("Tobi likes tea", "fact", "ana", None, None)
        found = store.find_same_content([tobi, nobody], now=200.0)
        assert list(found) == [tobi] and found[tobi].id == "a"  # the oldest of the two

    def test_find_same_content_follows_edits_and_skips_the_dead(self, store: Store) -> None:
        store.insert(
            [
                (make_memory("a", "old words", kind=Kind.FACT), None),
                (make_memory("b", "gone soon", kind=Kind.FACT, expires_at=150.0), None),
                (make_memory("c", "archived", kind=Kind.FACT, archived=True), None),
            ]
        )
        store.update("a", {"content": "New words"})
        keys = [ContentKey.of(t, "fact", None, None, None) for t in ("new words", "old words")]
        assert [m.id for m in store.find_same_content(keys, now=200.0).values()] == ["a"]
        expiring = ContentKey.of("gone soon", "fact", None, None, None)
        assert store.find_same_content([expiring], now=100.0)[expiring].id == "b"
        assert store.find_same_content([expiring], now=200.0) == {}
        archived = ContentKey.of("archived", "fact", None, None, None)
        assert store.find_same_content([archived], now=100.0) == {}
        with opened(store.as_of(store.last_lsn())) as past:  # rebuilt from the log
            assert [m.id for m in past.find_same_content(keys, now=200.0).values()] == ["a"]

    def test_settings_are_stored(self, store: Store) -> None:
        assert store.get_setting("embedder") is None
        store.set_setting("embedder", "hashing-384")
        store.set_setting("embedder", "minilm-384")
        store.set_setting("dimension", "384")
        assert store.get_setting("embedder") == "minilm-384"
        assert store.get_setting("dimension") == "384"
        assert store.last_lsn() == 0  # settings are not memories

    def test_settings_survive_reopening(self, store: Store, clock: FakeClock) -> None:
        store.set_setting("embedder", "minilm-384")
        store.close()
        again = self.reopen(store, clock)
        if again is None:
            pytest.skip("this store's database does not outlive the store object")
        with opened(again):
            assert again.get_setting("embedder") == "minilm-384"
