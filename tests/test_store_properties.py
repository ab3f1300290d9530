"""Property tests of the operation log: it rebuilds every past state, and restores are reversible.

Hypothesis drives random sequences of adds, updates, deletes, pins, checkpoints and restores
over a few ids. A plain dict models what the store should hold; after every operation the live
store must equal the model, and the model is recorded under the LSN the operation reached.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from memoryspace.errors import Conflict, NotFound
from memoryspace.models import Kind, Memory, Op
from memoryspace.store.base import Vector
from memoryspace.store.sqlite import SQLiteStore
from memoryspace.store.timetravel import TimeTravelling
from store_contract import (
    FakeClock,
    State,
    all_vectors,
    follow,
    live_state,
)

IDS = ["a", "b", "c"]
WORDS = ["apple", "river", "stone", "cloud", "ember", "tiger", "maple", "harbor"]
TAGS = ["red", "blue", "green"]

contents = st.lists(st.sampled_from(WORDS), min_size=1, max_size=4).map(" ".join)
tag_sets = st.lists(st.sampled_from(TAGS), max_size=2, unique=True).map(tuple)
vectors = st.none() | st.tuples(*[st.sampled_from([-1.0, 0.0, 0.5, 2.0])] * 3)
metas = st.dictionaries(
    st.sampled_from(["lang", "n", "ok", "ß"]),
    st.text(max_size=3) | st.integers(-3, 3) | st.booleans() | st.none(),
    max_size=2,
)
ids = st.sampled_from(IDS)
adds = st.tuples(
    st.just("add"),
    ids,
    contents,
    st.sampled_from(list(Kind)),
    tag_sets,
    st.booleans(),
    metas,
    vectors,
)
updates = st.tuples(
    st.just("update"),
    ids,
    st.none() | contents,
    st.none() | tag_sets,
    st.none() | st.sampled_from([0.0, 0.3, 1.0]),
    vectors,
)
# Adds and updates are listed twice so that most sequences keep several records alive.
operations = st.one_of(
    adds,
    updates,
    adds,
    updates,
    st.tuples(st.just("delete"), ids),
    st.tuples(st.sampled_from(["pin", "unpin"]), ids),
    st.tuples(st.just("archive"), ids),
    st.tuples(st.just("checkpoint"), st.sampled_from(["cp0", "cp1"])),
    st.tuples(st.just("restore"), st.floats(0, 1), st.booleans()),
)


def array(values: tuple[float, ...] | None) -> Vector | None:
    return None if values is None else np.array(values, dtype=np.float32)


@dataclass
class Run:
    """A store, the model of what it should hold, and the model's state at each known LSN."""

    store: TimeTravelling
    clock: FakeClock
    model: dict[str, tuple[Memory, tuple[float, ...] | None]] = field(default_factory=dict)
    states: dict[int, dict[str, tuple[Memory, tuple[float, ...] | None]]] = field(
        default_factory=lambda: {0: {}}
    )

    def expected(self, lsn: int | None = None) -> State:
        model = self.model if lsn is None else self.states[lsn]
        return {id: (m.content_state(), v) for id, (m, v) in model.items()}

    def record(self) -> None:
        """Check the store against the model and remember the model at the current LSN."""
        assert live_state(self.store) == self.expected()
        self.states[self.store.last_lsn()] = dict(self.model)

    def restore(self, name: str | None, lsn: int) -> None:
        """Restore to ``lsn`` (from checkpoint ``name`` or the log) and check the result."""
        before = self.store.last_lsn()
        changes = self.store.restore(name, to_lsn=lsn)
        assert [c.lsn for c in changes] == list(range(before + 1, before + len(changes) + 1))
        assert all(c.op in (Op.ADD, Op.UPDATE, Op.DELETE) for c in changes)
        self.model = dict(self.states[lsn])
        self.record()

    def apply(self, op: tuple[Any, ...]) -> None:
        kind, *args = op
        store = self.store
        self.clock.advance(1)
        if kind == "checkpoint":
            assert store.checkpoint(args[0], overwrite=True).lsn == store.last_lsn()
        elif kind == "restore":
            fraction, from_checkpoint = args
            known = sorted(self.states)
            target = known[min(int(fraction * len(known)), len(known) - 1)]
            bases = [c.name for c in store.checkpoints() if c.lsn <= target]
            self.restore(bases[-1] if from_checkpoint and bases else None, target)
        else:
            lsn = store.last_lsn()
            logged = self.write(kind, args)
            assert store.last_lsn() == lsn + logged  # one entry per write, none for a refusal
            self.record()

    def write(self, kind: str, args: list[Any]) -> int:
        """Apply one write to the store and the model; returns how many log entries it makes."""
        store, id = self.store, args[0]
        if kind == "add":
            _, content, memory_kind, tags, pinned, meta, vector = args
            memory = Memory(
                id=id,
                content=content,
                kind=memory_kind,
                tags=tags,
                pinned=pinned,
                meta=meta,
                created_at=self.clock.now,
                updated_at=self.clock.now,
            )
            if id in self.model:
                with pytest.raises(Conflict):
                    store.insert([(memory, array(vector))])
                return 0
            store.insert([(memory, array(vector))])
            self.model[id] = (memory, vector)
            return 1
        if id not in self.model:
            with pytest.raises(NotFound):
                if kind == "delete":
                    store.delete([id])
                else:
                    store.update(id, {"content": "ghost"})
            return 0
        if kind == "delete":
            store.delete([id])
            del self.model[id]
            return 1
        memory, vector = self.model[id]
        new_vector = None
        if kind == "update":
            _, content, tags, importance, new_vector = args
            memory = memory.evolve(
                content=content or memory.content,
                tags=memory.tags if tags is None else tags,
                importance=memory.importance if importance is None else importance,
            )
        elif kind == "archive":  # what GC does: toggles archived, moves up a generation
            memory = memory.evolve(archived=not memory.archived, generation=memory.generation + 1)
        else:
            memory = memory.evolve(pinned=kind == "pin")
        memory = memory.evolve(updated_at=self.clock.now)
        old = self.model[id][0].content_state()
        patch = {k: v for k, v in memory.content_state().items() if v != old[k]}
        store.update(id, patch, vector=array(new_vector))
        self.model[id] = (memory, vector if new_vector is None else new_vector)
        return 1


