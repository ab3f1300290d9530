"""The ``ReadingPolicy`` protocol: what to keep after each chunk.

A policy sees the memory so far, the current chunk, the question (or ``None``) and the memory
budget in tokens, and answers the sentences the memory should hold next, best first. The reader
packs them into a ``ContextWindow`` of the budget, so a policy may propose more than fits: the
tail is dropped. ``OfflinePolicy`` and ``LLMPolicy`` are the two implementations.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from memoryspace.reader.stream import Chunk, Sentence


@dataclass(frozen=True, slots=True)
class Decision:
    """A policy's answer for one chunk: the sentences to keep (best first), and how it got
    there: ``fallback`` when an LLM policy gave the chunk to the offline policy, ``repairs``
    (replies the model was asked to correct) and ``trimmed`` (sentences of a reply cut to fit)."""

    keep: tuple[Sentence, ...]
    fallback: bool = False
    repairs: int = 0
    trimmed: int = 0


@runtime_checkable
class ReadingPolicy(Protocol):
    """Overwrites the memory after each chunk."""

    @property
    def name(self) -> str: ...

    def overwrite(
        self,
        memory: Sequence[Sentence],
        chunk: Chunk,
        question: str | None,
        budget: int,
    ) -> Decision: ...
