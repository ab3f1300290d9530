"""Subject-attribute-value claims: what reflection compares to find superseded memories.

``extract_claims`` reads a memory's text by rules for the common forms of a stated value:
"my X is Y", "X moved to Y", "X (now) works as / at Y", "X lives in Y", "X is no longer Y"
(a negation), "X is in / on <date>", "X in <date>", "X is <number>" and "my X of <number>".
Subjects are reduced to at most three content words (determiners dropped, "I"/"my" become the
speaker, a plural head made singular); ``same_subject`` matches "japan trip" with "trip" but not
"gate code" with "locker code". Values are lower case without fillers; ``same_value`` lets
"nurse" agree with "nurse at night". A turn written as ``"speaker: text"`` is read as that
speaker's; an ``assistant`` or ``system`` turn states nothing about the user: no claims.

``LLMClaimExtractor`` asks a chat model for the claims of many texts in one structured call and
falls back to the rules when it fails.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from pydantic import BaseModel

from memoryspace.errors import MemorySpaceError
from memoryspace.llm.base import LLM, Message
from memoryspace.llm.facts import clauses, clean_object
from memoryspace.llm.text import is_content_word, split_sentences

log = logging.getLogger("memoryspace.reflect")

ANY_ATTRIBUTE = "*"
"""The attribute of a negation ("X is no longer Y"): it closes Y whatever attribute held it."""


@dataclass(frozen=True, slots=True)
class Claim:
    """``subject``'s ``attribute`` has ``value`` (or, ``negated``, no longer has it)."""

    subject: str
    attribute: str
    value: str
    negated: bool = False

    @property
    def key(self) -> tuple[str, str]:
        """The subject's head word and the attribute: claims that may be about one thing."""
        return self.subject.split()[-1], self.attribute

    def describe(self) -> str:
        verb = "is no longer" if self.negated else "is"
        return f"{self.subject} {self.attribute} {verb} {self.value}"


_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
    r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
)
_DATE = (
    rf"(?:{_MONTH}\b|(?:mon|tues|wednes|thurs|fri|satur|sun)day\b|\d{{4}}-\d{{2}}-\d{{2}}|"
    r"\d{1,2}/\d{1,2}(?:/\d{2,4})?|\d{1,2}(?:st|nd|rd|th)\b|(?:19|20)\d{2}\b|"
    r"(?:next|this|last)\s+(?:week|weekend|month|year|spring|summer|autumn|fall|winter)\b|"
    r"(?:spring|summer|autumn|fall|winter)\b|tomorrow\b|tonight\b)"
)
_NUMBER = (
    r"[$€£]?\d[\d,.:]*(?:\s*(?:%|k|km|kg|g|lbs?|pounds?|dollars?|euros?|minutes?|mins?|hours?|"
    r"hrs?|seconds?|secs?|years?|months?|weeks?|days?|miles?|met(?:er|re)s?|feet|inches|cm|mm|"
    r"people|times|steps)\b)?"
)
_IS = r"(?:is|are|was|'s|'re|am|'m)"
_LEAD = r"(?:now\s+|currently\s+|just\s+|recently\s+|finally\s+|has\s+|have\s+|'ve\s+)*"
_DETERMINERS = re.compile(r"^(?:the|my|our|a|an|his|her|their|your|its|this|that)\s+")
_FIRST_PERSON = {"i", "me", "we", "us", "myself"}
_ATTRIBUTE_FILLER = re.compile(r"\b(?:current|new|old|latest|previous|own)\s+")
_SPEAKER_PREFIX = re.compile(r"^\s*([A-Za-z][\w .'-]{0,30}):\s+")
_SILENT_SPEAKERS = {"assistant", "system", "bot", "ai"}

Rule = Callable[[re.Match[str], str], "Claim | None"]


def _subject(raw: str, speaker: str) -> str:
    text = raw.lower().strip(" ,.'\"")
    text = re.sub(r"^(?:and|but|so|well|oh|also|now)\s+", "", text)
    while True:
        shorter = _DETERMINERS.sub("", text)
        if shorter == text:
            break
        text = shorter
    if not text or text in _FIRST_PERSON:
        return speaker
    words = [str(w) for w in re.findall(r"[\w'-]+", text) if is_content_word(w)][-3:]
    if not words:
        return speaker
    head = words[-1]
    if len(head) > 3 and head.endswith("s") and not head.endswith("ss"):
        words[-1] = head[:-1]
    return " ".join(words)


