"""The settings of a ``Conversation`` and what its ``retrieve`` returns."""

from __future__ import annotations

from dataclasses import dataclass

from memoryspace.conversation.segments import HeatWeights
from memoryspace.errors import InvalidInput
from memoryspace.models import Memory


@dataclass(frozen=True, slots=True)
class ConversationSettings:
    """MemoryOS's parameters (the paper's defaults), plus speaker labels for page text.

    ``lpm_batch`` is how many queued pages are absorbed into LPM at once (one batched call);
    ``continuity`` is the threshold above which a page chains to the previous one.

    Raises:
        InvalidInput: a capacity, count or weight out of range (at construction).
    """

    stm_capacity: int = 10
    mtm_capacity: int = 200
    theta: float = 0.6
    alpha: float = 1.0
    beta: float = 1.0
    gamma: float = 1.0
    mu: float = 1e7
    tau: float = 5.0
    top_m: int = 5
    top_k: int = 10
    lpm_top: int = 10
    lpm_batch: int = 8
    continuity: float = 0.5
    user_label: str | None = None
    agent_label: str | None = None

    def __post_init__(self) -> None:
        for name in ("stm_capacity", "mtm_capacity", "top_m", "top_k", "lpm_top", "lpm_batch"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InvalidInput(f"{name} must be an int >= 1, got {value!r}")
        if self.mu <= 0:
            raise InvalidInput(f"mu must be > 0 seconds, got {self.mu}")
        if min(self.alpha, self.beta, self.gamma) < 0:
            raise InvalidInput("alpha, beta and gamma must be >= 0")

    @property
    def weights(self) -> HeatWeights:
        return HeatWeights(self.alpha, self.beta, self.gamma, self.mu)


@dataclass(frozen=True, slots=True)
class Retrieval:
    """What ``Conversation.retrieve`` found: STM (oldest first), MTM segments and pages (best
    first), LPM facts (best first) and the profile; ``scores`` maps page ids to their cosine
    similarity with the query."""

    query: str
    stm: tuple[Memory, ...]
    segments: tuple[Memory, ...]
    pages: tuple[Memory, ...]
    facts: tuple[Memory, ...]
    profile: Memory | None
    scores: dict[str, float]

    def ranked_pages(self) -> list[Memory]:
        """STM and MTM pages together, most similar to the query first."""
        pages = {page.id: page for page in (*self.pages, *self.stm)}
        return sorted(pages.values(), key=lambda page: -self.scores.get(page.id, 0.0))
