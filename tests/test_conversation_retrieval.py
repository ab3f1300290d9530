"""``Conversation.retrieve``'s rankers and the lazy segment summaries, on real spaces."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest

from memoryspace import MemorySpace
from memoryspace.conversation import Conversation, ConversationSettings, fscore
from memoryspace.embed import HashingEmbedder
from memoryspace.embed.base import Vectors
from memoryspace.errors import InvalidInput
from memoryspace.llm.offline import OfflineProcessors


class Clock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        self.now += 1.0
        return self.now


class CountingEmbedder:
    """The hashing embedder, remembering every text it was asked to embed."""

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


@pytest.fixture
def space() -> Iterator[MemorySpace]:
    ms = MemorySpace.open(":memory:", embedder=HashingEmbedder(), clock=Clock())
    yield ms
    ms.close()


# One segment (θ = 0): the query's words are all stopwords but one rare word. The decoy repeats
# the stopwords (close by embedding, no BM25 terms); the target shares only the rare word.
QUERY = "what did you do with them when it was over the zeppelin"
DECOY = "what did you do with them when it was over"
TARGET = "We rode a zeppelin above Lake Constance"
FILLERS = [f"my cousin {name} bakes bread on sundays" for name in ("Ann", "Bo", "Cy", "Di", "Ed")]


def one_segment(space: MemorySpace, user: str, **settings: object) -> Conversation:
    chosen = ConversationSettings(stm_capacity=1, theta=0.0, tau=100.0, top_k=1, **settings)  # type: ignore[arg-type]
    conv = space.conversation(user=user, settings=chosen)
    for text in [FILLERS[0], DECOY, TARGET, *FILLERS[1:], "last page stays in stm"]:
        conv.add_turn(text, "ok")
    assert len(conv.segments) == 1
    return conv


def test_hybrid_page_ranker_finds_the_lexical_match_dense_misses(space: MemorySpace) -> None:
    dense = one_segment(space, "d", page_ranker="dense").retrieve(QUERY)
    hybrid = one_segment(space, "h", page_ranker="hybrid").retrieve(QUERY)
    assert [p.meta["user_text"] for p in dense.pages] == [DECOY]
    assert [p.meta["user_text"] for p in hybrid.pages] == [TARGET]
    assert set(hybrid.scores) == {*(p.id for p in hybrid.stm), *hybrid.segments[0].link_ids()}


def test_pages_come_only_from_the_chosen_segments(space: MemorySpace) -> None:
    settings = ConversationSettings(stm_capacity=1, theta=2.1, tau=100.0, top_m=2, top_k=5)
    conv = space.conversation(user="u", settings=settings)
    for text in [DECOY, TARGET, *FILLERS, "the end"]:
        conv.add_turn(text, "ok")
    assert len(conv.segments) == len(FILLERS) + 2  # θ above 2: every page starts a segment
    for query in (QUERY, "bread on sundays", "Lake Constance"):
        found = conv.retrieve(query)
        chosen = {pid for segment in found.segments for pid in segment.link_ids()}
        assert len(found.segments) == 2 and found.pages
        assert {page.id for page in found.pages} <= chosen


def test_paper_settings_rank_segments_by_fscore_and_pages_by_cosine(space: MemorySpace) -> None:
    settings = ConversationSettings.paper(stm_capacity=1, theta=2.1, tau=100.0, top_m=2)
    assert (settings.top_m, settings.page_ranker, settings.segment_ranker) == (2, "dense", "fscore")
    conv = space.conversation(user="u", settings=settings)
    for text in [DECOY, TARGET, *FILLERS, "the end"]:
        conv.add_turn(text, "ok")
    segments = conv.segments
    found = conv.retrieve(QUERY)
    query = space.embedder.embed([QUERY])[0]
    words = set(OfflineProcessors().keywords(QUERY, 8))
    by_fscore = sorted(segments, key=lambda s: -fscore(s.embedding, query, s.keywords, words))
    assert [s.id for s in found.segments] == [s.id for s in by_fscore[:2]]
    for page in (*found.pages, *found.stm):
        expected = float(np.dot(space.embedder.embed([page.content])[0], query))
        assert found.scores[page.id] == pytest.approx(expected, abs=1e-5)


def test_hybrid_segment_ranker_reaches_a_segment_through_its_best_page(
    space: MemorySpace,
) -> None:
    # The decoy shares character trigrams with "flights" (close by hashing embedding, and in
    # Fscore) but no word (porter stems differ); the target shares the word "zeppelin".
    decoy = "flightless flighty flightpaths"

    def top_segment(ranker: str) -> list[str]:
        settings = ConversationSettings(
            stm_capacity=1,
            theta=2.1,
            tau=100.0,
            top_m=1,
            segment_ranker=ranker,  # type: ignore[arg-type]
        )
        conv = space.conversation(user=ranker, settings=settings)
        for text in [decoy, TARGET, *FILLERS[:2], "the end"]:
            conv.add_turn(text, "ok")
        (segment,) = conv.retrieve("zeppelin flights").segments
        return [space.get(pid).meta["user_text"] for pid in segment.link_ids()]

    assert top_segment("fscore") == [decoy]
    assert top_segment("hybrid") == [TARGET]


def test_a_joining_page_embeds_no_summary_until_flush(tmp_path: Path) -> None:
    embedder = CountingEmbedder()
    settings = ConversationSettings(stm_capacity=1, theta=0.0, tau=100.0)
    path = tmp_path / "conv.db"
    with MemorySpace.open(path, embedder=embedder, clock=Clock()) as ms:
        conv = ms.conversation(user="u", settings=settings)
        pages = [
            "I planted tomatoes in the garden.",
            "The basil grows next to the shed.",
            "Slugs ate two lettuces last night.",
            "We built a compost bin from pallets.",
            "My neighbour gave me squash seeds.",
            "The rain barrel is full again.",
            "Tomatoes, basil, lettuces and squash all grow in the garden.",
        ]
        for text in pages:
            conv.add_turn(text, "")
        (segment,) = conv.segments
        assert len(segment.page_ids) == 6 and segment.stale
        first_summary = 1  # a new segment's record is embedded once, when it is created
        assert len(embedder.texts) == len(pages) + first_summary
        assert ms.get(segment.id).meta["summary_pages"] == 1
        conv.flush()
        assert len(embedder.texts) == len(pages) + first_summary + 1  # once for six pages
        assert not conv.segments[0].stale
        assert ms.get(segment.id).meta["summary_pages"] == 6
        first_text = ms.get(segment.id).content
        conv.flush()
        assert len(embedder.texts) == len(pages) + first_summary + 1
        conv.add_turn("See you tomorrow.", "")  # the seventh page leaves STM: stale again
    with MemorySpace.open(path, embedder=embedder, clock=Clock()) as ms:
        again = ms.conversation(user="u", settings=settings)
        (segment,) = again.segments
        assert segment.stale and ms.get(segment.id).meta["summary_pages"] == 6
        texts = [page.content for page in ms.store.get_many(segment.page_ids)]
        expected = OfflineProcessors().summarize(texts, 3)
        before = len(embedder.texts)
        again.flush()
        record = ms.get(segment.id)
        assert record.meta["summary_pages"] == 7 and record.content == expected
        assert expected != first_text and len(embedder.texts) == before + 1


def test_unknown_rankers_are_refused() -> None:
    with pytest.raises(InvalidInput, match="page_ranker"):
        ConversationSettings(page_ranker="bm25")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="segment_ranker"):
        ConversationSettings(segment_ranker="heat")  # type: ignore[arg-type]