def same_subject(a: str, b: str) -> bool:
    """Whether two subject phrases name one thing: one ends with the other ("japan trip" and
    "trip" do; "gate code" and "locker code" do not)."""
    left, right = a.split(), b.split()
    shorter, longer = (left, right) if len(left) <= len(right) else (right, left)
    return longer[len(longer) - len(shorter) :] == shorter


def same_value(a: str, b: str) -> bool:
    """Whether two values agree: equal, or one starts with the other ("nurse" and "nurse at
    night")."""
    left, right = a.split(), b.split()
    n = min(len(left), len(right))
    return left[:n] == right[:n]


def _attribute(raw: str) -> str:
    text = _ATTRIBUTE_FILLER.sub("", raw.lower().strip())
    words = re.findall(r"[\w'-]+", text)
    return words[-1] if words else text


def _value(raw: str) -> str:
    text = clean_object(raw).lower()
    text = re.sub(r"^(?:now|currently|still|an?|the)\s+", "", text)
    return " ".join(text.split()[:6])


def _is_date(value: str) -> bool:
    return re.match(_DATE, value, re.IGNORECASE) is not None


def _negation(m: re.Match[str], speaker: str) -> Claim | None:
    return Claim(_subject(m["s"], speaker), ANY_ATTRIBUTE, _value(m["v"]), negated=True)


def _fixed(attribute: str) -> Rule:
    def build(m: re.Match[str], speaker: str) -> Claim | None:
        return Claim(_subject(m["s"], speaker), attribute, _value(m["v"]))

    return build


def _moved(m: re.Match[str], speaker: str) -> Claim | None:
    value = _value(m["v"])
    attribute = "time" if _is_date(value) else "location"
    return Claim(_subject(m["s"], speaker), attribute, value)


def _my_x_is(m: re.Match[str], speaker: str) -> Claim | None:
    value = m["v"].strip()
    dated = re.match(rf"(?:in|on|at|for)\s+(?P<d>{_DATE}.*)", value, re.IGNORECASE)
    if dated:
        return Claim(_subject(m["a"], speaker), "time", _value(dated["d"]))
    return Claim(speaker, _attribute(m["a"]), _value(value))


def _time(m: re.Match[str], speaker: str) -> Claim | None:
    return Claim(_subject(m["s"], speaker), "time", _value(m["v"]))


def _number(m: re.Match[str], speaker: str) -> Claim | None:
    subject = m["s"].lower().strip()
    if subject.startswith(("my ", "our ")):
        return Claim(speaker, _attribute(subject.split(" ", 1)[1]), _value(m["v"]))
    return Claim(_subject(subject, speaker), "value", _value(m["v"]))


