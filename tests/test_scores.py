"""Calibrated scores: a hit's score is a relevance in [0, 1] that means the same in any query and
store, so it can be thresholded (``min_score``) and ``forget(query)`` can refuse weak matches."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from memoryspace import InvalidInput, MemorySpace, Settings
from memoryspace.embed.base import DEFAULT_COSINE_SCALE, CosineScale, cosine_scale
from memoryspace.embed.hashing import HASHING_COSINE_SCALE, HashingEmbedder
from memoryspace.embed.minilm import minilm_available
from memoryspace.models import Filter
from memoryspace.retrieval.terms import query_terms

EMBEDDERS = [
    "hashing",
    pytest.param(
        "minilm",
        marks=pytest.mark.skipif(not minilm_available(), reason="MiniLM weights not installed"),
    ),
]

ANA = [
    "Ana's passport number is in the blue folder",
    "Ana is allergic to penicillin",
    "Ana's daughter Lucia starts school in September",
    "Ana prefers window seats on long flights",
    "Ana's dentist appointment is on Tuesday at 3pm",
    "Ana runs 5 km every Saturday morning with her neighbour",
    "Ana's favourite restaurant is the Lebanese place on Rua Augusta",
    "Ana's car needs new winter tyres before December",
]
UNRELATED = [
    "quantum chromodynamics lecture notes",
    "how do I replace the carburetor on a 1972 motorcycle",
    "Nvidia quarterly earnings per share",
]


def ana_space(path: Path, embedder: str) -> MemorySpace:
    ms = MemorySpace.open(path, embedder=embedder)
    ms.add_many([{"content": text, "user": "ana"} for text in ANA])
    return ms


@pytest.mark.parametrize("embedder", EMBEDDERS)
def test_scores_are_relevances_in_0_1_falling_with_rank(tmp_path: Path, embedder: str) -> None:
    with ana_space(tmp_path / "ana.db", embedder) as ms:
        for query in ["where is Ana's passport?", "Ana allergy", *UNRELATED]:
            hits = ms.search(query, k=len(ANA), user="ana", min_score=0)
            assert len(hits) == len(ANA)
            scores = [hit.score for hit in hits]
            assert all(0.0 <= s <= 1.0 for s in scores)
            assert scores == sorted(scores, reverse=True)
            for hit in hits:  # a score never exceeds the hit's own relevance
                assert hit.parts.relevance is not None and hit.score <= hit.parts.relevance
                assert 0.0 <= (hit.parts.dense_relevance or 0.0) <= 1.0
                assert 0.0 <= (hit.parts.sparse_relevance or 0.0) <= 1.0


@pytest.mark.parametrize("embedder", EMBEDDERS)
def test_an_unrelated_query_returns_nothing_by_default(tmp_path: Path, embedder: str) -> None:
    with ana_space(tmp_path / "ana.db", embedder) as ms:
        threshold = Settings().min_score
        for query in UNRELATED:
            best = ms.search(query, k=1, user="ana", min_score=0)[0]
            assert best.score < threshold, (query, best)
            assert ms.search(query, user="ana") == []
        found = ms.search("where is Ana's passport?", user="ana")
        assert found[0].memory.content == ANA[0] and found[0].score >= threshold


@pytest.mark.parametrize("embedder", EMBEDDERS)
def test_a_single_memory_that_matches_scores_high(tmp_path: Path, embedder: str) -> None:
    """z-scoring gave a lone hit 0.0 whatever it was; a relevance does not depend on company."""
    with MemorySpace.open(tmp_path / "one.db", embedder=embedder) as ms:
        ms.add("Maren's greyhound is called Biscuit", user="maren")
        (hit,) = ms.search("what is Maren's greyhound called?", user="maren")
        assert hit.score > 0.5


@pytest.mark.skipif(not minilm_available(), reason="MiniLM weights not installed")
def test_tiny_stores_rank_by_meaning_when_words_barely_differ(tmp_path: Path) -> None:
    """Issue 11: three memories about Maren; BM25 tells them apart by ~1e-7 (only "Maren"
    matches, and it is in every memory), which z-scoring blew up to full weight."""
    with MemorySpace.open(tmp_path / "maren.db", embedder="minilm") as ms:
        ms.add_many(
            [
                {"content": text, "user": "maren"}
                for text in [
                    "Maren works night shifts at the hospital",
                    "Maren has a golden retriever named Pepper",
                    "Maren's sister moved to Bergen last year",
                ]
            ]
        )
        hits = ms.search("what is Maren's dog called?", user="maren", min_score=0)
        sparse = [hit.parts.sparse or 0.0 for hit in hits]
        assert max(sparse) - min(sparse) < 1e-5  # the words really do not separate them
        assert hits[0].memory.content == "Maren has a golden retriever named Pepper"
        assert hits[0].parts.dense_rank == 1


def test_tiny_stores_rank_by_meaning_with_the_hashing_embedder(tmp_path: Path) -> None:
    """The same failure with the offline embedder: when BM25 differs only by noise (only
    "Maren" matches, in every memory), the ranking is the vectors' ranking, not the noise's."""
    with MemorySpace.open(tmp_path / "maren.db", embedder="hashing") as ms:
        ms.add_many(
            [
                {"content": text, "user": "maren"}
                for text in [
                    "Maren works night shifts at the hospital",
                    "Maren walks her doggy Pepper twice a day",
                    "Maren's sister moved to Bergen last year",
                ]
            ]
        )
        hits = ms.search("Maren's dogs", user="maren", min_score=0)
        sparse = [hit.parts.sparse or 0.0 for hit in hits]
        assert max(sparse) - min(sparse) < 1e-5
        by_noise = min(hits, key=lambda hit: hit.parts.sparse_rank or 99)
        assert by_noise.parts.dense_rank != 1  # the noise disagrees with the vectors
        assert [hit.parts.dense_rank for hit in hits] == [1, 2, 3]


FIRST = ["Jonas", "Priya", "Tomasz", "Aiko", "Lena", "Mateo", "Noor", "Felix", "Ines", "Yusuf"]
VERBS = ["painted", "repaired", "sold", "photographed", "borrowed", "cleaned"]
THINGS = ["a bicycle", "the garden shed", "an old piano", "a canoe", "the kitchen table"]
WHEN = ["on Monday", "last winter", "in March", "after lunch", "at the weekend", "in 2019"]


def fillers(n: int) -> list[str]:
    """Plausible memories about other people and things, sharing no word with the query."""
    combos = itertools.product(FIRST, VERBS, THINGS, WHEN)
    return [f"{who} {did} {what} {when}" for who, did, what, when in itertools.islice(combos, n)]


@pytest.mark.parametrize("embedder", EMBEDDERS)
def test_the_same_memory_scores_the_same_in_a_small_and_a_large_store(
    tmp_path: Path, embedder: str
) -> None:
    """3 memories vs 300: the cosine is the same; BM25 over its bound is the idf-weighted share
    of the query's words the memory holds, which stays 1 for a memory holding them all, so only
    BM25's length normalisation (the average memory length moves) shifts it: at b = 0.75 a 20%
    change of the average length moves the BM25 part by about 0.07, half of that in the mean.
    Tolerance 0.05."""
    target = "Maren's greyhound Biscuit sleeps on the sofa"
    query = "where does Biscuit the greyhound sleep?"
    scores = []
    for size in (3, 300):
        with MemorySpace.open(tmp_path / f"s{size}.db", embedder=embedder) as ms:
            ms.add_many([{"content": target, "user": "maren"}])
            ms.add_many([{"content": text, "user": "maren"} for text in fillers(size - 1)])
            hit = ms.search(query, user="maren", k=1)[0]
            assert hit.memory.content == target
            scores.append(hit.score)
    assert scores[0] >= Settings().min_score
    assert scores[0] == pytest.approx(scores[1], abs=0.05)


def test_min_score_filters_search_and_context(tmp_path: Path) -> None:
    with ana_space(tmp_path / "ana.db", "hashing") as ms:
        every = ms.search("Ana flights window", k=8, user="ana", min_score=0)
        assert every[0].score > every[-1].score
        cut = (every[0].score + every[-1].score) / 2
        kept = ms.search("Ana flights window", k=8, user="ana", min_score=cut)
        assert [h.memory.id for h in kept] == [h.memory.id for h in every if h.score >= cut]
        assert len(kept) < len(every)
        assert ms.context(UNRELATED[0], budget=500, user="ana").source_ids == []
        loose = ms.context(UNRELATED[0], budget=500, user="ana", min_score=0)
        assert len(loose.source_ids) == len(ANA)


@pytest.mark.parametrize("bad", [-0.1, 1.5, True, "0.5", None, float("nan")])
def test_min_score_rejects_what_is_not_a_relevance(tmp_path: Path, bad: object) -> None:
    with ana_space(tmp_path / "ana.db", "hashing") as ms:
        if bad is None:  # None means "the settings' default", which is fine
            ms.search("Ana", min_score=None)
            return
        with pytest.raises(InvalidInput, match="min_score"):
            ms.search("Ana", min_score=bad)  # type: ignore[arg-type]
        with pytest.raises(InvalidInput, match="min_score"):
            ms.forget("Ana", min_score=bad, user="ana")  # type: ignore[arg-type]
        with pytest.raises(InvalidInput, match="min_score"):
            MemorySpace.open(
                tmp_path / "x.db",
                embedder="hashing",
                settings=Settings(min_score=bad),  # type: ignore[arg-type]
            ).search("Ana")
        assert len(ms.search("Ana", k=8, user="ana", min_score=0)) == len(ANA)


def test_embedders_declare_their_cosine_scale() -> None:
    assert cosine_scale(HashingEmbedder()) == HASHING_COSINE_SCALE
    assert cosine_scale(object()) == DEFAULT_COSINE_SCALE
    scale = CosineScale(unrelated=0.2, related=0.6)
    assert scale.relevance(np.array([-1.0, 0.2, 0.4, 0.6, 1.0])).tolist() == pytest.approx(
        [0.0, 0.0, 0.5, 1.0, 1.0]
    )


# -- forgetting


def test_forget_by_query_spares_what_does_not_match(tmp_path: Path) -> None:
    """Issue 11: forget("quantum chromodynamics lecture notes") deleted Ana's passport note."""
    with ana_space(tmp_path / "ana.db", "hashing") as ms:
        assert ms.forget("quantum chromodynamics lecture notes", user="ana") == []
        assert ms.count(user="ana") == len(ANA)
        passport = [m for m in ms.scan(user="ana") if "passport" in m.content]
        assert passport and ms.history(passport[0].id)[-1].op.value == "add"


