"""What a note is about: keywords, tags and a one-sentence context (A-MEM's note attributes).

``OfflineEnricher`` (the default) derives them by deterministic rules: keywords are the text's
RAKE-style key phrases; tags are its named entities (capitalised words not at the start of a
sentence) and the head words of its best key phrases; the context is one sentence naming what
the note is about. ``LLMEnricher`` asks a chat model for the three in one structured call and
falls back to the offline rules (counting the fallback) when the call fails.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from pydantic import BaseModel

from memoryspace.errors import MemorySpaceError
from memoryspace.llm.base import LLM, Message
from memoryspace.llm.text import is_content_word, keyword_phrases, split_sentences, words

log = logging.getLogger("memoryspace.notes")

MAX_KEYWORDS = 6
MAX_TAGS = 5


@dataclass(frozen=True, slots=True)
class NoteFacets:
    """A note's keywords, tags and one-sentence context."""

    keywords: tuple[str, ...]
    tags: tuple[str, ...]
    context: str


@runtime_checkable
class Enricher(Protocol):
    """Describes a note's content; ``describe`` never fails on ordinary text."""

    def describe(self, content: str) -> NoteFacets: ...

    def context(self, content: str, keywords: Sequence[str], tags: Sequence[str]) -> str: ...


def named_entities(text: str) -> list[str]:
    """Capitalised words that do not start a sentence ("Japan", "Kyoto"), lower-cased, in order
    of first appearance."""
    found: list[str] = []
    for sentence in split_sentences(text):
        for position, word in enumerate(words(sentence)):
            if position and word[:1].isupper() and word.lower() != "i" and len(word) > 1:
                lowered = word.lower()
                if lowered not in found:
                    found.append(lowered)
    return found


def tag_of(phrase: str) -> str:
    """A tag from a phrase: lower case, words joined by hyphens."""
    return "-".join(re.findall(r"[\w']+", phrase.lower()))


class OfflineEnricher:
    """Keywords, tags and context by deterministic rules (no model, no network)."""

    def describe(self, content: str) -> NoteFacets:
        keywords = tuple(keyword_phrases(content, MAX_KEYWORDS))
        tags: list[str] = []
        heads = [phrase.split()[-1] for phrase in keywords]
        for candidate in [*named_entities(content), *heads]:
            tag = tag_of(candidate)
            if tag and is_content_word(tag) and tag not in tags:
                tags.append(tag)
        tags = tags[:MAX_TAGS]
        return NoteFacets(keywords, tuple(tags), self.context(content, keywords, tags))

    def context(self, content: str, keywords: Sequence[str], tags: Sequence[str]) -> str:
        """One sentence naming the note's topics (its best keywords) and tags."""
        topics = list(keywords[:3]) or [content.strip().split("\n")[0][:60]]
        about = topics[0] if len(topics) == 1 else ", ".join(topics[:-1]) + " and " + topics[-1]
        extra = [t for t in tags if all(t not in tag_of(k) for k in topics)]
        suffix = f" (tags: {', '.join(extra)})" if extra else ""
        return f"A note about {about}{suffix}."


class _Facets(BaseModel):
    keywords: list[str]
    tags: list[str]
    context: str


_SYSTEM = (
    "You describe notes for an agent's long-term memory. Be literal: use only what the note "
    "says. Reply with JSON only."
)


class LLMEnricher:
    """``NoteFacets`` from a chat model (one call per note); the offline rules when it fails.

    ``calls`` counts the model calls made, ``fallbacks`` those the offline rules answered.
    """

    def __init__(self, llm: LLM, fallback: Enricher | None = None) -> None:
        self._llm = llm
        self._fallback: Enricher = fallback if fallback is not None else OfflineEnricher()
        self._lock = threading.Lock()
        self.calls = 0
        self.fallbacks = 0

    def describe(self, content: str) -> NoteFacets:
        prompt = (
            f"Give at most {MAX_KEYWORDS} keywords (key phrases, best first), at most {MAX_TAGS} "
            "short tags (categories, lower case) and one sentence of context saying what this "
            'note is about. JSON: {"keywords": [...], "tags": [...], "context": "..."}\n\n'
            f"Note: {content[:8000]}"
        )
        messages: list[Message] = [
            {"role": "system", "content": _SYSTEM},
            {"role": "user", "content": prompt},
        ]
        with self._lock:
            self.calls += 1
        try:
            reply = self._llm.complete(messages, schema=_Facets).parsed
            if not isinstance(reply, _Facets) or not reply.context.strip():
                raise ValueError("the model gave no context sentence")
        except (MemorySpaceError, ValueError) as exc:
            log.warning("LLM note description failed (%s); using the offline rules", exc)
            with self._lock:
                self.fallbacks += 1
            return self._fallback.describe(content)
        keywords = _clean(reply.keywords, MAX_KEYWORDS)
        tags = tuple(t for t in (tag_of(tag) for tag in reply.tags) if t)[:MAX_TAGS]
        return NoteFacets(keywords, tuple(dict.fromkeys(tags)), reply.context.strip())

    def context(self, content: str, keywords: Sequence[str], tags: Sequence[str]) -> str:
        """Re-derived contexts (after an evolution) use the offline rule: no call per neighbour."""
        return self._fallback.context(content, keywords, tags)


def _clean(values: Sequence[str], limit: int) -> tuple[str, ...]:
    return tuple(dict.fromkeys(v.strip().lower() for v in values if v.strip()))[:limit]


def make_enricher(processors: object) -> Enricher:
    """The enricher matching a space's processors: a model's when they ask one, else offline."""
    from memoryspace.llm.llm_processors import LLMProcessors

    if isinstance(processors, LLMProcessors):
        return LLMEnricher(processors.llm)
    return OfflineEnricher()
