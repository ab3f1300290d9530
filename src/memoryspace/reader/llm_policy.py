"""``LLMPolicy``: MemAgent's overwrite step asked of a chat model, with the offline policy as
its safety net.

Each chunk is one ``complete`` call whose prompt is MemAgent's memory-update template (problem,
previous memory, section; arXiv 2507.02259), asking for the updated memory as JSON
``{"memory": "..."}``. The LLM layer repairs replies that are not that JSON by quoting the
problem back to the model; the budget is then enforced here with the token counter: a memory
over ``budget`` tokens keeps its leading sentences that fit (``trimmed`` counts the rest). When
the call still fails (unreachable, invalid after repairs, empty memory), the chunk is decided by
the offline policy instead and ``Decision.fallback`` says so.

Sentences the model copied from the memory or the chunk keep their provenance; sentences it
wrote itself are kept with ``offset=None`` and the chunk they were written after.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from pydantic import BaseModel

from memoryspace.errors import MemorySpaceError
from memoryspace.llm.base import LLM
from memoryspace.reader.offline import OfflinePolicy
from memoryspace.reader.policy import Decision, ReadingPolicy
from memoryspace.reader.stream import Chunk, Sentence, SentenceStream
from memoryspace.tokens import TokenCounter

log = logging.getLogger("memoryspace.reader")

MEMAGENT_TEMPLATE = """You are presented with a problem, a section of an article that may \
contain the answer to the problem, and a previous memory. Please read the provided section \
carefully and update the memory with the new information that helps to answer the problem. \
Be sure to retain all relevant details from the previous memory while adding any new, useful \
information.

<problem>
{problem}
</problem>

<memory>
{memory}
</memory>

<section>
{section}
</section>

Updated memory (at most {budget} tokens), as JSON {{"memory": "..."}}:"""

NO_QUESTION = (
    "No question is given yet: keep the most important, least redundant facts of the text "
    "(names, numbers, events, definitions) so that later questions about it can be answered."
)


class _Memory(BaseModel):
    memory: str


class LLMPolicy:
    """Overwrites the memory with ``llm`` (see the module docstring).

    ``count_tokens`` enforces the budget; ``fallback`` (an ``OfflinePolicy`` by default)
    decides the chunks the model could not.
    """

    name = "llm"

    def __init__(
        self,
        llm: LLM,
        count_tokens: TokenCounter,
        *,
        fallback: ReadingPolicy | None = None,
        max_completion_tokens: int | None = None,
    ) -> None:
        self.llm = llm
        self.count_tokens = count_tokens
        self.fallback = fallback if fallback is not None else OfflinePolicy()
        self.max_completion_tokens = max_completion_tokens

    def overwrite(
        self, memory: Sequence[Sentence], chunk: Chunk, question: str | None, budget: int
    ) -> Decision:
        """The model's updated memory as sentences, trimmed to ``budget``; the fallback's
        decision (marked) when the call fails."""
        prompt = MEMAGENT_TEMPLATE.format(
            problem=question or NO_QUESTION,
            memory="\n".join(s.text for s in memory) or "No previous memory",
            section="\n".join(s.text for s in chunk.sentences),
            budget=budget,
        )
        repairs_before = self.llm.stats().repairs
        try:
            reply = self.llm.complete(
                prompt,
                schema=_Memory,
                max_tokens=self.max_completion_tokens or 2 * budget + 64,
            )
            text = reply.parsed.memory.strip() if isinstance(reply.parsed, _Memory) else ""
            if not text:
                raise ValueError("the model returned an empty memory")
        except (MemorySpaceError, ValueError) as exc:
            log.warning("chunk %d: LLM overwrite failed, offline policy used: %s", chunk.index, exc)
            decided = self.fallback.overwrite(memory, chunk, question, budget)
            repairs = self.llm.stats().repairs - repairs_before
            return Decision(decided.keep, fallback=True, repairs=repairs)
        keep, trimmed = self._sentences(text, memory, chunk, budget)
        repairs = self.llm.stats().repairs - repairs_before
        return Decision(tuple(keep), repairs=repairs, trimmed=trimmed)

    def _sentences(
        self, text: str, memory: Sequence[Sentence], chunk: Chunk, budget: int
    ) -> tuple[list[Sentence], int]:
        """The reply's sentences in order while they fit ``budget`` (one token each for the line
        break), with the provenance of those copied from what the model was shown."""
        known = {_normal(s.text): s for s in (*memory, *chunk.sentences)}
        splitter = SentenceStream(self.count_tokens, max_tokens=budget)
        written = [*splitter.feed(text), *splitter.finish()]
        keep: list[Sentence] = []
        used = 0
        for number, sentence in enumerate(written):
            source = known.get(_normal(sentence.text))
            if source is None:
                source = Sentence(
                    sentence.text, None, -1, -1 - number, sentence.tokens, chunk.index
                )
            if used + source.tokens + 1 > budget:
                return keep, len(written) - number
            if source.key not in {s.key for s in keep}:
                keep.append(source)
                used += source.tokens + 1
        return keep, 0


def _normal(text: str) -> str:
    return " ".join(text.split()).lower()
