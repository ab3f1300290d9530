"""The tasks an LLM can do for memory, as one interface with an offline and an LLM implementation.

``Processors`` is what the agent structures call: keywords and summaries for pages and segments,
dialogue continuity for meta-chains, facts and a persona for long-term memory, importance for
ranking and forgetting. ``OfflineProcessors`` (deterministic, no network) is the default;
``LLMProcessors`` asks a model and falls back to the offline one when the model fails.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol, runtime_checkable

DEFAULT_SUBJECT = "user"
"""Who "I" is in a statement when no speaker is given."""


class FactKind(StrEnum):
    """What sort of statement a fact is; long-term memory keeps kinds in separate lists."""

    PREFERENCE = "preference"  # likes, dislikes, favourites
    ATTRIBUTE = "attribute"  # job, home, age, diet, traits, allergies
    PLAN = "plan"  # intentions and scheduled things
    RELATION = "relation"  # people and pets, by name
    EVENT = "event"  # things that happened, past habits


@dataclass(frozen=True, slots=True)
class Fact:
    """One fact stated in a text: ``subject relation object`` plus its kind and source sentence.

    ``text`` is the sentence the fact came from (never generated prose), so a stored fact can be
    traced back to what was said.
    """

    subject: str
    relation: str
    object: str
    kind: FactKind
    text: str

    @property
    def statement(self) -> str:
        """The fact as one short line, e.g. ``"Maren works as nurse"``."""
        return f"{self.subject} {self.relation} {self.object}"


@dataclass(frozen=True, slots=True)
class PersonaItem:
    """A fact about the persona's subject with how often it was stated."""

    relation: str
    object: str
    kind: FactKind
    count: int = 1


@dataclass(frozen=True, slots=True)
class Persona:
    """A profile aggregated over many texts: each list most-stated first.

    ``traits`` are personality and lifestyle adjectives ("vegetarian", "introverted"); ``topics``
    the keywords that recur across the texts.
    """

    subject: str
    preferences: tuple[PersonaItem, ...] = ()
    attributes: tuple[PersonaItem, ...] = ()
    relations: tuple[PersonaItem, ...] = ()
    plans: tuple[PersonaItem, ...] = ()
    events: tuple[PersonaItem, ...] = ()
    traits: tuple[tuple[str, int], ...] = ()
    topics: tuple[tuple[str, int], ...] = ()

    @classmethod
    def from_facts(
        cls,
        subject: str,
        facts: Iterable[Fact],
        *,
        traits: Iterable[str] = (),
        topics: Iterable[tuple[str, int]] = (),
    ) -> Persona:
        """Aggregate facts about ``subject`` (others are ignored), counting repeats case-blind."""
        counts: dict[tuple[FactKind, str, str], int] = {}
        shown: dict[tuple[FactKind, str, str], tuple[str, str]] = {}
        for fact in facts:
            if fact.subject.casefold() != subject.casefold():
                continue
            key = (fact.kind, fact.relation.casefold(), fact.object.casefold())
            counts[key] = counts.get(key, 0) + 1
            shown.setdefault(key, (fact.relation, fact.object))
        order = {key: position for position, key in enumerate(counts)}
        ranked = sorted(counts, key=lambda key: (-counts[key], order[key]))

        def items(kind: FactKind) -> tuple[PersonaItem, ...]:
            return tuple(
                PersonaItem(*shown[key], kind, counts[key]) for key in ranked if key[0] is kind
            )

        return cls(
            subject=subject,
            preferences=items(FactKind.PREFERENCE),
            attributes=items(FactKind.ATTRIBUTE),
            relations=items(FactKind.RELATION),
            plans=items(FactKind.PLAN),
            events=items(FactKind.EVENT),
            traits=_tally(traits),
            topics=tuple(topics),
        )

    def describe(self) -> str:
        """The persona as a few plain lines, for a prompt or a persona memory."""
        lines = []
        sections = [
            ("Preferences", self.preferences),
            ("Attributes", self.attributes),
            ("Relations", self.relations),
            ("Plans", self.plans),
            ("Events", self.events),
        ]
        for title, entries in sections:
            if entries:
                lines.append(f"{title}: " + "; ".join(f"{e.relation} {e.object}" for e in entries))
        if self.traits:
            lines.append("Traits: " + ", ".join(trait for trait, _ in self.traits))
        if self.topics:
            lines.append("Topics: " + ", ".join(topic for topic, _ in self.topics))
        return f"{self.subject}\n" + "\n".join(lines) if lines else self.subject


def _tally(words: Iterable[str]) -> tuple[tuple[str, int], ...]:
    counts: dict[str, int] = {}
    for word in words:
        counts[word] = counts.get(word, 0) + 1
    return tuple(sorted(counts.items(), key=lambda item: -item[1]))


@runtime_checkable
class Processors(Protocol):
    """Every text task memory needs from a language model, offline or not.

    ``continuity`` is 0..1: how likely ``text`` continues the dialogue thread of ``prev_text``
    (times in Unix seconds; ``None`` = unknown). ``importance`` is 0..1. ``extract_facts_many``
    takes ``(text, speaker)`` pairs and returns one list per pair, so an LLM can do a batch in one
    call.
    """

    def keywords(self, text: str, k: int = 8) -> list[str]: ...

    def summarize(self, texts: Sequence[str], max_sentences: int = 3) -> str: ...

    def continuity(
        self, prev_text: str, prev_time: float | None, text: str, time: float | None
    ) -> float: ...

    def extract_facts(self, text: str, speaker: str | None = None) -> list[Fact]: ...

    def extract_facts_many(self, items: Sequence[tuple[str, str | None]]) -> list[list[Fact]]: ...

    def persona(self, texts: Sequence[str], speaker: str | None = None) -> Persona: ...

    def importance(self, text: str) -> float: ...
