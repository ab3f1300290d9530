"""``Reading``: what a read left in memory, where each part came from, and what each chunk cost."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class KeptSentence:
    """One sentence of the final memory: read from chunk ``chunk`` at character ``offset`` of
    the input, or written by a model after that chunk (``offset`` is ``None``)."""

    text: str
    chunk: int
    offset: int | None
    tokens: int

    @property
    def generated(self) -> bool:
        """Written by a model rather than copied from the input."""
        return self.offset is None


@dataclass(frozen=True, slots=True)
class ChunkStats:
    """Counters of one chunk: its place in the input, the tokens it brought, what the memory
    kept of it and dropped, and how long the overwrite took.

    ``kept`` counts the chunk's sentences now in memory (and, for a model, sentences it wrote);
    ``dropped`` the chunk's sentences left out plus the memory's sentences evicted;
    ``policy`` is the policy that decided (``"offline"`` when an LLM policy fell back).
    """

    index: int
    offset: int
    chars: int
    sentences: int
    tokens_in: int
    kept: int
    dropped: int
    evicted: int
    memory_tokens: int
    seconds: float
    policy: str
    fallback: bool = False
    repairs: int = 0
    trimmed: int = 0


@dataclass(frozen=True, slots=True)
class Reading:
    """The result of ``read``: the final ``memory`` text (its sentences in the order the
    memory's ``ContextWindow`` lays them out), each kept sentence with its provenance, the
    counters of every chunk, and the ids of the records ``store=True`` wrote."""

    question: str | None
    memory: str
    kept: tuple[KeptSentence, ...]
    chunks: tuple[ChunkStats, ...]
    policy: str
    chunk_tokens: int
    memory_tokens: int
    tokens_read: int
    chars_read: int
    seconds: float
    records: tuple[str, ...] = field(default=())

    @property
    def memory_tokens_used(self) -> int:
        """Tokens of the kept sentences plus one per line break."""
        return sum(s.tokens + 1 for s in self.kept) - (1 if self.kept else 0)

    def totals(self) -> dict[str, Any]:
        """Sums over the chunks: the counters a profiler or ``stats()`` reports."""
        return {
            "chunks": len(self.chunks),
            "tokens_read": self.tokens_read,
            "chars_read": self.chars_read,
            "sentences_read": sum(c.sentences for c in self.chunks),
            "dropped": sum(c.dropped for c in self.chunks),
            "evicted": sum(c.evicted for c in self.chunks),
            "kept": len(self.kept),
            "memory_tokens": self.memory_tokens_used,
            "fallbacks": sum(c.fallback for c in self.chunks),
            "repairs": sum(c.repairs for c in self.chunks),
            "trimmed": sum(c.trimmed for c in self.chunks),
            "seconds": self.seconds,
            "ms_per_1k_tokens": 1000 * self.seconds / self.tokens_read * 1000
            if self.tokens_read
            else 0.0,
        }

    def to_dict(self, *, chunks: bool = True) -> dict[str, Any]:
        """A JSON-ready dict; ``chunks=False`` leaves out the per-chunk counters."""
        out: dict[str, Any] = {
            "question": self.question,
            "memory": self.memory,
            "policy": self.policy,
            "chunk_tokens": self.chunk_tokens,
            "memory_tokens": self.memory_tokens,
            "totals": self.totals(),
            "kept": [{**asdict(s), "generated": s.generated} for s in self.kept],
            "records": list(self.records),
        }
        if chunks:
            out["chunks"] = [asdict(c) for c in self.chunks]
        return out
