"""``OfflineProcessors``: every memory text task, deterministic, fast and without a network.

The default processors of MemorySpace. Keywords are RAKE-style phrases; summaries pick the most
central sentences by TF-IDF cosine; continuity multiplies topical overlap (term cosine, plus
discourse cues such as "and", "why?", "anyway") by an exponential decay of the time gap; facts and
the persona come from first-person patterns; importance from surface signals.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence

from memoryspace.errors import InvalidInput
from memoryspace.llm import facts as patterns
from memoryspace.llm.processors import DEFAULT_SUBJECT, Fact, Persona
from memoryspace.llm.text import centrality, cosine, keyword_phrases, split_sentences, term_counts

_FOLLOW_UP = re.compile(
    r"^\s*(?:and|but|so|also|yes|yeah|yep|no|nope|nah|ok|okay|sure|right|really|exactly|true|"
    r"why|how\s+come|what\s+about|how\s+about|that|it|they|he|she|this|those|thanks|thank\s+you|"
    r"cool|wow|oh|haha|lol|me\s+too|same|agreed|which|where|when|who)\b",
    re.IGNORECASE,
)
_TOPIC_SWITCH = re.compile(
    r"\b(?:anyway|anyways|by\s+the\s+way|btw|on\s+another\s+note|changing\s+the\s+subject|"
    r"different\s+topic|new\s+topic|unrelated|speaking\s+of\s+something\s+else|random\s+question)\b",
    re.IGNORECASE,
)
_NEAR_DUPLICATE = 0.8  # sentences more similar than this to a chosen one add nothing


class OfflineProcessors:
    """Deterministic processors with no model and no network (the default).

    ``gap_scale`` is the time gap, in seconds, over which continuity decays by a factor of e
    (30 minutes by default: a reply within minutes continues a thread; one after a day does not).

    Raises:
        InvalidInput: ``gap_scale`` is not positive (at construction).
    """

    def __init__(self, *, gap_scale: float = 1800.0) -> None:
        if not gap_scale > 0:
            raise InvalidInput(f"gap_scale must be > 0 seconds, got {gap_scale}")
        self._gap_scale = gap_scale

    def keywords(self, text: str, k: int = 8) -> list[str]:
        """Up to ``k`` salient phrases of ``text``, lower-cased, best first.

        Raises:
            InvalidInput: ``k`` < 1.
        """
        _check_positive("k", k)
        return keyword_phrases(text, k)

    def summarize(self, texts: Sequence[str], max_sentences: int = 3) -> str:
        """The ``max_sentences`` most central sentences of ``texts``, in their original order.

        A sentence is central when many others share its (rarer) words; near-duplicates of a
        chosen sentence are skipped. Extractive: every sentence is one that was said.

        Raises:
            InvalidInput: ``max_sentences`` < 1 or ``texts`` is a bare string.
        """
        _check_positive("max_sentences", max_sentences)
        if isinstance(texts, str):
            raise InvalidInput("summarize() takes a sequence of texts; wrap one text in a list")
        sentences = [sentence for text in texts for sentence in split_sentences(text)]
        if len(sentences) <= max_sentences:
            return " ".join(sentences)
        scores = centrality(sentences)
        ranked = sorted(range(len(sentences)), key=lambda index: (-scores[index], index))
        bags = [term_counts(sentence) for sentence in sentences]
        chosen: list[int] = []
        for index in ranked:
            if any(cosine(bags[index], bags[other]) > _NEAR_DUPLICATE for other in chosen):
                continue
            chosen.append(index)
            if len(chosen) == max_sentences:
                break
        return " ".join(sentences[index] for index in sorted(chosen))

    def continuity(
        self, prev_text: str, prev_time: float | None, text: str, time: float | None
    ) -> float:
        """0..1: does ``text`` continue the thread of ``prev_text``? Topical overlap (cosine of
        term counts, at least 0.6 for a reply that opens with a follow-up cue, at most 0.1 after
        a topic-switch phrase), scaled into 0.1..1 and multiplied by ``exp(-gap / gap_scale)``."""
        overlap = cosine(term_counts(prev_text), term_counts(text))
        if _FOLLOW_UP.match(text) or prev_text.rstrip().endswith("?"):
            overlap = max(overlap, 0.6)
        if _TOPIC_SWITCH.search(text):
            overlap = min(overlap, 0.1)
        return continuity_score(min(1.0, overlap * 1.25), prev_time, time, self._gap_scale)

    def extract_facts(self, text: str, speaker: str | None = None) -> list[Fact]:
        """First-person facts in ``text``; "I" is ``speaker`` (default ``"user"``)."""
        return patterns.extract_facts(text, speaker)

    def extract_facts_many(self, items: Sequence[tuple[str, str | None]]) -> list[list[Fact]]:
        """``extract_facts`` for each ``(text, speaker)`` pair."""
        return [patterns.extract_facts(text, speaker) for text, speaker in items]

    def persona(self, texts: Sequence[str], speaker: str | None = None) -> Persona:
        """The profile of ``speaker`` over ``texts``: facts counted, traits, recurring topics.

        Raises:
            InvalidInput: ``texts`` is a bare string.
        """
        if isinstance(texts, str):
            raise InvalidInput("persona() takes a sequence of texts; wrap one text in a list")
        subject = speaker or DEFAULT_SUBJECT
        found = [fact for text in texts for fact in patterns.extract_facts(text, subject)]
        traits = [
            fact.object for fact in found if fact.subject == subject and fact.relation == "is"
        ]
        topics: Counter[str] = Counter()
        for text in texts:
            topics.update(set(keyword_phrases(text, 5)))
        recurring = [(topic, count) for topic, count in topics.most_common(10) if count > 1]
        return Persona.from_facts(subject, found, traits=traits, topics=recurring)

    def importance(self, text: str) -> float:
        """0..1 from first-person facts, numbers, dates, names, feelings and length."""
        return patterns.importance(text)


def continuity_score(
    overlap: float, prev_time: float | None, time: float | None, gap_scale: float = 1800.0
) -> float:
    """Topical overlap (0..1) mapped into 0.1..1, times ``exp(-gap / gap_scale)``."""
    gap = 0.0 if prev_time is None or time is None else max(0.0, time - prev_time)
    decay = math.exp(-gap / gap_scale)
    return round(decay * (0.1 + 0.9 * min(1.0, max(0.0, overlap))), 4)


def _check_positive(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidInput(f"{name} must be an int >= 1, got {value!r}")
