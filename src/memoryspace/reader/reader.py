"""``read``: stream an input of any length through a fixed-size memory that a policy overwrites
after each chunk (MemAgent's workflow, arXiv 2507.02259).

The memory is a ``ContextWindow`` of ``memory_tokens`` (plus one for the line break after the last
sentence): each chunk, the policy proposes the sentences to keep, best first, and the window admits
them while they fit, leaving sentences that stay kept in their slots, so the memory's text
changes as little as possible from one chunk to the next (the prefix an LLM server caches). Only
one chunk and the memory are held at a time, so time grows linearly with the input and memory use
does not grow at all.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

from memoryspace import validate
from memoryspace.context.tokenizer import default_token_counter
from memoryspace.context.window import ContextWindow
from memoryspace.embed.base import Embedder
from memoryspace.errors import InvalidInput
from memoryspace.llm.base import LLM
from memoryspace.models import Kind, Memory
from memoryspace.reader.offline import OfflinePolicy
from memoryspace.reader.policy import ReadingPolicy
from memoryspace.reader.reading import ChunkStats, KeptSentence, Reading
from memoryspace.reader.stream import Progress, Sentence, chunks, stream_sentences
from memoryspace.tokens import TokenCounter

MAX_SENTENCE_TOKENS = 256
MIN_TOKENS = 16


def read(
    source: object,
    question: str | None = None,
    *,
    chunk_tokens: int = 2048,
    memory_tokens: int = 1024,
    policy: ReadingPolicy | str | None = None,
    embedder: Embedder | None = None,
    llm: LLM | None = None,
    count_tokens: TokenCounter | None = None,
    max_tokens: int | None = None,
    progress: Progress | None = None,
    on_chunk: Callable[[ChunkStats], None] | None = None,
    clock: Callable[[], float] = time.perf_counter,
) -> Reading:
    """Read ``source`` (a string, a path, or any iterable of strings) chunk by chunk, keeping
    what matters for ``question`` (or, without one, the most salient, least redundant
    sentences) in a memory of ``memory_tokens``.

    ``policy`` is ``"offline"`` (the default: ``OfflinePolicy`` with ``embedder``), ``"llm"``
    (``LLMPolicy`` over ``llm``, else the model ``MEMORYSPACE_LLM_URL`` names) or a
    ``ReadingPolicy``. ``max_tokens`` stops after about that many tokens; ``progress`` is called
    with (bytes or characters read, total or ``None``); ``on_chunk`` with each chunk's counters.

    Raises:
        InvalidInput: a bad source, question, budget or policy; a path that cannot be read.
    """
    if question is not None and (not isinstance(question, str) or not question.strip()):
        raise InvalidInput("question must be a non-empty string, or None to keep what is salient")
    chunk_tokens = _budget("chunk_tokens", chunk_tokens)
    memory_tokens = _budget("memory_tokens", memory_tokens)
    if max_tokens is not None:
        max_tokens = validate.positive_int("max_tokens", max_tokens)
    counter = count_tokens or default_token_counter()
    chosen = resolve_policy(policy, embedder=embedder, llm=llm, count_tokens=counter)
    if isinstance(source, os.PathLike) and not isinstance(source, Path):
        source = Path(os.fspath(source))
    limit = max(1, min(MAX_SENTENCE_TOKENS, chunk_tokens, memory_tokens // 2))
    sentences = stream_sentences(source, counter, limit, progress)
    budget = memory_tokens + 1  # every sentence takes one more token: the line break after it
    window = ContextWindow(budget)
    memory: list[Sentence] = []
    stats: list[ChunkStats] = []
    started = clock()
    tokens_read = chars_read = 0
    for chunk in chunks(sentences, chunk_tokens, max_tokens=max_tokens):
        began = clock()
        decision = chosen.overwrite(memory, chunk, question, budget)
        by_key = {s.key: s for s in (*memory, *decision.keep)}
        window.update([_record(s) for s in decision.keep])
        kept_now = [by_key[record.id] for record in window.records()]
        before, after = {s.key for s in memory}, {s.key for s in kept_now}
        from_chunk = {s.key for s in chunk.sentences}
        memory = kept_now
        tokens_read += chunk.tokens
        chars_read = max(chars_read, chunk.end)
        row = ChunkStats(
            index=chunk.index,
            offset=chunk.offset,
            chars=chunk.end - chunk.offset,
            sentences=len(chunk.sentences),
            tokens_in=chunk.tokens,
            kept=sum(1 for s in kept_now if s.chunk == chunk.index and s.key not in before),
            dropped=len(from_chunk - after) + len(before - after),
            evicted=len(before - after),
            memory_tokens=sum(s.tokens + 1 for s in kept_now) - (1 if kept_now else 0),
            seconds=clock() - began,
            policy=chosen.name if not decision.fallback else "offline",
            fallback=decision.fallback,
            repairs=decision.repairs,
            trimmed=decision.trimmed,
        )
        stats.append(row)
        if on_chunk is not None:
            on_chunk(row)
    kept = tuple(KeptSentence(s.text, s.chunk, s.offset, s.tokens) for s in memory)
    return Reading(
        question=question,
        memory="\n".join(s.text for s in kept),
        kept=kept,
        chunks=tuple(stats),
        policy=chosen.name,
        chunk_tokens=chunk_tokens,
        memory_tokens=memory_tokens,
        tokens_read=tokens_read,
        chars_read=chars_read,
        seconds=clock() - started,
    )


def resolve_policy(
    policy: ReadingPolicy | str | None,
    *,
    embedder: Embedder | None = None,
    llm: LLM | None = None,
    count_tokens: TokenCounter | None = None,
) -> ReadingPolicy:
    """The policy ``policy`` names (see ``read``).

    Raises:
        InvalidInput: an unknown name, another type, or ``"llm"`` with no model configured.
    """
    if policy is None or policy == "offline":
        return OfflinePolicy(embedder)
    if policy == "llm":
        from memoryspace.llm.openai import llm_from_env
        from memoryspace.reader.llm_policy import LLMPolicy

        model = llm if llm is not None else llm_from_env()
        if model is None:
            raise InvalidInput(
                "policy 'llm' needs a model: set MEMORYSPACE_LLM_URL and MEMORYSPACE_LLM_MODEL "
                "(any OpenAI-compatible server), or pass llm="
            )
        counter = count_tokens or default_token_counter()
        return LLMPolicy(model, counter, fallback=OfflinePolicy(embedder))
    if isinstance(policy, str) or not isinstance(policy, ReadingPolicy):
        raise InvalidInput(f"policy must be 'offline', 'llm' or a ReadingPolicy, not {policy!r}")
    return policy


def _budget(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < MIN_TOKENS:
        raise InvalidInput(f"{name} must be an int of at least {MIN_TOKENS} tokens, got {value!r}")
    return value


def _record(sentence: Sentence) -> Memory:
    """A sentence as a record of the memory's ``ContextWindow`` (one token for its line break)."""
    return Memory(
        id=sentence.key, content=sentence.text, kind=Kind.WORKING, tokens=sentence.tokens + 1
    )
