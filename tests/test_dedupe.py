"""One memory per fact: adding what a live memory already says returns it, renewed."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from memoryspace import HashingEmbedder, InvalidInput, MemorySpace, Settings
from memoryspace.fingerprint import content_fingerprint, normalise_content
from memoryspace.models import Op
from store_contract import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(start=1_700_000_000.0)


def open_space(path: Path, clock: FakeClock, **settings: object) -> MemorySpace:
    return MemorySpace.open(
        path, embedder=HashingEmbedder(), clock=clock, settings=Settings(**settings)
    )


@pytest.fixture
def ms(tmp_path: Path, clock: FakeClock) -> MemorySpace:
    space = open_space(tmp_path / "m.db", clock)
    yield space
    space.close()


def test_normal_form_folds_case_and_whitespace() -> None:
    assert (
        normalise_content("  Tobi\tis  ALLERGIC\nto hazelnuts ") == "tobi is allergic to hazelnuts"
    )
    assert content_fingerprint("Straße") == content_fingerprint("STRASSE")
    assert content_fingerprint("tobi likes tea") != content_fingerprint("tobi likes teas")


def test_same_fact_again_returns_the_memory_and_renews_it(
    ms: MemorySpace, clock: FakeClock
) -> None:
    first = ms.add("Tobi is allergic to hazelnuts", user="tobi", kind="fact")
    clock.now += 60
    again = ms.add("  tobi is ALLERGIC to   hazelnuts ", user="tobi", kind="fact")
    assert again.id == first.id
    assert again.content == "Tobi is allergic to hazelnuts"  # the stored words stay
    assert again.updated_at == first.updated_at + 60
    assert ms.get(first.id).updated_at == first.updated_at + 60
    assert ms.count() == 1
    assert [c.op for c in ms.history(first.id)] == [Op.ADD, Op.UPDATE]
    assert ms.stats()["counters"]["deduplicated"] == 1


def test_scope_and_kind_are_part_of_the_identity(ms: MemorySpace) -> None:
    ids = {
        ms.add("likes tea", user="tobi", kind="fact").id,
        ms.add("likes tea", user="maren", kind="fact").id,
        ms.add("likes tea", user="tobi", session="s1", kind="fact").id,
        ms.add("likes tea", user="tobi", agent="a", kind="fact").id,
        ms.add("likes tea", user="tobi", kind="note").id,
        ms.add("likes tea", user="tobi", kind="fact").id,
    }
    assert len(ids) == 5
    assert ms.count() == 5


def test_turns_are_events_and_never_collapse(ms: MemorySpace) -> None:
    thanks = [ms.add("Caroline: Thanks!", user="u", session="s1") for _ in range(2)]
    assert thanks[0].id != thanks[1].id
    assert ms.count(kind="turn") == 2


def test_an_explicit_id_is_the_identity(ms: MemorySpace) -> None:
    a = ms.add("the spare key is under the pot", kind="fact", id="key-1")
    b = ms.add("the spare key is under the pot", kind="fact", id="key-2")
    assert (a.id, b.id) == ("key-1", "key-2")


def test_copies_inside_one_batch_collapse(ms: MemorySpace) -> None:
    out = ms.add_many(
        [
            {"content": "Maren has a greyhound", "user": "maren", "kind": "fact"},
            {"content": "Maren lives by the sea", "user": "maren", "kind": "fact"},
            {"content": "maren has a GREYHOUND", "user": "maren", "kind": "fact"},
        ]
    )
    assert out[0].id == out[2].id != out[1].id
    assert ms.count() == 2
    assert [c.op for c in ms.history(out[0].id)] == [Op.ADD]  # stored once, not renewed
    again = ms.add_many([{"content": "Maren has a greyhound", "user": "maren", "kind": "fact"}] * 2)
    assert {m.id for m in again} == {out[0].id}
    assert [c.op for c in ms.history(out[0].id)] == [Op.ADD, Op.UPDATE]  # renewed once


def test_off_stores_every_copy(tmp_path: Path, clock: FakeClock) -> None:
    with open_space(tmp_path / "off.db", clock, dedupe="off") as space:
        space.add("likes tea", kind="fact")
        space.add("likes tea", kind="fact")
        assert space.count() == 2


def test_bad_setting_is_refused() -> None:
    with pytest.raises(InvalidInput, match="'exact' or 'off'"):
        Settings(dedupe="fuzzy")  # type: ignore[arg-type]


def test_expired_and_archived_memories_are_not_renewed(ms: MemorySpace, clock: FakeClock) -> None:
    old = ms.add("the gate code is 4411", kind="fact", ttl=10)
    clock.now += 11
    new = ms.add("the gate code is 4411", kind="fact")
    assert new.id != old.id
    ms.update(new.id, ttl=None)
    archived = ms.add("a note to archive", kind="note")
    ms.store.update(archived.id, {"archived": True})
    assert ms.add("a note to archive", kind="note").id != archived.id


def test_an_edit_into_a_copy_keeps_the_hash_current(ms: MemorySpace) -> None:
    memory = ms.add("first words", kind="fact")
    ms.update(memory.id, content="Second words")
    assert ms.add("second WORDS", kind="fact").id == memory.id
    assert ms.add("first words", kind="fact").id != memory.id


def test_write_back_tier_edits_survive_a_renewal(tmp_path: Path, clock: FakeClock) -> None:
    with open_space(
        tmp_path / "tier.db", clock, hot_tier_records=8, hot_tier_write_policy="write_back"
    ) as space:
        memory = space.add("Tobi plays the cello", user="tobi", kind="fact")
        space.update(memory.id, importance=0.9)  # dirty in RAM
        again = space.add("Tobi plays the cello", user="tobi", kind="fact")
        assert again.id == memory.id
        assert again.importance == 0.9
        assert space.get(memory.id).importance == 0.9


def test_the_lookup_uses_an_index(ms: MemorySpace) -> None:
    ms.add("likes tea", kind="fact")
    path = ms.store.path
    assert path is not None
    with sqlite3.connect(path) as conn:
        plan = conn.execute(
            "EXPLAIN QUERY PLAN SELECT key FROM memories WHERE content_hash IN (?)", ("x",)
        ).fetchall()
    assert any("memories_content_hash" in str(row) for row in plan)


def test_the_migration_fingerprints_existing_rows(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "old.db"
    with open_space(path, clock) as space:
        first = space.add("Maren moved to the coast", user="maren", kind="fact")
    with sqlite3.connect(path) as conn:  # back to schema 3: no fingerprints
        conn.execute("DROP INDEX memories_content_hash")
        conn.execute("ALTER TABLE memories DROP COLUMN content_hash")
        conn.execute("PRAGMA user_version = 3")
    with open_space(path, clock) as space:
        assert space.add("maren moved to the COAST", user="maren", kind="fact").id == first.id
        assert space.count() == 1


def test_running_the_quick_start_three_times_keeps_one_copy(tmp_path: Path) -> None:
    for _ in range(3):
        with MemorySpace.open(tmp_path / "memory.db", embedder="hashing") as space:
            space.add("Maren adopted a retired greyhound named Biscuit", user="maren", kind="fact")
            space.add("Tobi is allergic to hazelnuts", user="tobi", kind="fact", tags=["health"])
    with MemorySpace.open(tmp_path / "memory.db", embedder="hashing") as space:
        assert space.count() == 2


def test_a_caller_that_owns_identity_can_opt_out(ms: MemorySpace) -> None:
    first = ms.add("topic: tea", kind="summary")
    second = ms.add("topic: tea", kind="summary", dedupe=False)
    assert first.id != second.id
    facts = [{"content": "x", "kind": "fact"}] * 2
    assert len({m.id for m in ms.add_many(facts, dedupe=False)}) == 2
    assert len({m.id for m in ms.add_many(facts)}) == 1