def test_forget_dry_run_lists_and_deletes_nothing(tmp_path: Path) -> None:
    with ana_space(tmp_path / "ana.db", "hashing") as ms:
        lsn = ms.lsn
        planned = ms.forget("Ana's passport number", user="ana", dry_run=True)
        assert [m.content for m in ms.get_many(planned)] == [ANA[0]]
        assert ms.count(user="ana") == len(ANA) and ms.lsn == lsn
        assert ms.forget("Ana's passport number", user="ana") == planned
        assert ms.count(user="ana") == len(ANA) - 1
        assert ms.forget(user="ana", dry_run=True) == [m.id for m in ms.scan(user="ana")]
        assert ms.count(user="ana") == len(ANA) - 1
        with pytest.raises(InvalidInput, match="dry_run"):
            ms.forget("Ana", user="ana", dry_run="yes")  # type: ignore[arg-type]


def test_forget_min_score_zero_restores_the_old_top_k(tmp_path: Path) -> None:
    with ana_space(tmp_path / "ana.db", "hashing") as ms:
        top = ms.search(UNRELATED[0], k=1, user="ana", min_score=0, touch=False)[0]
        assert ms.forget(UNRELATED[0], user="ana", min_score=0) == [top.memory.id]


@pytest.mark.parametrize("scope", [{}, {"user": "ana"}])
def test_bm25_never_passes_the_querys_own_bound(tmp_path: Path, scope: dict[str, str]) -> None:
    """``text_bound`` is the sum over the query's words of idf * (k1 + 1): no memory reaches it,
    even one repeating every word, and a memory holding each word once gets about 1/(k1 + 1)."""
    with ana_space(tmp_path / "ana.db", "hashing") as ms:
        ms.add("window window seats seats flights flights window seats", user="ana")
        ms.add_many([{"content": text, "user": "bo"} for text in fillers(40)])
        terms = query_terms("window seats flights")
        flt = Filter.build(**scope)
        bound = ms.store.text_bound(terms, flt)
        found = ms.store.text_search(terms, 10, flt)
        assert bound > 0 and found
        assert all(0 < score < bound for _, score in found)
        assert ms.store.text_bound(query_terms("zzyzx"), flt) > 0  # unknown words still count
        assert ms.store.text_bound(terms, Filter.build(user="nobody")) == 0.0