_S = r"(?P<s>(?:i|[\w'-]+(?:\s+[\w'-]+){0,4}?))"
_RULES: list[tuple[re.Pattern[str], Rule]] = [
    (re.compile(rf"^{_S}\s*{_IS}\s+no\s+longer\s+(?P<v>.+)", re.I), _negation),
    (
        re.compile(rf"^{_S}\s+{_LEAD}(?:works?|working)\s+as\s+(?P<v>.+)", re.I),
        _fixed("job"),
    ),
    (
        re.compile(rf"^{_S}\s+{_LEAD}(?:works?|working)\s+(?:at|for)\s+(?P<v>.+)", re.I),
        _fixed("employer"),
    ),
    (
        re.compile(
            rf"^{_S}\s+{_LEAD}(?:(?:was|got|been)\s+)?(?:moved|relocated|postponed|"
            r"rescheduled|pushed\s+back)\s+(?:to|into|until)\s+(?P<v>.+)",
            re.I,
        ),
        _moved,
    ),
    (re.compile(rf"^{_S}\s+{_LEAD}(?:lives?|living)\s+in\s+(?P<v>.+)", re.I), _fixed("location")),
    (
        re.compile(
            rf"^{_S}\s+(?:{_IS}|will\s+be)\s+(?:now\s+)?(?:in|on|at|scheduled\s+for|set\s+for|"
            rf"planned\s+for)\s+(?P<v>{_DATE}.*)",
            re.I,
        ),
        _time,
    ),
    (re.compile(r"^my\s+(?P<a>[\w\s'-]{1,40}?)\s+(?:is|are|was)\s+(?P<v>.+)", re.I), _my_x_is),
    (re.compile(rf"^{_S}\s+(?:in|on)\s+(?P<v>{_DATE}.*)$", re.I), _time),
    (
        re.compile(
            rf"^{_S}\s+(?:{_IS}|costs?|weighs?|comes\s+to|equals)\s+(?:now\s+)?"
            rf"(?:about\s+|around\s+|roughly\s+)?(?P<v>{_NUMBER})",
            re.I,
        ),
        _number,
    ),
]
_MY_X_OF_NUMBER = re.compile(
    rf"\b(?:my|a|the)\s+(?P<a>[\w\s'-]{{1,40}}?)\s+(?:of|is|was|at)\s+(?P<v>{_NUMBER})", re.I
)
_QUANTITY = re.compile(
    r"(?:\b(?P<unit1>page|chapter|episode|level|week|day|mile|km)\s+(?P<num1>\d[\d,.]*)\b"
    r"|(?<![\w.])(?P<num2>\d[\d,.]*(?:-\d[\d,.]*)?)\s+(?:(?P<mod>[A-Z][\w-]*)\s+)?"
    r"(?P<unit2>[a-z]{3,})\b)"
)
_ENTITY = re.compile(r'"([^"]{2,60})"|\b([A-Z][\w-]*(?:\s+[A-Z0-9][\w-]*)*)')
_NOT_ENTITY = frozenset({"i", "i'm", "i've", "by", "the", "my", "but", "and", "so", "also"})
_NOT_UNIT = frozenset(
    {
        "for",
        "and",
        "the",
        "of",
        "in",
        "on",
        "at",
        "to",
        "with",
        "from",
        "by",
        "or",
        "but",
        "than",
        "that",
        "this",
        "are",
        "was",
        "were",
        "have",
        "has",
        "had",
        "more",
        "less",
        "about",
        "around",
        "over",
        "under",
        "per",
        "each",
        "into",
        "out",
        "off",
    }
)
_CLOCK = re.compile(r"(\d):(\d)")
_RATIO = "\u2236"  # stands in for ':' in "25:50" while the text is cut into clauses


def speaker_and_text(text: str, default: str) -> tuple[str, str]:
    """``("maren", "I moved")`` from ``"Maren: I moved"``; ``(default, text)`` otherwise."""
    match = _SPEAKER_PREFIX.match(text)
    if match:
        return match[1].strip().lower(), text[match.end() :]
    return default, text


def extract_claims(text: str, speaker: str | None = None) -> list[Claim]:
    """The claims ``text`` states, in order, one per clause at most (see the module docstring)."""
    who, body = speaker_and_text(text, (speaker or "user").lower())
    if who in _SILENT_SPEAKERS:
        return []
    found: list[Claim] = []
    for protected in clauses(_CLOCK.sub(rf"\1{_RATIO}\2", body)):
        clause = protected.replace(_RATIO, ":")
        for pattern, build in _RULES:
            match = pattern.match(clause)
            claim = build(match, who) if match else None
            if claim is not None and claim.value and claim.subject:
                found.append(claim)
                break
        else:
            for match in _MY_X_OF_NUMBER.finditer(clause):
                found.append(Claim(who, _attribute(match["a"]), _value(match["v"])))
    for sentence in split_sentences(body):
        found.extend(_quantities(sentence))
    return list(dict.fromkeys(found))


def _quantities(sentence: str) -> list[Claim]:
    """ "I'm on page 200 of "A Short History"", "my Fitbit Charge 3 for 6 months", "4 MCU
    films": a count of a unit about the named things of the clause (its quoted titles and
    capitalised names; a sentence naming none yields nothing, so bare numbers never collide)."""
    names = []
    for quoted, capital in _ENTITY.findall(sentence):
        name = (quoted or capital).strip().lower()
        if name and name.split()[0] not in _NOT_ENTITY and not name.isdigit():
            names.append(name)
    out = []
    for match in _QUANTITY.finditer(sentence):
        unit = match["unit1"] or match["unit2"]
        number = match["num1"] or match["num2"]
        topic = [*names, (match["mod"] or "").lower()]
        topic = [t for t in topic if t]
        if not topic or unit in _NOT_UNIT:
            continue
        unit = unit[:-1] if len(unit) > 3 and unit.endswith("s") else unit
        out.append(Claim(" ".join(dict.fromkeys(topic)), unit, number))
    return out


