"""Reading inputs of any length with a fixed-size overwrite memory (MemAgent).

``read(source, question)`` streams a string, a file or any iterable of text in chunks of
``chunk_tokens``; after each chunk a ``ReadingPolicy`` overwrites a memory of ``memory_tokens``
(a ``ContextWindow``) with what matters, so cost grows linearly with the input and memory use
stays flat. ``OfflinePolicy`` (the default) is extractive and deterministic; ``LLMPolicy`` asks
a chat model with MemAgent's prompt and falls back to the offline policy chunk by chunk. The
result is a ``Reading``: the final memory, each kept sentence's provenance, per-chunk counters.

The reader depends on the context heap, the embedders and the LLM layer only, never on a store:
``MemorySpace.read`` adds storing and counting on top.
"""

from memoryspace.reader.llm_policy import MEMAGENT_TEMPLATE, LLMPolicy
from memoryspace.reader.offline import OfflinePolicy
from memoryspace.reader.policy import Decision, ReadingPolicy
from memoryspace.reader.reader import read, resolve_policy
from memoryspace.reader.reading import ChunkStats, KeptSentence, Reading
from memoryspace.reader.stream import Chunk, Sentence, stream_sentences

__all__ = [
    "MEMAGENT_TEMPLATE",
    "Chunk",
    "ChunkStats",
    "Decision",
    "KeptSentence",
    "LLMPolicy",
    "OfflinePolicy",
    "Reading",
    "ReadingPolicy",
    "Sentence",
    "read",
    "resolve_policy",
    "stream_sentences",
]
