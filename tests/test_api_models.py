"""The typed API layer: the facade's values round-trip through the models, requests are strict
and bounded, and the shells' option mapping lives in the library."""

from __future__ import annotations

import math

import pytest
from pydantic import ValidationError

from memoryspace import MemorySpace
from memoryspace.api import (
    AddIn,
    ChangeOut,
    GCEventOut,
    MemoryOut,
    SearchHitOut,
    SearchIn,
    StatsOut,
    UpdateIn,
    gc_options,
)
from memoryspace.errors import InvalidInput


@pytest.fixture
def space() -> MemorySpace:
    return MemorySpace.open(":memory:", embedder="hashing")


def test_facade_values_round_trip(space: MemorySpace) -> None:
    memory = space.add("Ida keeps bees", user="ida", tags=["hobby"], links=["someone-else"])
    assert MemoryOut.of(memory).to_memory() == memory
    assert MemoryOut.of(memory).to_json() == memory.to_dict()
    hit = space.search("bees", user="ida")[0]
    assert SearchHitOut.of(hit).to_hit() == hit
    change = space.changes()[0]
    back = ChangeOut.of(change).to_change()
    assert back.after is not None and back.after.content == memory.content
    assert back.lsn == change.lsn and back.op is change.op
    event = space.gc(dry_run=True)
    assert GCEventOut.of(event).to_event() == event
    assert StatsOut.of(space.stats()).memories == 1


def test_requests_are_strict_and_bounded() -> None:
    for bad in (
        {"content": 5},
        {"content": ""},
        {"content": "x", "importance": "0.5"},
        {"content": "x", "importance": math.nan},
        {"content": "x", "unknown": 1},
        {"content": "x" * 100_001},
    ):
        with pytest.raises(ValidationError):
            AddIn.model_validate(bad)
    with pytest.raises(ValidationError):
        SearchIn.model_validate({"query": "x", "k": 0})
    search = SearchIn.model_validate({"query": "tea", "k": 3, "user": "ida", "kind": ["fact"]})
    assert search.filters() == {"user": "ida", "kind": ["fact"]}
    update = UpdateIn.model_validate({"pinned": True, "if_version": 4})
    assert update.fields() == {"pinned": True} and update.if_version == 4


def test_gc_options_map_the_shell_flags() -> None:
    assert gc_options("generational", major=True) == {"major": True}
    assert gc_options("ttl", idle_days=2) == {"idle_after": 172_800}
    assert gc_options("bounded", max_records=10) == {"max_records": 10}
    with pytest.raises(InvalidInput, match="ttl collector"):
        gc_options("mark_sweep", idle_days=1)
    with pytest.raises(InvalidInput, match="max_records"):
        gc_options("bounded")


def test_score_parts_model_has_every_field_of_score_parts() -> None:
    from dataclasses import fields

    from memoryspace.api import ScorePartsOut
    from memoryspace.models import ScoreParts

    assert list(ScorePartsOut.model_fields) == [f.name for f in fields(ScoreParts)]