def check_log_properties(run: Run, data: st.DataObject) -> None:
    store = run.store
    last = store.last_lsn()

    # (a) Replaying the whole log from nothing, or from the newest checkpoint, gives the live state.
    for view in (
        store.replica(last, None),  # from the empty database
        store.as_of(last),
    ):
        try:
            assert live_state(view) == run.expected()
        finally:
            view.close()

    # Each record's history is a chain: every entry starts where the previous one ended.
    for id in {c.id for c in store.changes()}:
        previous = None
        for change in store.history(id):
            assert change.before == previous
            previous = change.after

    # A vector index that follows the deltas holds exactly the stored vectors.
    assert follow({}, store.index_deltas(0)) == all_vectors(store)

    # The full-text index finds exactly the records holding a word.
    keys = {id: store.key_of(id) for id in run.model}
    for word in [*WORDS, *TAGS]:
        expected = {
            keys[id]
            for id, (m, _) in run.model.items()
            if word in (*m.content.split(), *m.tags) and not m.archived
        }
        assert {key for key, _ in store.text_search([word], 100)} == expected, word

    # (b) Every recorded state is what as_of shows and what a restore from the log makes live;
    # (c) restoring to the LSN just before a restore undoes it.
    for target in sorted(run.states):
        past = store.as_of(target)
        try:
            assert live_state(past) == run.expected(target)
        finally:
            past.close()
        before_restore = store.last_lsn()
        run.restore(None, target)
        run.restore(None, before_restore)

    # (b) again, starting from each checkpoint at or before a drawn LSN.
    target = data.draw(st.sampled_from(sorted(run.states)), label="target LSN")
    for base in [c.name for c in store.checkpoints() if c.lsn <= target]:
        before_restore = store.last_lsn()
        run.restore(base, target)
        run.restore(None, before_restore)


def run_sequence(
    store: TimeTravelling, clock: FakeClock, ops: list[Any], data: st.DataObject
) -> None:
    run = Run(store, clock)
    for op in ops:
        run.apply(op)
    check_log_properties(run, data)


@settings(max_examples=100, deadline=None)
@given(ops=st.lists(operations, min_size=1, max_size=25), data=st.data())
def test_the_log_rebuilds_every_state_in_memory(ops: list[Any], data: st.DataObject) -> None:
    clock = FakeClock(step=0.5)
    with SQLiteStore(":memory:", clock=clock) as store:
        run_sequence(store, clock, ops, data)


@settings(max_examples=20, deadline=None)
@given(ops=st.lists(operations, min_size=1, max_size=20), data=st.data())
def test_the_log_rebuilds_every_state_on_a_file(ops: list[Any], data: st.DataObject) -> None:
    clock = FakeClock(step=0.5)
    with (
        tempfile.TemporaryDirectory() as folder,
        SQLiteStore(Path(folder) / "space.db", clock=clock) as store,
    ):
        run_sequence(store, clock, ops, data)


@settings(max_examples=10, deadline=None)
@given(ops=st.lists(operations, min_size=1, max_size=15), data=st.data())
def test_the_log_rebuilds_every_state_on_postgres(
    postgres_server: str, ops: list[Any], data: st.DataObject
) -> None:
    from memoryspace.store.postgres import PostgresStore
    from memoryspace.store.postgres.databases import fresh_database

    clock = FakeClock(step=0.5)
    with fresh_database(postgres_server, "test") as url, PostgresStore(url, clock=clock) as store:
        run_sequence(store, clock, ops, data)
