"""Mid-term memory segments: topics of dialogue pages, scored by Fscore and ranked by heat.

A segment is one ``summary`` memory whose ``links`` are its pages (each page is in exactly one
segment) and whose ``meta`` holds ``{"segment": true, "conversation": {...}, "keywords",
"visits", "interactions", "last_access", "heat", "summary_pages"}`` as of its last logged
change (``conversation`` is its typed state; see ``memoryspace.conversation.state``). A visit
(a query reading the segment) is not a logged change: it is counted like any read, in the record's
batched access counters (``access_count``, ``last_access``; see ``memoryspace.models``), so
reading never writes the log; a segment's visits and last access are the larger of the two.
In memory a segment also keeps the sum of its pages' unit embeddings, so its embedding ``e_s`` is
their normalised mean: a page joining costs one vector addition, not an embedding of the new
summary. The record's summary text (and so its stored vector) is rewritten lazily;
``summary_pages`` says how many pages it covers, and a segment whose count lags its pages is
``stale``.

* ``fscore(e_s, e_p, K_s, K_p) = cos(e_s, e_p) + Jaccard(K_s, K_p)`` decides which segment a page
  joins (at least θ) and which segments a query reads;
* ``heat = α·visits + β·interactions + γ·exp(−Δt/μ)``, with Δt the time since the last access,
  picks the segment to evict (the coldest) and the segments ready for long-term memory (hotter
  than τ). The published MemoryOS code evicts by visit count (LFU); this evicts by heat.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from memoryspace.conversation.state import STATE_KEY, SegmentState
from memoryspace.models import Memory

Vector = npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class HeatWeights:
    """The weights of the heat formula: α (visits), β (interactions), γ (recency), μ (seconds)."""

    alpha: float = 1.0
    beta: float = 1.0
    gamma: float = 1.0
    mu: float = 1e7


def jaccard(a: Iterable[str], b: Iterable[str]) -> float:
    """``|a ∩ b| / |a ∪ b|``; 0 when both are empty."""
    left, right = set(a), set(b)
    union = left | right
    return len(left & right) / len(union) if union else 0.0


def cosine(a: Vector, b: Vector) -> float:
    """Cosine similarity of two vectors; 0 when either is zero."""
    norms = float(np.linalg.norm(a) * np.linalg.norm(b))
    return float(np.dot(a, b)) / norms if norms > 0 else 0.0


def fscore(e_s: Vector, e_p: Vector, k_s: Iterable[str], k_p: Iterable[str]) -> float:
    """MemoryOS's segment–page score: ``cos(e_s, e_p) + Jaccard(K_s, K_p)`` (0..2)."""
    return cosine(e_s, e_p) + jaccard(k_s, k_p)


def heat(
    visits: int, interactions: int, last_access: float, now: float, weights: HeatWeights
) -> float:
    """``α·visits + β·interactions + γ·exp(−(now − last_access)/μ)``."""
    recency = math.exp(-max(0.0, now - last_access) / weights.mu)
    return weights.alpha * visits + weights.beta * interactions + weights.gamma * recency


@dataclass(slots=True)
class Segment:
    """A live (not archived) segment: its record, page ids in order and running statistics."""

    record: Memory
    page_ids: list[str]
    keywords: set[str]
    vector_sum: Vector
    visits: int = 0
    interactions: int = 0
    last_access: float = 0.0
    page_texts: list[str] = field(default_factory=list)
    summarized: int = 0
    promoted: int = 0  # pages already queued for LPM (in memory: a reload checks them again)

    @property
    def id(self) -> str:
        return self.record.id

    @property
    def stale(self) -> bool:
        """Whether the record's summary text predates the last pages added."""
        return self.summarized != len(self.page_ids)

    @property
    def embedding(self) -> Vector:
        """``e_s``: the normalised mean of the pages' embeddings."""
        norm = float(np.linalg.norm(self.vector_sum))
        return self.vector_sum / norm if norm > 0 else self.vector_sum

    def heat(self, now: float, weights: HeatWeights) -> float:
        """This segment's heat at ``now``."""
        return heat(self.visits, self.interactions, self.last_access, now, weights)

    def add_page(self, page_id: str, vector: Vector, keywords: Iterable[str], text: str) -> None:
        """Put a page in the segment (in memory; the caller writes the records)."""
        self.page_ids.append(page_id)
        self.vector_sum = self.vector_sum + vector
        self.keywords.update(keywords)
        self.interactions += 1
        self.page_texts.append(text)

    def meta(self, now: float, weights: HeatWeights) -> dict[str, Any]:
        """The segment record's ``meta`` for the current statistics."""
        return {
            **self.record.meta,
            "segment": True,
            STATE_KEY: SegmentState().to_meta(),
            "keywords": sorted(self.keywords),
            "visits": self.visits,
            "interactions": self.interactions,
            "last_access": self.last_access,
            "heat": round(self.heat(now, weights), 6),
            "summary_pages": self.summarized,
        }

    @classmethod
    def from_record(
        cls, record: Memory, vectors: Sequence[Vector], texts: Sequence[str], dimension: int
    ) -> Segment:
        """A segment rebuilt from its record and its pages' vectors and texts.

        A record without ``summary_pages`` was summarised eagerly, so it covers all its pages.
        Visits and last access are the larger of the logged ``meta`` and the access counters.
        """
        meta = record.meta
        total = np.sum(vectors, axis=0) if vectors else np.zeros(dimension, dtype=np.float32)
        return cls(
            record=record,
            page_ids=record.link_ids(),
            keywords={str(word) for word in meta.get("keywords") or ()},
            vector_sum=np.asarray(total, dtype=np.float32),
            visits=max(int(meta.get("visits", 0)), record.access_count),
            interactions=int(meta.get("interactions", 0)),
            last_access=max(
                float(meta.get("last_access", record.created_at)), record.last_access or 0.0
            ),
            page_texts=list(texts),
            summarized=int(meta.get("summary_pages", len(record.links))),
        )


def coldest(segments: Iterable[Segment], now: float, weights: HeatWeights) -> Segment | None:
    """The segment to evict: lowest heat, the oldest access breaking ties."""
    return min(segments, key=lambda s: (s.heat(now, weights), s.last_access, s.id), default=None)


def best_segment(
    segments: Sequence[Segment], vector: Vector, keywords: Iterable[str]
) -> tuple[Segment | None, float]:
    """The segment with the highest Fscore against a page (or query), and that score."""
    chosen: Segment | None = None
    best = -math.inf
    wanted = set(keywords)
    for segment in segments:
        score = fscore(segment.embedding, vector, segment.keywords, wanted)
        if score > best:
            chosen, best = segment, score
    return chosen, (best if chosen is not None else 0.0)
