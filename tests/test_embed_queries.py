"""``QueryVectors``: the bounded LRU of query vectors in front of the retriever's embedder."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from memoryspace import MemorySpace
from memoryspace.embed.base import Vectors
from memoryspace.embed.hashing import HashingEmbedder
from memoryspace.embed.queries import QueryVectors
from memoryspace.errors import InvalidInput


class Counting:
    """The hashing embedder, counting the texts it embeds."""

    def __init__(self) -> None:
        self.inner = HashingEmbedder()
        self.texts: list[str] = []

    @property
    def model_id(self) -> str:
        return self.inner.model_id

    @property
    def dimension(self) -> int:
        return self.inner.dimension

    def embed(self, texts: Sequence[str]) -> Vectors:
        self.texts.extend(texts)
        return self.inner.embed(texts)


def test_a_repeated_query_is_embedded_once_and_the_oldest_leaves_first() -> None:
    inner = Counting()
    cached = QueryVectors(inner, size=2)
    first = cached.embed(["violin lessons"])
    assert np.array_equal(first, HashingEmbedder().embed(["violin lessons"]))
    assert np.array_equal(cached.embed(["violin lessons"]), first)
    assert inner.texts == ["violin lessons"] and (cached.hits, cached.misses) == (1, 1)
    with pytest.raises(ValueError, match="read-only"):
        first[0, 0] = 1.0  # a caller cannot change the cached vector
    cached.embed(["cello"])
    cached.embed(["violin lessons"])  # used again: "cello" is now the oldest
    cached.embed(["viola"])
    cached.embed(["violin lessons"])
    cached.embed(["cello"])
    assert inner.texts == ["violin lessons", "cello", "viola", "cello"]
    cached.embed(["a", "b"])  # batches pass through, uncached
    cached.embed(["a", "b"])
    assert inner.texts[-4:] == ["a", "b", "a", "b"]
    assert cached.model_id == inner.model_id and cached.dimension == inner.dimension


def test_size_must_be_positive() -> None:
    with pytest.raises(InvalidInput, match="positive int"):
        QueryVectors(HashingEmbedder(), size=0)


def test_searches_reuse_the_query_vector() -> None:
    inner = Counting()
    with MemorySpace.open(":memory:", embedder=inner) as space:
        space.add("the dentist moved to Thursday", user="ada")
        before = len(inner.texts)
        first = space.search("dentist appointment", user="ada")
        again = space.search("dentist appointment", user="ada")
        assert inner.texts[before:].count("dentist appointment") == 1
        assert [h.memory.id for h in first] == [h.memory.id for h in again]
        assert first[0].score == again[0].score


def test_link_expansion_reuses_the_query_vector() -> None:
    inner = Counting()
    with MemorySpace.open(":memory:", embedder=inner) as space:
        trip = space.add("a trip to Japan in April", user="ada", kind="fact")
        space.add("the Kyoto hotel is booked", user="ada", kind="fact", links=[trip.id])
        before = len(inner.texts)
        hits = space.search("Kyoto hotel", user="ada", expand=1)
        assert any(hit.parts.via for hit in hits)  # the trip came by the link: own relevance read
        assert inner.texts[before:].count("Kyoto hotel") == 1
