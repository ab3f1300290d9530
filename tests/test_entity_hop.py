"""The entity second hop: names in the best hit pull in the memories about them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from memoryspace import MemorySpace, Settings
from memoryspace.retrieval.entities import hop_boosts, names


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("We met at the Museum of Modern Art in New York.", {"Museum of Modern Art", "New York"}),
        ("It was recorded by The Beatles in London", {"Beatles", "London"}),
        # a capital that only opens a sentence, a pronoun, a contraction: no names
        ("Yesterday I went out. She said That's fine.", set()),
        ("Melanie: Congrats, Caroline!", {"Caroline"}),  # "Melanie" opens the text
        ("1998 final: Pete Sampras won.", {"Pete Sampras"}),
    ],
)
def test_names_are_capitalised_runs_but_not_sentence_openers(text: str, expected: set[str]) -> None:
    assert names(text) == expected


def test_a_bridge_name_boosts_the_two_best_memories_about_it_the_second_by_half() -> None:
    contents = [
        "Final: the winner was Pete Sampras.",  # the seed (best score)
        "Pete Sampras: He was nicknamed Pistol Pete.",  # about him, best scored
        "Pete Sampras: He is right-handed.",  # about him, second
        "Pete Sampras: He has two children.",  # about him, third: not pulled in
        "Coach: Some say Pete Sampras trained hard.",  # names him, but is not about him
        *(f"Weather: it rained on day {n}." for n in range(20)),
    ]
    scores = np.array([3.0, 0.5, 0.4, 0.3, 0.9, *([0.0] * 20)])
    boosts = hop_boosts("Who won the final?", contents, scores, weight=1.5)
    assert boosts.tolist() == [0.0, 1.5, 0.75, *([0.0] * 22)]
    # nothing to bridge: the query already names him, or he is a known name (a speaker)
    assert not hop_boosts("Did Pete Sampras win?", contents, scores, weight=1.5).any()
    assert not hop_boosts("Who won?", contents, scores, weight=1.5, known={"Pete Sampras"}).any()
    assert not hop_boosts("Who won?", contents, scores, weight=0.0).any()


def test_a_name_most_candidates_hold_is_no_bridge() -> None:
    contents = ["Final: Ana won.", *(f"Ana: match {n}." for n in range(9))]
    scores = np.array([2.0, *([0.0] * 9)])
    assert not hop_boosts("Who won the final?", contents, scores, weight=1.5).any()


def test_search_follows_the_bridge_to_the_memory_about_it(tmp_path: Path) -> None:
    facts = [
        "Final 1998: the winner of the final in 1998 was Pete Sampras.",
        "Pete Sampras: He was called Pistol Pete by the press.",
        "Andre Agassi: His nickname as a junior winner was the Punisher.",
        "Goran Ivanisevic: He served fast.",
        "Tim Henman: He played at home.",
        "Wimbledon: The courts are grass.",
    ]
    query = "What was the nickname of the winner of the 1998 final?"
    with MemorySpace.open(tmp_path / "hop.db", embedder="hashing") as ms:
        ms.add_many(facts)
        hits = ms.search(query, k=3, min_score=0)
        assert hits[0].memory.content == facts[0]
        assert hits[1].memory.content == facts[1]
        assert hits[1].parts.entity_boost == Settings().entity_boost > 0
    with MemorySpace.open(
        tmp_path / "off.db", embedder="hashing", settings=Settings(entity_boost=0.0)
    ) as ms:
        ms.add_many(facts)
        without = ms.search(query, k=3, min_score=0)
    assert [h.memory.content for h in without[:2]] == [facts[0], facts[2]]
    assert all(h.parts.entity_boost == 0.0 for h in without)
