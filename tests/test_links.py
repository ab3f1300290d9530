"""Typed links: strong ones keep their targets alive in GC, weak ones only relate; bare ids
keep meaning what they meant before links had types; structures register their GC roots."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from memoryspace import HashingEmbedder, MemorySpace
from memoryspace.errors import InvalidInput
from memoryspace.models import Kind, Link, LinkType, parse_link
from store_contract import FakeClock

DAY = 86_400.0


def test_links_parse_from_ids_dicts_and_links() -> None:
    assert parse_link("a") == Link("a", LinkType.RELATED, strong=False)
    assert parse_link("a", kind=Kind.SUMMARY) == Link("a", LinkType.DERIVED_FROM, strong=True)
    assert parse_link({"id": "a", "type": "supports"}) == Link("a", LinkType.SUPPORTS, True)
    assert parse_link({"id": "a", "type": "related", "strong": True}).strong is True
    for bad in ("", {"id": ""}, {"id": "a", "type": "loves"}, {"id": "a", "x": 1}, 7, None):
        with pytest.raises(InvalidInput):
            parse_link(bad)
    with pytest.raises(InvalidInput):
        parse_link({"id": "a", "strong": "yes"})


def test_typed_links_round_trip_through_the_store_and_the_log(tmp_path: Path) -> None:
    with MemorySpace.open(tmp_path / "l.db", embedder=HashingEmbedder()) as ms:
        ms.add("evidence", id="e")
        note = ms.add("a claim", id="n", links=["e", {"id": "e", "type": "supports"}])
        assert note.links == (Link.to("e"), Link.to("e", LinkType.SUPPORTS))
        assert ms.get("n").links == note.links
        ms.update("n", links=[{"id": "e", "type": "contradicts"}])
        assert ms.get("n").links == (Link.to("e", LinkType.CONTRADICTS),)
        assert ms.history("n")[0].after.links == note.links  # type: ignore[union-attr]
        with ms.as_of(ms.history("n")[0].lsn) as past:
            assert past.get("n").links == note.links


def test_bare_ids_stored_before_types_keep_their_meaning(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with MemorySpace.open(path, embedder=HashingEmbedder()) as ms:
        ms.add("source", id="s")
        ms.add("a summary", id="sum", kind="summary", links=["s"])
        ms.add("a note", id="n", links=["s"])
    conn = sqlite3.connect(path)  # how rows looked before links had types
    conn.execute("UPDATE memories SET links = ? WHERE id IN ('sum', 'n')", (json.dumps(["s"]),))
    conn.commit()
    conn.close()
    with MemorySpace.open(path, embedder=HashingEmbedder()) as ms:
        assert ms.get("sum").links == (Link("s", LinkType.DERIVED_FROM, strong=True),)
        assert ms.get("n").links == (Link("s", LinkType.RELATED, strong=False),)


def test_strong_links_keep_targets_alive_and_weak_ones_do_not(tmp_path: Path) -> None:
    clock = FakeClock(start=1_000_000.0)
    with MemorySpace.open(tmp_path / "g.db", embedder=HashingEmbedder(), clock=clock) as ms:
        low = {"kind": "note", "importance": 0.1}
        ms.add("evidence kept", id="kept", **low)
        ms.add("merely related", id="related", **low)
        ms.add(
            "the claim",
            id="claim",
            pinned=True,
            links=[{"id": "kept", "type": "supports"}, {"id": "related", "type": "related"}],
        )
        ms.add("points at the claim", id="pointer", links=["claim"], **low)
        clock.advance(2 * DAY)
        ms.gc("mark_sweep", cold_after=DAY)
        assert not ms.get("kept").archived
        assert ms.get("related").archived and ms.get("pointer").archived


def test_structures_register_their_roots(tmp_path: Path) -> None:
    clock = FakeClock(start=1_000_000.0)
    with MemorySpace.open(tmp_path / "r.db", embedder=HashingEmbedder(), clock=clock) as ms:
        assert "conversation" in ms.gc_roots.names
        ms.add("kept by a rule", id="ruled", kind="note", importance=0.1)
        ms.add("nobody keeps me", id="loose", kind="note", importance=0.1)
        ms.gc_roots.register("test", lambda memories: [m.id for m in memories if m.id == "ruled"])
        clock.advance(2 * DAY)
        ms.gc("mark_sweep", cold_after=DAY)
        assert not ms.get("ruled").archived and ms.get("loose").archived
        with pytest.raises(InvalidInput):
            ms.gc_roots.register("", lambda memories: [])


def test_a_conversations_short_term_pages_are_roots(tmp_path: Path) -> None:
    clock = FakeClock(start=1_000_000.0, step=1.0)
    with MemorySpace.open(tmp_path / "c.db", embedder=HashingEmbedder(), clock=clock) as ms:
        chat = ms.conversation(user="ana")
        pages = [chat.add_turn(f"turn {n} about kites", f"reply {n}") for n in range(3)]
        ms.add("an unrelated note", id="loose", kind="note", importance=0.1, user="ana")
        clock.advance(30 * DAY)
        ms.gc("mark_sweep", cold_after=DAY, sessions=set())
        assert all(not ms.get(p.id).archived for p in pages)
        assert ms.get("loose").archived


def test_a_linked_memory_scores_no_more_than_its_own_relevance() -> None:
    from memoryspace.models import Link, Memory, ScoreParts, SearchHit
    from memoryspace.retrieval.expand import expand_hits

    targets = {
        "near": Memory(id="near", content="about the query"),
        "far": Memory(id="far", content="unrelated"),
    }
    source = Memory(id="src", content="hit", links=(Link.to("near"), Link.to("far")))
    hit = SearchHit(memory=source, score=0.9, parts=ScoreParts(fused=1.0, relevance=0.9))
    own = {"near": 0.95, "far": 0.1}
    hits = expand_hits(
        [hit],
        k=5,
        get_many=lambda ids: [targets[i] for i in ids],
        show=lambda m: True,
        own=lambda ms: [own[m.id] for m in ms],
    )
    scores = {h.memory.id: h.score for h in hits}
    assert scores["near"] == pytest.approx(0.9 * 0.8)  # the link's decayed score binds
    assert scores["far"] == pytest.approx(0.1)  # its own relevance binds
    assert [h.memory.id for h in hits] == ["src", "near", "far"]
