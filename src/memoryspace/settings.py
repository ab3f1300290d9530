"""Settings of a ``MemorySpace``: one typed, frozen object with defaults."""

from __future__ import annotations

from dataclasses import dataclass, field

from memoryspace.tokens import TokenCounter, estimate_tokens


@dataclass(frozen=True, slots=True)
class Settings:
    """How a space stores and retrieves.

    ``max_content_chars`` bounds one memory's content. ``ann_threshold`` is the collection size
    above which vector search switches from exact to HNSW. Retrieval fuses the dense and sparse
    rankings of ``candidates`` hits each by reciprocal rank fusion with ``rrf_k`` and the weights.
    """

    max_content_chars: int = 100_000
    ann_threshold: int = 20_000
    candidates: int = 100
    rrf_k: float = 60.0
    dense_weight: float = 1.0
    sparse_weight: float = 1.0
    default_importance: float = 0.5
    access_flush_every: int = 1024
    index_save_every: int = 10_000
    token_counter: TokenCounter = field(default=estimate_tokens, compare=False)
