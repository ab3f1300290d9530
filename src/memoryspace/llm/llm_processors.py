"""``LLMProcessors``: the memory text tasks done by a model, falling back to the offline ones.

Each task is one chat call with a pydantic schema; facts for many turns go in one call
(``batch_size`` turns), so adding turns costs a fraction of a call each. When a call fails for any
reason (unreachable, timed out, unauthorised, invalid output), the warning is logged, the fallback
processor answers instead and the fallback is counted: error text never becomes memory content.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import Literal, TypeVar

from pydantic import BaseModel, Field

from memoryspace.errors import InvalidInput, MemorySpaceError
from memoryspace.llm.base import LLM, Message
from memoryspace.llm.offline import OfflineProcessors, continuity_score
from memoryspace.llm.processors import (
    DEFAULT_SUBJECT,
    Fact,
    FactKind,
    Persona,
    PersonaItem,
    Processors,
)

log = logging.getLogger("memoryspace.llm")
T = TypeVar("T")
R = TypeVar("R", bound=BaseModel)
KindName = Literal["preference", "attribute", "plan", "relation", "event"]

_SYSTEM = (
    "You turn conversation text into structured memory for a personal assistant. Be literal: "
    "use only what the text states, never guess. Reply with JSON only."
)
_FACT_RULES = (
    "Extract facts the speaker states about themselves: preferences (likes, dislikes, "
    "favourites), attributes (job, home, age, diet, traits, health), plans, relations (named "
    "people and pets) and events (things that happened). Use the speaker's name as subject for "
    "first-person statements; relation is a short verb phrase; object is a short noun phrase; "
    "evidence quotes the sentence. Questions, hypotheticals and small talk give no facts."
)


class _Keywords(BaseModel):
    keywords: list[str]


class _Summary(BaseModel):
    summary: str


class _Continuity(BaseModel):
    score: float = Field(ge=0.0, le=1.0, description="1 = same topic and thread, 0 = new topic")


class _Fact(BaseModel):
    subject: str
    relation: str
    object: str
    kind: KindName
    evidence: str = ""


class _Facts(BaseModel):
    facts: list[_Fact]


class _TurnFacts(BaseModel):
    index: int
    facts: list[_Fact]


class _BatchFacts(BaseModel):
    turns: list[_TurnFacts]


class _PersonaEntry(BaseModel):
    relation: str
    object: str
    kind: KindName
    count: int = Field(default=1, ge=1)


class _Persona(BaseModel):
    entries: list[_PersonaEntry]
    traits: list[str] = []
    topics: list[str] = []


class _Importance(BaseModel):
    importance: float = Field(ge=0.0, le=1.0)


class LLMProcessors:
    """``Processors`` answered by ``llm``; ``fallback`` (offline by default) when it fails.

    ``fallbacks`` counts, per task, the calls the fallback answered. ``max_chars`` bounds the text
    sent in one call (longer input is cut, never split into extra calls).

    Raises:
        InvalidInput: ``batch_size`` or ``max_chars`` < 1 (at construction).
    """

    def __init__(
        self,
        llm: LLM,
        fallback: Processors | None = None,
        *,
        batch_size: int = 8,
        max_chars: int = 12_000,
        gap_scale: float = 1800.0,
    ) -> None:
        if batch_size < 1 or max_chars < 1:
            raise InvalidInput("batch_size and max_chars must be >= 1")
        self._llm = llm
        self._fallback: Processors = fallback if fallback is not None else OfflineProcessors()
        self._batch_size = batch_size
        self._max_chars = max_chars
        self._gap_scale = gap_scale
        self._fallbacks: dict[str, int] = {}
        self._lock = threading.Lock()

    @property
    def llm(self) -> LLM:
        """The model asked first."""
        return self._llm

    @property
    def fallbacks(self) -> dict[str, int]:
        """How many times each task fell back to the offline processor."""
        with self._lock:
            return dict(self._fallbacks)

    def keywords(self, text: str, k: int = 8) -> list[str]:
        """Up to ``k`` keywords, lower-cased and de-duplicated."""

        def convert(reply: _Keywords) -> list[str]:
            cleaned = list(dict.fromkeys(w.strip().lower() for w in reply.keywords if w.strip()))
            return cleaned[:k]

        prompt = f"List at most {k} keywords or key phrases of this text, best first.\n\n"
        return self._ask(
            "keywords",
            prompt + self._cut(text),
            _Keywords,
            convert,
            lambda: self._fallback.keywords(text, k),
        )

    def summarize(self, texts: Sequence[str], max_sentences: int = 3) -> str:
        """A summary of ``texts`` in at most ``max_sentences`` sentences."""

        def convert(reply: _Summary) -> str:
            if not reply.summary.strip():
                raise ValueError("empty summary")
            return reply.summary.strip()

        body = self._cut("\n".join(texts))
        prompt = f"Summarise in at most {max_sentences} sentences, keeping names and facts.\n\n"
        return self._ask(
            "summarize",
            prompt + body,
            _Summary,
            convert,
            lambda: self._fallback.summarize(texts, max_sentences),
        )

    def continuity(
        self, prev_text: str, prev_time: float | None, text: str, time: float | None
    ) -> float:
        """The model's topical-continuity score, decayed by the time gap as offline."""
        prompt = (
            "Does the second message continue the same conversation thread and topic as the "
            "first? Score 0..1.\n\nFirst: "
            + self._cut(prev_text)
            + "\n\nSecond: "
            + self._cut(text)
        )
        return self._ask(
            "continuity",
            prompt,
            _Continuity,
            lambda reply: continuity_score(reply.score, prev_time, time, self._gap_scale),
            lambda: self._fallback.continuity(prev_text, prev_time, text, time),
        )

    def extract_facts(self, text: str, speaker: str | None = None) -> list[Fact]:
        """Facts ``speaker`` states in ``text``."""
        subject = speaker or DEFAULT_SUBJECT
        prompt = f"{_FACT_RULES}\n\nSpeaker: {subject}\nText: {self._cut(text)}"
        return self._ask(
            "extract_facts",
            prompt,
            _Facts,
            lambda reply: _facts(reply.facts, text),
            lambda: self._fallback.extract_facts(text, speaker),
        )

    def extract_facts_many(self, items: Sequence[tuple[str, str | None]]) -> list[list[Fact]]:
        """Facts for each ``(text, speaker)``, ``batch_size`` turns per call."""
        out: list[list[Fact]] = []
        for start in range(0, len(items), self._batch_size):
            out.extend(self._facts_batch(list(items[start : start + self._batch_size])))
        return out

    def persona(self, texts: Sequence[str], speaker: str | None = None) -> Persona:
        """The speaker's profile from ``texts`` in one call."""
        subject = speaker or DEFAULT_SUBJECT
        prompt = (
            f"Build the profile of {subject} from these messages by {subject}: entries are "
            "preferences, attributes, plans, relations and events with how many messages state "
            "each; traits are personality or lifestyle adjectives; topics recur.\n\n"
            + self._cut("\n".join(f"- {text}" for text in texts))
        )
        return self._ask(
            "persona",
            prompt,
            _Persona,
            lambda reply: _persona(subject, reply),
            lambda: self._fallback.persona(texts, speaker),
        )

    def importance(self, text: str) -> float:
        """How worth remembering ``text`` is, 0..1, in the model's judgement."""
        prompt = (
            "Rate 0..1 how important this message is to remember about the speaker long-term "
            "(small talk ~0.1, lasting personal facts and plans ~0.8).\n\n" + self._cut(text)
        )
        return self._ask(
            "importance",
            prompt,
            _Importance,
            lambda reply: round(reply.importance, 4),
            lambda: self._fallback.importance(text),
        )

    def _facts_batch(self, batch: list[tuple[str, str | None]]) -> list[list[Fact]]:
        lines = [
            f"[{index}] {speaker or DEFAULT_SUBJECT}: {text}"
            for index, (text, speaker) in enumerate(batch)
        ]
        prompt = (
            f"{_FACT_RULES}\n\nFor each numbered turn, give its index and its facts (an empty "
            "list when it states none).\n\n" + self._cut("\n".join(lines))
        )

        def convert(reply: _BatchFacts) -> list[list[Fact]]:
            found: list[list[Fact]] = [[] for _ in batch]
            for turn in reply.turns:
                if 0 <= turn.index < len(batch):
                    found[turn.index].extend(_facts(turn.facts, batch[turn.index][0]))
            return found

        return self._ask(
            "extract_facts_many",
            prompt,
            _BatchFacts,
            convert,
            lambda: self._fallback.extract_facts_many(batch),
        )

    def _ask(
        self,
        task: str,
        prompt: str,
        schema: type[R],
        convert: Callable[[R], T],
        fallback: Callable[[], T],
    ) -> T:
        """``convert`` of the model's validated reply, or ``fallback()`` if anything fails."""
        messages: list[Message] = [
            {"role": "system", "content": _SYSTEM},
            {"role": "user", "content": prompt},
        ]
        try:
            parsed = self._llm.complete(messages, schema=schema).parsed
            if not isinstance(parsed, schema):
                raise ValueError(f"the LLM returned {type(parsed).__name__}, not {schema.__name__}")
            result = convert(parsed)
        except (MemorySpaceError, ValueError) as exc:
            log.warning(
                "LLM %s failed (%s: %s); using the offline processor",
                task,
                type(exc).__name__,
                exc,
            )
            with self._lock:
                self._fallbacks[task] = self._fallbacks.get(task, 0) + 1
            return fallback()
        return result

    def _cut(self, text: str) -> str:
        return text if len(text) <= self._max_chars else text[: self._max_chars]


