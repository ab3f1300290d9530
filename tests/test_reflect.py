"""Reflection on a real SQLite file: duplicates merged with provenance, superseded memories
closed (not deleted) and hidden from search by default, stale ones archived, importance from
use; one undoable job with actor ``reflect``; dry runs change nothing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from memoryspace import InvalidInput, MemorySpace, ReflectOptions, Settings
from memoryspace.maintenance.plan import apply_plan
from memoryspace.models import LinkType
from memoryspace.reflect import Claim, OfflineClaimExtractor, extract_claims, plan_reflection
from memoryspace.reflect.job import claims_by_id

START = 1_700_000_000.0
DAY = 86_400.0


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def ms(tmp_path: Path, clock: Clock) -> Iterator[MemorySpace]:
    with MemorySpace.open(tmp_path / "r.db", embedder="hashing", clock=clock) as space:
        yield space


def add(ms: MemorySpace, clock: Clock, text: str, **fields: object) -> str:
    memory = ms.add(text, user="maren", kind=fields.pop("kind", "fact"), dedupe=False, **fields)
    clock.now += 600
    return memory.id


@pytest.mark.parametrize(
    ("text", "claims"),
    [
        ("My Japan trip is in April.", [Claim("japan trip", "time", "april")]),
        ("Japan trip in April", [Claim("japan trip", "time", "april")]),
        ("The trip moved to October.", [Claim("trip", "time", "october")]),
        ("I moved to Berlin.", [Claim("user", "location", "berlin")]),
        ("Maren now works as a nurse.", [Claim("maren", "job", "nurse")]),
        ("I work at the Oslo clinic", [Claim("user", "employer", "oslo clinic")]),
        ("My favourite colour is blue", [Claim("user", "colour", "blue")]),
        ("Tom is no longer a student", [Claim("tom", "*", "student", negated=True)]),
        ("The gate codes are 4411", [Claim("gate code", "value", "4411")]),
        ("My rent is $1200 a month", [Claim("user", "rent", "$1200 a month")]),
        ("The budget is 5000 dollars", [Claim("budget", "value", "5000 dollars")]),
        ("Ola: I live in Bergen", [Claim("ola", "location", "bergen")]),
        ("user: beat my personal best time of 25:50", [Claim("user", "time", "25:50")]),
        ("assistant: my name is Bob", []),
        ("Do you live in Oslo?", []),
        ("The weather was nice today", []),
    ],
)
def test_claims_by_rule(text: str, claims: list[Claim]) -> None:
    assert extract_claims(text) == claims


def test_a_newer_value_closes_the_older_memory_and_search_sees_the_current_one(
    ms: MemorySpace, clock: Clock
) -> None:
    april = add(ms, clock, "My Japan trip is in April.")
    october = add(ms, clock, "The trip moved to October.")
    before = ms.search("when is the Japan trip", k=5, user="maren", min_score=0)
    assert {h.memory.id for h in before} == {april, october}

    result = ms.reflect(user="maren")
    assert result.counts == {"supersede": 1} and len(result.applied) == 1
    old, new = ms.get(april), ms.get(october)
    assert old.valid_to == new.created_at and new.valid_to is None
    assert [(link.id, link.type) for link in new.links] == [(april, LinkType.SUPERSEDES)]
    hits = ms.search("when is the Japan trip", k=5, user="maren", min_score=0)
    assert [h.memory.id for h in hits] == [october]
    past = ms.search("Japan trip", k=5, user="maren", min_score=0, valid_at=old.created_at)
    assert [h.memory.id for h in past] == [april]
    every = ms.search("Japan trip", k=5, user="maren", min_score=0, include_closed=True)
    assert {h.memory.id for h in every} == {april, october}
    assert ms.count(user="maren", include_closed=False) == 1 and ms.count(user="maren") == 2
    assert [c.actor for c in ms.history(april)] == [None, "reflect"]


def test_a_chain_of_values_closes_each_older_one(ms: MemorySpace, clock: Clock) -> None:
    nurse = add(ms, clock, "Maren works as a nurse.")
    nurse_again = add(ms, clock, "Maren works as a nurse at night.")
    teacher = add(ms, clock, "Maren now works as a teacher.")
    pilot = add(ms, clock, "Maren now works as a pilot.")
    result = ms.reflect(user="maren")
    assert len(result.applied) == 1 and not result.skipped
    closed = {m.id: m.valid_to for m in ms.scan(user="maren", include_closed=True)}
    assert closed[nurse] == closed[nurse_again] == ms.get(teacher).created_at
    assert closed[teacher] == ms.get(pilot).created_at and closed[pilot] is None
    assert [m.id for m in ms.scan(user="maren", include_closed=False)] == [pilot]


def test_a_negation_closes_what_it_denies(ms: MemorySpace, clock: Clock) -> None:
    veggie = add(ms, clock, "I am vegetarian and love tofu.")
    tom = add(ms, clock, "Tom is a vegetarian.")
    denial = add(ms, clock, "I'm no longer vegetarian.")
    ms.reflect(user="maren")
    assert ms.get(veggie).valid_to == ms.get(denial).created_at
    assert ms.get(tom).valid_to is None  # about Tom, not the speaker
    assert [(link.id, link.type) for link in ms.get(denial).links] == [
        (veggie, LinkType.CONTRADICTS)
    ]


def test_duplicates_merge_into_one_memory_that_links_its_sources(
    ms: MemorySpace, clock: Clock
) -> None:
    first = add(ms, clock, "Maren's sister Anna lives in Bergen", tags=["family"])
    second = add(ms, clock, "maren's sister anna  lives in Bergen", tags=["anna"])
    other = add(ms, clock, "Maren's sister Anna lives in Bergen since 2019")  # a number more
    turn = add(ms, clock, "Maren's sister Anna lives in Bergen", kind="turn")
    ms.search("sister Anna", user="maren")  # a use: sources keep access history
    result = ms.reflect(user="maren")
    assert result.counts.get("merge") == 1
    merged = [m for m in ms.scan(user="maren", kind="fact") if "merged_from" in m.meta]
    assert len(merged) == 1
    memory = merged[0]
    assert memory.meta["merged_from"] == [first, second]
    assert [(link.id, link.type, link.strong) for link in memory.links] == [
        (first, LinkType.DERIVED_FROM, True),
        (second, LinkType.DERIVED_FROM, True),
    ]
    assert set(memory.tags) == {"family", "anna"} and memory.created_at == START
    assert ms.get(first).archived and ms.get(second).archived
    assert not ms.get(other).archived and not ms.get(turn).archived
    live = {m.id for m in ms.scan(user="maren")}
    assert live == {memory.id, other, turn}


def test_near_duplicates_by_vector_but_not_when_values_differ(
    ms: MemorySpace, clock: Clock
) -> None:
    a = add(ms, clock, "Anna likes green tea in the morning")
    b = add(ms, clock, "Anna likes green tea in the morning!")
    c = add(ms, clock, "Anna drinks 2 cups of green tea in the morning")
    d = add(ms, clock, "Anna drinks 3 cups of green tea in the morning")
    plan = ms.reflect(user="maren", dry_run=True, options=ReflectOptions(near_duplicate=0.8))
    merged = [set(g["ids"]) for g in plan.plan.describe() if g["action"] == "merge"]
    assert merged == [{a, b}]
    assert {c, d}.isdisjoint(merged[0])


def test_dry_run_prints_reasons_and_changes_nothing(ms: MemorySpace, clock: Clock) -> None:
    add(ms, clock, "My Japan trip is in April.")
    add(ms, clock, "The trip moved to October.")
    lsn = ms.lsn
    result = ms.reflect(user="maren", dry_run=True)
    assert ms.lsn == lsn and result.lsn_after == lsn and result.applied == []
    (group,) = result.to_dict()["plan"]
    assert group["action"] == "supersede" and "'october' (was 'april')" in group["reason"]
    assert ms.count(user="maren") == 2


def test_restore_undoes_the_whole_job(ms: MemorySpace, clock: Clock) -> None:
    add(ms, clock, "My Japan trip is in April.")
    add(ms, clock, "The trip moved to October.")
    add(ms, clock, "Anna likes green tea")
    add(ms, clock, "anna likes green tea")
    before = {m.id: m.content_state() for m in ms.scan(include_closed=True, include_archived=True)}
    result = ms.reflect()
    assert result.lsn_after > result.lsn_before
    ms.restore(None, to_lsn=result.lsn_before)
    after = {m.id: m.content_state() for m in ms.scan(include_closed=True, include_archived=True)}
    assert after == before


def test_a_change_after_planning_skips_its_group(ms: MemorySpace, clock: Clock) -> None:
    april = add(ms, clock, "My Japan trip is in April.")
    add(ms, clock, "The trip moved to October.")
    add(ms, clock, "Anna likes green tea")
    add(ms, clock, "anna likes green tea")
    memories = list(ms.scan(include_closed=True))
    plan = plan_reflection(
        memories, now=clock.now, vectors={}, claims_of=claims_by_id(OfflineClaimExtractor())
    )
    ms.update(april, importance=0.9, actor="someone")  # a newer change
    done = apply_plan(ms.store, plan, actor="reflect", embed=ms.embedder.embed)
    assert [g.action for g in done.skipped] == ["supersede"]
    assert [g.action for g in done.applied] == ["merge"]
    assert ms.get(april).valid_to is None and ms.get(april).importance == 0.9


def test_stale_plans_and_expired_memories_are_archived(ms: MemorySpace, clock: Clock) -> None:
    plan = add(ms, clock, "Buy a rail pass before the trip", kind="plan")
    pinned = add(ms, clock, "Renew the passport", kind="plan", pinned=True)
    fresh_ttl = add(ms, clock, "The gate code is 4411", ttl=DAY * 100)
    short_ttl = add(ms, clock, "The locker code is 1234", ttl=60)
    clock.now += 31 * DAY
    result = ms.reflect(user="maren")
    assert result.counts.get("archive") == 2
    assert ms.get(plan).archived and ms.get(short_ttl).archived
    assert not ms.get(pinned).archived and not ms.get(fresh_ttl).archived


def test_importance_rises_with_use_and_never_falls(ms: MemorySpace, clock: Clock) -> None:
    used = add(ms, clock, "Maren's cat is called Biscuit")
    unused = add(ms, clock, "The recycling goes out on Tuesday evenings", importance=0.9)
    ms.add("A note on Biscuit", user="maren", kind="note", links=[used])
    for _ in range(6):
        ms.search("Biscuit the cat", user="maren", kind="fact", k=1)
    ms.reflect(user="maren")
    assert ms.get(used).importance == pytest.approx(1 - np.exp(-(6 + 2) / 8), abs=1e-3)
    assert ms.get(unused).importance == 0.9
    assert ms.reflect(user="maren").counts.get("rescore") is None  # nothing more to raise


def test_reflect_every_n_adds(tmp_path: Path, clock: Clock) -> None:
    settings = Settings(reflect_every=3)
    with MemorySpace.open(
        tmp_path / "t.db", embedder="hashing", clock=clock, settings=settings
    ) as ms:
        april = add(ms, clock, "My Japan trip is in April.")
        add(ms, clock, "The trip moved to October.")
        assert ms.get(april).valid_to is None  # 2 adds: not yet
        add(ms, clock, "Anna likes green tea")
        assert ms.get(april).valid_to is not None
        assert any(c.actor == "reflect" for c in ms.history(april))


def test_bad_arguments_are_rejected(ms: MemorySpace) -> None:
    with pytest.raises(InvalidInput):
        ms.reflect(dry_run="yes")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        ms.reflect(options={"near_duplicate": 0.9})  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        ReflectOptions(near_duplicate=1.5)
    with pytest.raises(InvalidInput):
        Settings(reflect_every=0)


def test_context_holds_only_the_current_value(ms: MemorySpace, clock: Clock) -> None:
    add(ms, clock, "My Japan trip is in April.")
    add(ms, clock, "The trip moved to October.")
    before = ms.context("When is the Japan trip?", budget=500, user="maren", min_score=0)
    assert "April" in before.text and "October" in before.text
    ms.reflect(user="maren")
    after = ms.context("When is the Japan trip?", budget=500, user="maren", min_score=0)
    assert "October" in after.text and "April" not in after.text