@runtime_checkable
class ClaimExtractor(Protocol):
    """Claims of many ``(text, speaker)`` items, one list per item."""

    def claims_many(self, items: Sequence[tuple[str, str | None]]) -> list[list[Claim]]: ...


class OfflineClaimExtractor:
    """``extract_claims`` over each item: deterministic, no model."""

    def claims_many(self, items: Sequence[tuple[str, str | None]]) -> list[list[Claim]]:
        return [extract_claims(text, speaker) for text, speaker in items]


class _Claim(BaseModel):
    subject: str
    attribute: str
    value: str
    negated: bool = False


class _Item(BaseModel):
    index: int
    claims: list[_Claim]


class _Batch(BaseModel):
    items: list[_Item]


_SYSTEM = (
    "You find the facts a memory states as subject, attribute and value, so that a newer "
    "memory stating another value for the same subject and attribute can replace an older one. "
    "Be literal. Reply with JSON only."
)


class LLMClaimExtractor:
    """Claims from a chat model, ``batch_size`` texts per call; the rules when a call fails.

    ``calls`` counts model calls, ``fallbacks`` the batches the rules answered.
    """

    def __init__(
        self, llm: LLM, fallback: ClaimExtractor | None = None, *, batch_size: int = 16
    ) -> None:
        self._llm = llm
        self._fallback: ClaimExtractor = fallback or OfflineClaimExtractor()
        self._batch_size = max(1, batch_size)
        self._lock = threading.Lock()
        self.calls = 0
        self.fallbacks = 0

    def claims_many(self, items: Sequence[tuple[str, str | None]]) -> list[list[Claim]]:
        out: list[list[Claim]] = []
        for start in range(0, len(items), self._batch_size):
            out.extend(self._batch(items[start : start + self._batch_size]))
        return out

    def _batch(self, batch: Sequence[tuple[str, str | None]]) -> list[list[Claim]]:
        lines = [
            f"[{n}] {speaker or 'user'}: {' '.join(text.split())[:2000]}"
            for n, (text, speaker) in enumerate(batch)
        ]
        prompt = (
            "For each numbered memory, list the facts it states: subject (a short noun, 'user' "
            "for the speaker), attribute (one word: job, location, time, employer, ...), value "
            "(short), negated (true for 'no longer'). JSON: "
            '{"items": [{"index": 0, "claims": [{"subject": "...", "attribute": "...", '
            '"value": "...", "negated": false}]}]}\n\n' + "\n".join(lines)
        )
        messages: list[Message] = [
            {"role": "system", "content": _SYSTEM},
            {"role": "user", "content": prompt},
        ]
        with self._lock:
            self.calls += 1
        try:
            reply = self._llm.complete(messages, schema=_Batch).parsed
            if not isinstance(reply, _Batch):
                raise ValueError("the model did not return the claims schema")
        except (MemorySpaceError, ValueError) as exc:
            log.warning("LLM claim extraction failed (%s); using the offline rules", exc)
            with self._lock:
                self.fallbacks += 1
            return self._fallback.claims_many(batch)
        out: list[list[Claim]] = [[] for _ in batch]
        for item in reply.items:
            if 0 <= item.index < len(batch):
                out[item.index] = [
                    Claim(
                        c.subject.strip().lower(),
                        c.attribute.strip().lower(),
                        c.value.strip().lower(),
                        c.negated,
                    )
                    for c in item.claims
                    if c.subject.strip() and c.value.strip()
                ]
        return out


def make_extractor(processors: object) -> ClaimExtractor:
    """The claim extractor matching a space's processors: a model's when they ask one."""
    from memoryspace.llm.llm_processors import LLMProcessors

    if isinstance(processors, LLMProcessors):
        return LLMClaimExtractor(processors.llm)
    return OfflineClaimExtractor()