def _facts(found: Sequence[_Fact], text: str) -> list[Fact]:
    """Facts from the model's reply with empty parts dropped; ``text`` is the quoted evidence
    when it really occurs in the input, else the input itself."""
    out: list[Fact] = []
    for item in found:
        parts = [item.subject.strip(), item.relation.strip(), item.object.strip()]
        if not all(parts):
            continue
        evidence = item.evidence.strip()
        source = evidence if evidence and evidence.lower() in text.lower() else text
        fact = Fact(parts[0], parts[1], parts[2], FactKind(item.kind), source)
        if fact not in out:
            out.append(fact)
    return out


def _persona(subject: str, reply: _Persona) -> Persona:
    counts: dict[tuple[str, str, str], int] = {}
    shown: dict[tuple[str, str, str], tuple[str, str]] = {}
    for entry in reply.entries:
        relation, obj = entry.relation.strip(), entry.object.strip()
        if not relation or not obj:
            continue
        key = (entry.kind, relation.casefold(), obj.casefold())
        counts[key] = counts.get(key, 0) + entry.count
        shown.setdefault(key, (relation, obj))
    order = {key: position for position, key in enumerate(counts)}
    ranked = sorted(counts, key=lambda key: (-counts[key], order[key]))

    def items(kind: FactKind) -> tuple[PersonaItem, ...]:
        return tuple(PersonaItem(*shown[k], kind, counts[k]) for k in ranked if k[0] == kind)

    traits = list(dict.fromkeys(t.strip().lower() for t in reply.traits if t.strip()))
    topics = list(dict.fromkeys(t.strip().lower() for t in reply.topics if t.strip()))
    return Persona(
        subject=subject,
        preferences=items(FactKind.PREFERENCE),
        attributes=items(FactKind.ATTRIBUTE),
        relations=items(FactKind.RELATION),
        plans=items(FactKind.PLAN),
        events=items(FactKind.EVENT),
        traits=tuple((trait, 1) for trait in traits),
        topics=tuple((topic, 1) for topic in topics),
    )
