"""A-MEM notes on a real SQLite file: described, embedded, linked by id, evolving neighbours
through logged patches, shown with links and history, searched with link expansion."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from memoryspace import InvalidInput, MemorySpace, NotFound, Settings
from memoryspace.models import LinkType
from memoryspace.notes import Notes, OfflineEnricher

START = 1_700_000_000.0
TRIP = "I am planning a trip to Japan in April with my sister Anna to see the Kyoto blossoms."
HOTEL = "Anna booked a Kyoto hotel near the river for our Japan trip."
BREAD = "Sourdough bread needs a starter that is fed every day."


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
    with MemorySpace.open(tmp_path / "notes.db", embedder="hashing", clock=clock) as space:
        yield space


def add_all(notes: Notes, clock: Clock, *texts: str) -> list[Any]:
    out = []
    for text in texts:
        out.append(notes.add(text))
        clock.now += 60
    return out


def test_a_note_gets_keywords_tags_and_a_context_sentence(ms: MemorySpace) -> None:
    note = ms.notes(user="maren").add(TRIP, tags=["travel"])
    assert note.kind == "note" and note.user == "maren"
    assert "japan" in note.meta["keywords"] and "kyoto" in note.tags and "travel" in note.tags
    context = note.meta["context"]
    assert context.startswith("A note about ") and context.endswith(".")
    assert context.count(".") == 1  # one sentence


def test_the_vector_embeds_keywords_tags_and_context(ms: MemorySpace) -> None:
    note = ms.notes(user="maren").add(TRIP)
    plain = ms.embedder.embed([TRIP])[0]
    stored = ms.store.vectors([ms.store.key_of(note.id)])[ms.store.key_of(note.id)]
    assert float(stored @ plain) < 0.999  # not the content alone


def test_a_new_note_links_its_neighbours_by_id_and_they_evolve(
    ms: MemorySpace, clock: Clock
) -> None:
    notes = ms.notes(user="maren")
    trip, bread, hotel = add_all(notes, clock, TRIP, BREAD, HOTEL)
    assert [(link.id, link.type, link.strong) for link in hotel.links] == [
        (trip.id, LinkType.RELATED, False)
    ]
    evolved = ms.get(trip.id)
    assert hotel.id in evolved.link_ids()  # the link back
    assert "hotel" not in evolved.tags  # the trip note never mentions a hotel
    assert ms.get(bread.id).links == ()  # not a neighbour: untouched
    history = notes.history(trip.id)
    assert [c.op for c in history] == ["add", "update"] and history[1].actor == "notes"
    assert history[1].before is not None and history[1].before.links == ()


def test_evolution_adds_tags_the_neighbour_mentions_and_rederives_its_context(
    ms: MemorySpace, clock: Clock
) -> None:
    notes = ms.notes(user="maren")
    first = notes.add("Maren visits the Kyoto river every April.")
    clock.now += 60
    second = notes.add("Maren loves Kyoto in April.", tags=["river"])
    evolved = ms.get(first.id)
    assert second.id in evolved.link_ids()
    assert "river" in evolved.tags and "river" in evolved.meta["context"]
    assert evolved.meta["keywords"] == first.meta["keywords"]


def test_evolution_never_overwrites_a_concurrent_change(ms: MemorySpace, clock: Clock) -> None:
    notes = ms.notes(user="maren")
    trip = notes.add(TRIP)
    clock.now += 60

    class EditsFirst:
        """Another writer changes the neighbour between the search and the evolution."""

        def __getattr__(self, name: str) -> Any:
            return getattr(ms, name)

        def search(self, *args: Any, **kwargs: Any) -> Any:
            hits = ms.search(*args, **kwargs)
            ms.update(trip.id, importance=0.9, actor="someone")
            return hits

    racing = Notes(EditsFirst(), embed=ms.embedder.embed, enricher=OfflineEnricher(), user="maren")
    hotel = racing.add(HOTEL)
    now = ms.get(trip.id)
    assert now.importance == 0.9 and hotel.id in now.link_ids()  # both kept (retried)


def test_link_unlink_and_show(ms: MemorySpace, clock: Clock) -> None:
    notes = ms.notes(user="maren", k=0)
    trip, bread = add_all(notes, clock, TRIP, BREAD)
    notes.link(bread.id, trip.id, "supports")
    view = notes.show(bread.id)
    assert [(link.id, link.type, link.strong) for link, _ in view.links] == [
        (trip.id, LinkType.SUPPORTS, True)
    ]
    assert view.links[0][1] is not None and view.links[0][1].content == TRIP
    notes.unlink(bread.id, trip.id)
    assert ms.get(bread.id).links == ()
    assert [c.actor for c in notes.show(bread.id).history] == [None, "notes", "notes"]
    with pytest.raises(NotFound, match="no link"):
        notes.unlink(bread.id, trip.id)
    with pytest.raises(InvalidInput, match="itself"):
        notes.link(bread.id, bread.id)
    with pytest.raises(InvalidInput, match="unknown link type"):
        notes.link(bread.id, trip.id, "likes")
    with pytest.raises(NotFound):
        notes.link(bread.id, "0" * 24)


def test_explicit_links_must_exist(ms: MemorySpace) -> None:
    with pytest.raises(InvalidInput, match="no such memory"):
        ms.notes().add("a note", links=["0" * 24])
    assert ms.count() == 0


def test_search_expands_one_hop_and_says_from_which_note(ms: MemorySpace, clock: Clock) -> None:
    notes = ms.notes(user="maren", k=0)
    trip, bread = add_all(notes, clock, TRIP, BREAD)
    notes.link(trip.id, bread.id, "related")
    flat = notes.search("cherry Kyoto blossoms trip", k=5, expand=0)
    assert [h.memory.id for h in flat] == [trip.id]
    by_default = notes.search("cherry Kyoto blossoms trip", k=5)  # SEARCH_EXPAND: no hops
    assert [h.memory.id for h in by_default] == [trip.id]
    hits = notes.search("cherry Kyoto blossoms trip", k=5, expand=1)
    assert [h.memory.id for h in hits] == [trip.id, bread.id]
    direct, linked = hits
    assert direct.parts.via is None
    assert linked.parts.via == trip.id and linked.parts.via_link == "related"
    # 0.8 of the linking hit, capped by the bread note's own (nil) relevance to the query
    assert 0.0 <= linked.score <= direct.score * 0.8
    facade = ms.search("cherry Kyoto blossoms trip", k=5, expand=1, user="maren")
    assert [h.memory.id for h in facade] == [trip.id, bread.id]
    other_scope = ms.search("cherry Kyoto blossoms trip", k=5, expand=1, user="ola")
    assert other_scope == []


def test_expansion_skips_what_the_filter_hides(ms: MemorySpace, clock: Clock) -> None:
    notes = ms.notes(user="maren", k=0)
    trip, bread = add_all(notes, clock, TRIP, BREAD)
    notes.link(trip.id, bread.id)
    ms.update(bread.id, valid_to=clock.now - 1)  # closed: superseded
    assert [h.memory.id for h in notes.search("Kyoto blossoms trip", expand=1)] == [trip.id]
    with pytest.raises(InvalidInput, match="expand"):
        ms.search("trip", expand=4)


def test_strong_links_keep_their_targets_through_mark_sweep(ms: MemorySpace, clock: Clock) -> None:
    notes = ms.notes(user="maren", k=0)
    evidence, weak = add_all(notes, clock, TRIP, BREAD)
    claim = notes.add(
        "Maren will be in Kyoto in April.", links=[{"id": evidence.id, "type": "supports"}]
    )
    notes.link(claim.id, weak.id, "related")
    ms.pin(claim.id)
    clock.now += 90 * 86_400
    ms.gc("mark_sweep", cold_after=86_400, importance_threshold=1.0)
    assert not ms.get(evidence.id).archived
    assert ms.get(weak.id).archived


def test_notes_persist_across_reopen(tmp_path: Path) -> None:
    path = tmp_path / "n.db"
    with MemorySpace.open(path, embedder="hashing") as ms:
        trip = ms.notes(user="maren").add(TRIP)
        hotel = ms.notes(user="maren").add(HOTEL)
    with MemorySpace.open(path, embedder="hashing", settings=Settings()) as ms:
        view = ms.notes().show(trip.id)
        assert [link.id for link, _ in view.links] == [hotel.id]
        assert view.note.meta["keywords"] and view.note.meta["context"]
