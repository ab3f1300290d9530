"""The settings of a ``Conversation`` and what its ``retrieve`` returns."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Literal

from memoryspace.conversation.segments import HeatWeights
from memoryspace.errors import InvalidInput
from memoryspace.models import Memory

PageRanker = Literal["dense", "hybrid"]
SegmentRanker = Literal["fscore", "hybrid"]
PAGE_RANKERS: tuple[PageRanker, ...] = ("dense", "hybrid")
SEGMENT_RANKERS: tuple[SegmentRanker, ...] = ("fscore", "hybrid")


@dataclass(frozen=True, slots=True)
class ConversationSettings:
    """MemoryOS's parameters, plus speaker labels for page text and the retrieval rankers.

    Storage and heat follow the paper's defaults. Retrieval defaults to a wider, hybrid funnel:
    ``top_m`` segments ranked by ``segment_ranker`` (``"fscore"``: the paper's Fscore against
    the query; ``"hybrid"``: z-scored Fscore plus z-scored best page score in it), then their
    ``top_k`` pages ranked by ``page_ranker`` (``"dense"``: the paper's cosine; ``"hybrid"``:
    the space's dense + BM25 search). ``ConversationSettings.paper()`` gives the paper's
    retrieval (``top_m=5``, Fscore, cosine).

    ``lpm_batch`` is how many queued pages are absorbed into LPM at once (one batched call);
    ``continuity`` is the threshold above which a page chains to the previous one.

    ``prompt`` spends at most ``profile_share`` of its budget on long-term memory (the facts
    most relevant to the query, scoring at least ``profile_min_score``, then the whole profile
    record if it still fits) and the rest on pages, best scored first.

    Raises:
        InvalidInput: a capacity, count, weight or ranker out of range (at construction).
    """

    stm_capacity: int = 10
    mtm_capacity: int = 200
    theta: float = 0.6
    alpha: float = 1.0
    beta: float = 1.0
    gamma: float = 1.0
    mu: float = 1e7
    tau: float = 5.0
    top_m: int = 10
    top_k: int = 10
    lpm_top: int = 10
    lpm_batch: int = 8
    continuity: float = 0.5
    page_ranker: PageRanker = "hybrid"
    segment_ranker: SegmentRanker = "hybrid"
    user_label: str | None = None
    agent_label: str | None = None
    profile_share: float = 0.25
    profile_min_score: float = 0.1

    def __post_init__(self) -> None:
        for name in ("stm_capacity", "mtm_capacity", "top_m", "top_k", "lpm_top", "lpm_batch"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InvalidInput(f"{name} must be an int >= 1, got {value!r}")
        for name in ("profile_share", "profile_min_score"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
                raise InvalidInput(f"{name} must be a number from 0 to 1, got {value!r}")
        if self.mu <= 0:
            raise InvalidInput(f"mu must be > 0 seconds, got {self.mu}")
        if min(self.alpha, self.beta, self.gamma) < 0:
            raise InvalidInput("alpha, beta and gamma must be >= 0")
        if self.page_ranker not in PAGE_RANKERS:
            raise InvalidInput(
                f"page_ranker must be one of {PAGE_RANKERS}, got {self.page_ranker!r}"
            )
        if self.segment_ranker not in SEGMENT_RANKERS:
            raise InvalidInput(
                f"segment_ranker must be one of {SEGMENT_RANKERS}, got {self.segment_ranker!r}"
            )

    @classmethod
    def paper(cls, **overrides: Any) -> ConversationSettings:
        """MemoryOS's published retrieval: top 5 segments by Fscore, their pages by cosine.

        Raises:
            InvalidInput: an override out of range, as at construction.
        """
        paper: dict[str, Any] = {"top_m": 5, "page_ranker": "dense", "segment_ranker": "fscore"}
        return replace(cls(), **{**paper, **overrides})

    @property
    def weights(self) -> HeatWeights:
        return HeatWeights(self.alpha, self.beta, self.gamma, self.mu)


@dataclass(frozen=True, slots=True)
class Retrieval:
    """What ``Conversation.retrieve`` found: STM (oldest first), MTM segments and pages (best
    first), LPM facts (best first) and the profile; ``scores`` maps the STM pages and the chosen
    segments' pages to their score from the page ranker (cosine, or the hybrid fused score);
    ``fact_scores`` maps the facts to their search score (a relevance in [0, 1])."""

    query: str
    stm: tuple[Memory, ...]
    segments: tuple[Memory, ...]
    pages: tuple[Memory, ...]
    facts: tuple[Memory, ...]
    profile: Memory | None
    scores: dict[str, float]
    fact_scores: dict[str, float] = field(default_factory=dict)

    def ranked_pages(self) -> list[Memory]:
        """STM and MTM pages together, best scored for the query first."""
        pages = {page.id: page for page in (*self.pages, *self.stm)}
        return sorted(pages.values(), key=lambda page: -self.scores.get(page.id, 0.0))
