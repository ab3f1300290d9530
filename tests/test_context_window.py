"""ContextWindow: allocators, holes, fragmentation, compaction, regions and update."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from memoryspace.context import (
    ALLOCATORS,
    ContextWindow,
    Region,
    WindowFull,
    region_by_age,
)
from memoryspace.errors import InvalidInput, NotFound
from memoryspace.models import Kind, Memory


def mem(ref: str, tokens: int, kind: Kind = Kind.TURN, **fields: Any) -> Memory:
    return Memory(id=ref, content=f"memory {ref}", kind=kind, tokens=tokens, **fields)


def ids(window: ContextWindow) -> list[str | None]:
    """The layout as ids, holes as None."""
    return [slot.id for slot in window.layout()]


def two_holes(allocator: str) -> ContextWindow:
    """Budget 100: a10 [hole 30] c10 [hole 20] e10 f10, tail 10; the rover is at 90."""
    window = ContextWindow(100, allocator)
    for ref, size in [("a", 10), ("b", 30), ("c", 10), ("d", 20), ("e", 10), ("f", 10)]:
        window.place(mem(ref, size))
    window.free("b")
    window.free("d")
    return window


def test_free_leaves_a_hole_and_the_last_record_goes_to_the_tail() -> None:
    window = two_holes("first_fit")
    assert [(s.offset, s.size, s.id) for s in window.layout()] == [
        (0, 10, "a"),
        (10, 30, None),
        (40, 10, "c"),
        (50, 20, None),
        (70, 10, "e"),
        (80, 10, "f"),
    ]
    assert window.tail_tokens == 10 and window.free_tokens == 60
    window.free("f")
    assert ids(window) == ["a", None, "c", None, "e"] and window.tail_tokens == 20


def test_adjacent_holes_merge() -> None:
    window = two_holes("first_fit")
    window.free("c")
    assert [(s.offset, s.size, s.id) for s in window.layout()][:2] == [(0, 10, "a"), (10, 60, None)]


def test_first_fit_takes_the_lowest_hole_that_fits() -> None:
    window = two_holes("first_fit")
    slot = window.place(mem("x", 15))
    assert slot.offset == 10
    assert ids(window) == ["a", "x", None, "c", None, "e", "f"]
    assert window.holes()[0].size == 15  # the rest of the 30-token hole


def test_best_fit_takes_the_smallest_hole_that_fits() -> None:
    window = two_holes("best_fit")
    assert window.place(mem("x", 15)).offset == 50
    assert window.place(mem("y", 25)).offset == 10  # only the 30-token hole holds 25


def test_next_fit_continues_after_the_previous_placement() -> None:
    window = two_holes("next_fit")
    assert window.place(mem("x", 15)).offset == 10  # nothing fits after the rover: wrap
    window.free("a")  # a hole at 0, before the rover (now 25)
    assert window.place(mem("z", 5)).offset == 25  # first fit would take offset 0
    first = two_holes("first_fit")
    first.place(mem("x", 15))
    first.free("a")
    assert first.place(mem("z", 5)).offset == 0


@pytest.mark.parametrize("allocator", sorted(ALLOCATORS))
def test_no_fitting_hole_appends_to_the_tail(allocator: str) -> None:
    window = ContextWindow(100, allocator)
    for ref, size in [("a", 10), ("b", 5), ("c", 10)]:
        window.place(mem(ref, size))
    window.free("b")
    assert window.place(mem("x", 8)).offset == 25  # the 5-token hole is too small
    assert ids(window) == ["a", None, "c", "x"]


def test_prefix_fit_only_fills_holes_after_this_turns_first_change() -> None:
    records = [mem(ref, size) for ref, size in [("a", 10), ("b", 30), ("c", 10), ("d", 20)]]
    records.append(mem("e", 10))
    orders = {}
    for allocator, expected in [("prefix_fit", 50), ("first_fit", 10)]:
        window = ContextWindow(100, allocator)
        window.update(records)
        window.update([r for r in records if r.id != "b"])  # an old hole at 10
        layout = window.update([r for r in records if r.id not in "bd"] + [mem("x", 15)])
        placed = next(slot for slot in layout.slots if slot.id == "x")
        assert placed.offset == expected, allocator
        orders[allocator] = [r.id for r in layout.records]
    # the previous render was a c d e: prefix fit keeps "a c", first fit only "a"
    assert orders == {"prefix_fit": ["a", "c", "x", "e"], "first_fit": ["a", "x", "c", "e"]}


def test_fragmentation_counts_free_blocks_smaller_than_the_median_record() -> None:
    window = ContextWindow(100)
    for ref, size in [("a", 10), ("b", 4), ("c", 10), ("d", 4), ("e", 10), ("f", 54)]:
        window.place(mem(ref, size))
    # records 4 4 10 10 10 54 → median 10; the only free block is the 8-token tail
    assert window.fragmentation() == pytest.approx(0.08)
    window.free("b")
    window.free("d")
    # records 10 10 10 54 → median 10; free blocks: holes 4 and 4, tail 8 → 16 / 100
    assert window.fragmentation() == pytest.approx(0.16)
    window.free("f")  # the tail grows to 62: no longer wasted
    assert window.fragmentation() == pytest.approx(0.08)


def test_compaction_closes_holes_and_keeps_the_order() -> None:
    window = two_holes("first_fit")
    before = [m.id for m in window.records()]
    assert window.compact() == 50
    assert ids(window) == before == ["a", "c", "e", "f"]
    assert window.tail_tokens == 60 and window.holes() == []
    assert window.stats.compactions == 1
    assert window.compact() == 0 and window.stats.compactions == 1


def test_update_compacts_past_the_threshold() -> None:
    records = [mem(ref, 4 if ref in "bd" else 10) for ref in "abcdef"]
    window = ContextWindow(100, compact_threshold=0.05)  # two 4-token holes: 0.08
    window.update(records)
    layout = window.update([r for r in records if r.id not in "bd"])
    assert layout.compacted and window.holes() == []
    assert layout.freed == ("b", "d")


def test_a_record_that_fits_only_after_compaction_forces_one() -> None:
    window = ContextWindow(30)
    for ref, size in [("a", 10), ("b", 5), ("c", 10), ("d", 5)]:
        window.place(mem(ref, size))
    window.free("b")
    window.free("d")  # last: goes to the tail (5 tokens); the 5-token hole stays
    slot = window.place(mem("x", 10))
    assert window.stats.forced_compactions == 1
    assert (slot.offset, ids(window)) == (20, ["a", "c", "x"])


def test_errors() -> None:
    window = ContextWindow(20)
    window.place(mem("a", 15))
    with pytest.raises(WindowFull, match="needs 10 tokens"):
        window.place(mem("b", 10))
    with pytest.raises(InvalidInput, match="already"):
        window.place(mem("a", 1))
    with pytest.raises(NotFound):
        window.free("zzz")
    with pytest.raises(InvalidInput, match="allocator"):
        ContextWindow(10, "worst_fit")
    with pytest.raises(InvalidInput):
        ContextWindow(0)
    with pytest.raises(InvalidInput):
        ContextWindow(10, retain=-1)


def test_regions_lay_out_pinned_then_stable_then_volatile() -> None:
    window = ContextWindow(100)
    window.place(mem("turn", 10))
    window.place(mem("fact", 10, Kind.FACT))
    window.place(mem("persona", 10, Kind.PERSONA))
    window.place(mem("pin", 10, pinned=True))
    window.place(mem("old", 10, meta={"generation": "old"}))
    assert ids(window) == ["persona", "pin", "fact", "old", "turn"]
    assert [s.region for s in window.layout()] == [
        Region.PINNED,
        Region.PINNED,
        Region.STABLE,
        Region.STABLE,
        Region.VOLATILE,
    ]


def test_a_hole_serves_only_its_own_region() -> None:
    window = ContextWindow(100)
    window.place(mem("f1", 10, Kind.FACT))
    window.place(mem("f2", 10, Kind.FACT))
    window.place(mem("t1", 10))
    window.free("f1")
    assert window.place(mem("t2", 10)).offset == 30  # not into the stable hole at 0
    assert window.place(mem("f3", 10, Kind.FACT)).offset == 0


def test_update_keeps_placed_records_in_place() -> None:
    a, b, c, d = (mem(ref, 10) for ref in "abcd")
    window = ContextWindow(100)
    window.update([a, b, c])
    layout = window.update([d, c, a])  # new rank order, b no longer wanted
    assert [s.id for s in layout.slots] == ["a", "d", "c"]  # d filled b's hole
    assert layout.placed == ("d",) and layout.freed == ("b",)


def test_update_drops_what_does_not_fit_best_first() -> None:
    window = ContextWindow(25)
    layout = window.update([mem("a", 10), mem("big", 20), mem("c", 10)])
    assert layout.dropped == ("big",)
    assert [m.id for m in layout.records] == ["a", "c"]


def test_update_replaces_a_changed_record() -> None:
    window = ContextWindow(100)
    window.update([mem("a", 10), mem("b", 10)])
    edited = mem("a", 10).evolve(content="edited", updated_at=5.0)
    layout = window.update([edited, mem("b", 10)])
    assert layout.freed == ("a",) and layout.placed == ("a",)
    assert window.records()[0].content == "edited" and window.stats.moves == 1


def test_update_promotes_records_that_age_into_the_stable_region() -> None:
    now = [100.0]
    window = ContextWindow(100, classify=region_by_age(50, lambda: now[0]))
    records = [mem("x", 10, created_at=60.0), mem("y", 10, created_at=90.0)]
    window.update(records)
    assert {s.id: s.region for s in window.layout()} == {"x": "volatile", "y": "volatile"}
    now[0] = 120.0  # x is now 60 s old
    window.update(records)
    assert [(s.id, s.region) for s in window.layout() if s.id] == [
        ("x", Region.STABLE),
        ("y", Region.VOLATILE),
    ]


def test_retain_keeps_unwanted_records_for_a_few_updates_while_room_allows() -> None:
    a, b, c = (mem(ref, 10) for ref in "abc")
    window = ContextWindow(25, retain=1)
    window.update([a, b])
    layout = window.update([b])
    assert layout.retained == ("a",) and [m.id for m in layout.records] == ["a", "b"]
    layout = window.update([b, c])  # a is 2 updates old now: freed, c takes its hole
    assert [m.id for m in layout.records] == ["c", "b"]
    layout = window.update([c])  # b is retained, but only while room allows
    assert layout.retained == ("b",)


# -- invariants


def check_invariants(window: ContextWindow) -> None:
    slots = window.layout()
    offset = 0
    for slot in slots:
        assert slot.offset == offset and slot.size >= 1
        offset += slot.size
    assert offset <= window.budget_tokens  # never exceeds the budget, holes included
    record_ids = [s.id for s in slots if s.id is not None]
    assert len(record_ids) == len(set(record_ids))
    ranks = [list(Region).index(s.region) for s in slots]
    assert ranks == sorted(ranks)
    for left, right in itertools.pairwise(slots):
        assert not (left.is_hole and right.is_hole and left.region == right.region)
    assert not slots or not slots[-1].is_hole
    assert window.used_tokens + window.free_tokens == window.budget_tokens
    assert 0.0 <= window.fragmentation() <= 1.0


KINDS = st.sampled_from([Kind.TURN, Kind.FACT, Kind.PERSONA])
OPS = st.lists(
    st.tuples(
        st.sampled_from(["place", "free", "compact"]),
        st.integers(0, 12),
        st.integers(1, 40),
        KINDS,
    ),
    max_size=60,
)


@settings(max_examples=150, deadline=None)
@given(OPS, st.sampled_from(sorted(ALLOCATORS)), st.integers(20, 120))
def test_random_place_free_never_exceeds_the_budget(
    ops: list[tuple[str, int, int, Kind]], allocator: str, budget: int
) -> None:
    window = ContextWindow(budget, allocator)
    model: dict[str, int] = {}
    for op, number, size, kind in ops:
        ref = f"m{number}"
        if op == "place":
            if ref in model:
                with pytest.raises(InvalidInput):
                    window.place(mem(ref, size, kind))
            elif size > budget - sum(model.values()):
                with pytest.raises(WindowFull):
                    window.place(mem(ref, size, kind))
            else:
                window.place(mem(ref, size, kind))
                model[ref] = size
        elif op == "free" and ref in model:
            window.free(ref)
            del model[ref]
        elif op == "compact":
            window.compact()
        check_invariants(window)
        assert {s.id: s.size for s in window.layout() if s.id} == model


TURNS = st.lists(
    st.lists(st.tuples(st.integers(0, 15), st.integers(1, 30), KINDS), max_size=12), max_size=15
)


@settings(max_examples=100, deadline=None)
@given(TURNS, st.sampled_from(sorted(ALLOCATORS)), st.integers(0, 2), st.integers(10, 150))
def test_random_updates_hold_the_wanted_records_within_budget(
    turns: list[list[tuple[int, int, Kind]]], allocator: str, retain: int, budget: int
) -> None:
    window = ContextWindow(budget, allocator, retain=retain)
    sizes: dict[str, tuple[int, Kind]] = {}
    for turn in turns:
        wanted = []
        for number, size, kind in turn:
            size, kind = sizes.setdefault(f"m{number}", (size, kind))
            wanted.append(mem(f"m{number}", size, kind))
        layout = window.update(wanted)
        check_invariants(window)
        held = {m.id for m in layout.records}
        wanted_ids = {m.id for m in wanted}
        assert wanted_ids - set(layout.dropped) <= held
        assert held - wanted_ids == set(layout.retained)
        if retain == 0:
            assert held <= wanted_ids
