"""Garbage collection through the facade: what each collector takes, what it never takes, and
that every collection is logged and undone by a restore."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from memoryspace import InvalidInput, Kind, Memory, MemorySpace, NotFound, ReadOnly
from memoryspace.gc import (
    ActionPolicy,
    GenerationalCollector,
    MarkSweepCollector,
    TTLCollector,
    reachable,
)
from memoryspace.models import Link, LinkType
from store_contract import FakeClock

HOUR = 3600.0
DAY = 24 * HOUR


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(start=1_000_000.0)


@pytest.fixture
def ms(clock: FakeClock) -> Iterator[MemorySpace]:
    with MemorySpace.open(":memory:", embedder="hashing", clock=clock) as space:
        yield space


def state(ms: MemorySpace) -> dict[str, dict[str, Any]]:
    return {m.id: m.content_state() for m in ms.scan(include_archived=True, include_expired=True)}


def build(ms: MemorySpace, clock: FakeClock) -> dict[str, Memory]:
    """Old records (two days back) around roots, and a current session."""
    m: dict[str, Memory] = {}
    low = {"user": "u", "importance": 0.2}
    m["persona"] = ms.add("Maren is a night-shift nurse.", kind="persona", **low)
    # a strong link keeps its target alive: the pinned fact keeps its evidence
    m["linked"] = ms.add("The clinic noted the allergy.", kind="note", **low)
    m["pinned"] = ms.add(
        "Maren is allergic to penicillin.",
        kind="fact",
        pinned=True,
        links=[{"id": m["linked"].id, "type": "supports"}],
        **low,
    )
    m["t1"] = ms.add("We walked along the river on Sunday.", session="s1", **low)
    m["t2"] = ms.add("The river flooded, so we went to the harbor.", session="s1", **low)
    # a weak link keeps nothing alive
    m["stray"] = ms.add(
        "A stray thought about maple syrup.", kind="note", links=[m["pinned"].id], **low
    )
    m["important"] = ms.add(
        "Biscuit the greyhound joined in May.", kind="note", user="u", importance=0.9
    )
    m["scratch"] = ms.add("scratch value 42", kind="working", **low)
    clock.advance(2 * DAY)
    m["fresh"] = ms.add("A fresh note about tigers.", kind="note", **low)
    m["now1"] = ms.add("Today we plan the cloud trip.", session="s2", **low)
    m["now2"] = ms.add("Pack the ember lamp.", session="s2", **low)
    return m


def test_mark_sweep_collects_unreachable_cold_records_by_kind(
    ms: MemorySpace, clock: FakeClock
) -> None:
    m = build(ms, clock)
    event = ms.gc("mark_sweep", cold_after=DAY)
    assert (event.collector, event.scanned, event.collected) == ("mark_sweep", 11, 4)
    assert event.action_counts == {"compact": 2, "archive": 1, "delete": 1}
    assert event.compacted == 1 and event.promoted == 0 and event.pause_duration >= 0
    for name in ("persona", "pinned", "linked", "important", "fresh", "now1", "now2"):
        assert not ms.get(m[name].id).archived, name
    assert ms.get(m["stray"].id).archived
    with pytest.raises(NotFound):
        ms.get(m["scratch"].id)
    # Compaction: one summary of the session, linking its sources, which are archived.
    (summary,) = ms.scan(kind="summary")
    assert summary.link_ids(strong=True) == [m["t1"].id, m["t2"].id]
    assert (summary.user, summary.session, summary.generation) == ("u", "s1", 1)
    assert "river" in summary.content
    assert all(ms.get(m[t].id).archived for t in ("t1", "t2"))


def test_archived_records_leave_search_count_scan_and_context(
    ms: MemorySpace, clock: FakeClock
) -> None:
    m = build(ms, clock)
    ms.gc("mark_sweep", cold_after=DAY)
    found = {h.memory.id for h in ms.search("maple syrup stray thought")}
    assert m["stray"].id not in found
    assert m["stray"].id in {
        h.memory.id for h in ms.search("maple syrup stray thought", include_archived=True)
    }
    assert m["stray"].id not in {x.id for x in ms.scan()}
    assert ms.count() == ms.count(include_archived=True) - 3
    context = ms.context("river harbor maple", budget=400, user="u")
    assert not {m["t1"].id, m["t2"].id, m["stray"].id} & set(context.source_ids)
    # An ordinary update keeps the GC state.
    assert ms.update(m["stray"].id, tags=["kept"]).archived


def test_every_gc_change_is_logged_and_restore_undoes_it(ms: MemorySpace, clock: FakeClock) -> None:
    build(ms, clock)
    before, lsn = state(ms), ms.lsn
    event = ms.gc("mark_sweep", cold_after=DAY)
    assert event.lsn_before == lsn and event.lsn_after == ms.lsn
    changes = ms.changes(lsn)
    assert len(changes) == 5  # one summary, three archivals, one delete
    assert {c.actor for c in changes} == {"gc:mark_sweep"}
    assert state(ms) != before
    ms.restore(None, to_lsn=lsn)
    assert state(ms) == before


def test_dry_run_reports_the_same_and_changes_nothing(ms: MemorySpace, clock: FakeClock) -> None:
    build(ms, clock)
    before, lsn = state(ms), ms.lsn
    dry = ms.gc("mark_sweep", dry_run=True, cold_after=DAY)
    assert ms.lsn == lsn and state(ms) == before and dry.dry_run
    assert ms.stats()["gc"]["events"] == 0
    real = ms.gc("mark_sweep", cold_after=DAY)
    assert (dry.collected, dry.compacted, dry.action_counts) == (
        real.collected,
        real.compacted,
        real.action_counts,
    )


def test_actions_are_configured_per_kind(ms: MemorySpace, clock: FakeClock) -> None:
    m = build(ms, clock)
    policy = ActionPolicy.build({"note": "delete", "turn": "archive", "working": "archive"})
    event = ms.gc("mark_sweep", policy=policy, cold_after=DAY)
    assert event.action_counts == {"archive": 3, "delete": 1} and event.compacted == 0
    with pytest.raises(NotFound):
        ms.get(m["stray"].id)
    assert ms.get(m["scratch"].id).archived and ms.get(m["t1"].id).archived
    with pytest.raises(InvalidInput):
        ActionPolicy.build({"note": "shred"})
    with pytest.raises(InvalidInput):
        ActionPolicy.build({"gizmo": "delete"})


def test_ttl_collects_expired_records_but_not_pinned_ones(
    ms: MemorySpace, clock: FakeClock
) -> None:
    short = ms.add("parking code 4711", ttl=10)
    locked = ms.add("door code 1234", ttl=10, pinned=True)
    lasting = ms.add("the car is blue")
    clock.advance(20)
    event = ms.gc("ttl")
    assert (event.collected, event.action_counts) == (1, {"archive": 1})  # a turn alone
    assert ms.get(short.id).archived
    assert not ms.get(locked.id).archived and not ms.get(lasting.id).archived


def test_an_idle_ttl_is_renewed_by_every_read_and_edit(ms: MemorySpace, clock: FakeClock) -> None:
    read = ms.add("the spare key is under the blue pot")
    edited = ms.add("the wifi password is on the fridge")
    idle = ms.add("a parking spot number, once")
    pinned = ms.add("never forget the allergy", pinned=True)
    clock.advance(20 * DAY)
    ms.search("spare key blue pot", k=1)  # a read renews it
    ms.update(edited.id, tags=["home"])  # so does a change
    survive = {"young_age": DAY, "importance_threshold": 0.0}  # every young record survives
    assert ms.gc("generational", **survive).promoted == 4  # bookkeeping, not a use
    clock.advance(20 * DAY)  # 40 days since `idle` and `pinned` were last used
    event = ms.gc("ttl", idle_after=30 * DAY)
    assert event.collected == 1
    assert ms.get(idle.id).archived
    assert {m.id for m in ms.scan()} == {read.id, edited.id, pinned.id}
    with pytest.raises(InvalidInput):
        ms.gc("ttl", idle_after=-1)


def test_generational_minor_promotes_survivors_and_major_sweeps_the_old(
    ms: MemorySpace, clock: FakeClock
) -> None:
    low = {"user": "u", "importance": 0.2}
    a = ms.add("We walked along the river.", session="s1", **low)
    b = ms.add("The harbor was calm.", session="s1", **low)
    important = ms.add("Biscuit is the greyhound.", kind="note", user="u", importance=0.9)
    used = ms.add("Maple syrup on pancakes.", kind="note", **low)
    locked = ms.add("Allergic to penicillin.", kind="fact", pinned=True, **low)
    clock.advance(2 * HOUR)
    ms.store.touch([ms.store.key_of(used.id)], clock())
    current = ms.add("Plan the cloud trip.", session="s2", **low)

    minor = ms.gc("generational", young_age=HOUR)
    assert (minor.promoted, minor.collected, minor.compacted) == (3, 2, 1)
    for memory in (important, used, locked):
        assert ms.get(memory.id).generation == 1
    assert ms.get(a.id).archived and ms.get(b.id).archived
    assert ms.get(current.id).generation == 0  # too young to judge

    clock.advance(3 * DAY)
    major = ms.gc("generational", young_age=HOUR, cold_after=DAY, major=True)
    assert ms.get(used.id).archived  # old, cold and unreachable
    assert ms.get(current.id).generation == 1  # its session is the open one: it survives
    assert not ms.get(important.id).archived and not ms.get(locked.id).archived
    assert major.collected == 2  # `used` and the old session's summary
    stats = ms.stats()
    assert stats["gc"]["events"] == 2
    assert stats["gc"]["collected"] == 4 and stats["gc"]["promoted"] == 4
    assert stats["archived"] == 4  # both turns, `used` and the summary
    assert stats["generations"] == {"young": 0, "old": 3}


def test_bad_collectors_and_read_only_views(ms: MemorySpace, clock: FakeClock) -> None:
    ms.add("one memory")
    with pytest.raises(InvalidInput):
        ms.gc("reference_counting")
    with pytest.raises(InvalidInput):
        ms.gc("mark_sweep", colder_after=3)
    with pytest.raises(InvalidInput):
        ms.gc("mark_sweep", cold_after=-1)
    with pytest.raises(InvalidInput):
        ms.gc(TTLCollector(), major=True)
    with ms.as_of(ms.lsn) as past:
        with pytest.raises(ReadOnly):
            past.gc("ttl")
        assert past.gc("ttl", dry_run=True).collected == 0


# -- the invariant: nothing pinned or reachable from a root is ever collected

IDS = [f"m{i}" for i in range(8)]
records = st.builds(
    lambda i, kind, pinned, user, session, links, created, importance, accessed, gen, seg: Memory(
        id=IDS[i],
        content="x",
        kind=kind,
        pinned=pinned,
        user=user,
        session=session,
        links=tuple(Link.to(target, type) for target, type in links),
        created_at=created,
        importance=importance,
        access_count=accessed,
        last_access=created if accessed else None,
        generation=gen,
        meta={} if seg is None else {"segment": seg},
        expires_at=created + 10 if importance < 0.15 else None,
    ),
    st.integers(0, len(IDS) - 1),
    st.sampled_from(list(Kind)),
    st.booleans(),
    st.sampled_from(["u", "v", None]),
    st.sampled_from(["s1", "s2", "s3", None]),
    st.lists(st.tuples(st.sampled_from(IDS), st.sampled_from(list(LinkType))), max_size=2),
    st.sampled_from([0.0, 50_000.0, 200_000.0]),
    st.sampled_from([0.1, 0.5, 0.9]),
    st.sampled_from([0, 2]),
    st.sampled_from([0, 1]),
    st.sampled_from([None, "a", "b"]),
)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(records, max_size=len(IDS), unique_by=lambda m: m.id),
    st.sampled_from([None, {"s1"}, set()]),
    st.booleans(),
)
def test_gc_never_collects_pinned_or_root_reachable_records(
    memories: list[Memory], sessions: set[str] | None, major: bool
) -> None:
    now = 300_000.0
    protected = reachable(memories, sessions) | {m.id for m in memories if m.pinned}
    for collector in (
        MarkSweepCollector(cold_after=DAY, sessions=sessions),
        GenerationalCollector(young_age=HOUR, cold_after=DAY, major=major, sessions=sessions),
    ):
        plan = collector.plan(memories, now)
        collected = {m.id for m in plan.collect}
        assert not collected & protected, collector.name
        assert not collected & {m.id for m in plan.promote}
    # Expiry is explicit, so TTL takes reachable records too, but never pinned ones.
    expired = {m.id for m in TTLCollector().plan(memories, now).collect}
    assert not expired & {m.id for m in memories if m.pinned}


def test_a_memory_retrieved_just_before_gc_counts_as_used(
    ms: MemorySpace, clock: FakeClock
) -> None:
    low = {"user": "u", "importance": 0.2}
    used = ms.add("Maple syrup on pancakes.", kind="note", **low)
    idle = ms.add("A forgotten remark about gravel.", kind="note", **low)
    clock.advance(2 * HOUR)
    assert ms.search("maple syrup pancakes", k=1)[0].memory.id == used.id  # counted, buffered
    ms.gc("generational", young_age=HOUR)
    assert ms.get(used.id).generation == 1 and not ms.get(used.id).archived
    assert ms.get(idle.id).archived


def test_a_collection_that_fails_half_way_changes_nothing(
    ms: MemorySpace, monkeypatch: pytest.MonkeyPatch
) -> None:
    from memoryspace.gc import Collector, Plan

    kept = [ms.add(f"note {i}", kind="note") for i in range(3)]
    doomed = ms.add("scratch", kind="working")

    class Everything(Collector):
        """Archives the notes and deletes the working record."""

        name = "everything"

        def plan(self, memories: Any, now: float) -> Plan:
            return Plan(scanned=len(memories), collect=tuple(memories))

    def broken_delete(*args: Any, **kwargs: Any) -> Any:
        raise OSError("the disk died after the archiving")

    before, lsn = state(ms), ms.lsn
    monkeypatch.setattr(ms.store, "delete", broken_delete)
    with pytest.raises(OSError):
        ms.gc(
            Everything(), policy=ActionPolicy(by_kind={Kind.WORKING: "delete"}, default="archive")
        )
    assert state(ms) == before and ms.lsn == lsn  # the archiving was rolled back too
    monkeypatch.undo()
    assert ms.get(doomed.id).content == "scratch"
    assert ms.count() == len(kept) + 1


# -- every collector honours the per-kind action

ROOTED = {"mark_sweep", "generational", "bounded"}  # a persona is a root for these


@pytest.mark.parametrize("collector", ["ttl", "ttl_idle", "mark_sweep", "generational", "bounded"])
def test_every_collector_collects_each_kind_by_its_default_action(
    ms: MemorySpace, clock: FakeClock, collector: str
) -> None:
    expiry = {"ttl": 10} if collector == "ttl" else {}
    pairs = {
        kind: [
            ms.add(f"{kind} record {n}", kind=kind, user="u", importance=0.1, **expiry).id
            for n in range(2)
        ]
        for kind in Kind
    }
    clock.advance(2 * DAY)
    options: dict[str, Any] = {
        "ttl": {},
        "ttl_idle": {"idle_after": DAY},
        "mark_sweep": {"cold_after": DAY},
        "generational": {},
        "bounded": {"max_records": 1, "target": 0},
    }[collector]
    ms.gc(collector.removesuffix("_idle"), **options)
    policy = ActionPolicy()
    summaries = [m for m in ms.scan(kind="summary") if m.meta.get("gc")]
    for kind, ids in pairs.items():
        if kind is Kind.PERSONA and collector in ROOTED:
            assert not any(ms.get(id).archived for id in ids), kind
            continue
        action = policy.action_for(kind)
        if action == "delete":
            for id in ids:
                with pytest.raises(NotFound):
                    ms.get(id)
            continue
        assert all(ms.get(id).archived for id in ids), (collector, kind)
        compacted = [s for s in summaries if set(s.link_ids(strong=True)) == set(ids)]
        assert len(compacted) == (action == "compact"), (collector, kind)
