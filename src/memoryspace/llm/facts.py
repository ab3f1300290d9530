"""Facts from first-person English statements, by pattern, and an importance score from signals.

Each sentence is cut into clauses; a clause yields a fact only when it *starts* with the speaker
("I ...", "I'm ...", "My ...") after optional fillers ("well", "actually", "and"), so questions,
hypotheticals ("if I lived in ..."), wishes, reported speech and third persons yield nothing.
Objects stop at subordinate clauses and lose trailing fillers; pronoun objects ("I love it") are
dropped because they mean nothing out of context.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from memoryspace.llm.processors import DEFAULT_SUBJECT, Fact, FactKind
from memoryspace.llm.text import is_content_word, split_sentences, word_set, words

_I_AM = r"i(?:'m|\s+am)"
_I_HAVE = r"i(?:'ve|\s+have)"
_ADV = (
    r"(?:(?:really|truly|absolutely|totally|just|also|still|actually|definitely|honestly|"
    r"so|pretty|very|quite|always|usually|generally|kind\s+of|sort\s+of|currently|now)\s+)*"
)
_FAMILY = (
    r"(?:little\s+|big\s+|older\s+|younger\s+|best\s+|new\s+|ex-?)?"
    r"(?:sister|brother|wife|husband|mom|mum|mother|dad|father|son|daughter|partner|"
    r"boyfriend|girlfriend|fiancée?|friend|cousin|aunt|uncle|grandma|grandmother|grandpa|"
    r"grandfather|niece|nephew|boss|manager|colleague|coworker|roommate|neighbou?r|"
    r"kid|child|baby|twin|spouse)"
)
_PET = (
    r"(?:dog|cat|puppy|kitten|parrot|bird|rabbit|bunny|hamster|horse|fish|turtle|snake|"
    r"lizard|pet|greyhound|labrador|poodle|terrier)"
)
_TRAITS = word_set(
    """vegetarian vegan pescatarian introverted introvert extroverted extrovert shy outgoing
    creative organized organised competitive adventurous curious ambitious optimistic
    pessimistic sporty athletic religious spiritual lactose-intolerant gluten-free diabetic
    left-handed right-handed colorblind colourblind single married divorced engaged widowed
    retired pregnant sober nearsighted night-owl early-riser perfectionist"""
)
_TIME = (
    r"\b(?:tomorrow|tonight|soon|later\s+today|next\s+\w+|this\s+(?:weekend|week|month|year|"
    r"summer|winter|spring|autumn|fall|evening|afternoon)|on\s+(?:mon|tues|wednes|thurs|fri|"
    r"satur|sun)day|in\s+(?:a|an|\d+|two|three|four|few|couple\s+of)\s+(?:\w+\s+)?"
    r"(?:days?|weeks?|months?|years?))\b"
)
_FILLER_START = re.compile(
    r"^(?:(?:well|oh|yeah|yes|ok|okay|actually|honestly|also|and|but|so|now|plus|really|"
    r"personally|lol|haha|um|uh|anyway|btw|by\s+the\s+way|fun\s+fact)\b[\s!.-]*)+",
    re.IGNORECASE,
)
_CLAUSE_SPLIT = re.compile(
    r"\s*[;:]\s*|,\s*|\s+[-–—]\s+|\s+(?:but|because|since|although|though|whereas)\s+"
    r"|\s+(?:and|so)\s+(?=(?:i|i'm|i've|i'd|my)\b)",
    re.IGNORECASE,
)
_OBJECT_END = re.compile(
    r"\s+(?:because|when|while|if|unless|since|although|though|which|who|where|so\s+that|"
    r"and\s+i|but|whenever)\b.*$",
    re.IGNORECASE,
)
_TRAILING_FILLER = re.compile(
    r"(?:\s+(?:a\s+lot|so\s+much|very\s+much|too|as\s+well|lately|these\s+days|though|lol|"
    r"haha|actually|anyway|honestly|now|right\s+now))+$",
    re.IGNORECASE,
)
_PRONOUN_OBJECT = re.compile(
    r"^(?:it|that|this|those|these|them|you|him|her|your|everything|nothing|one|all|so|what|"
    r"doing\s+that|how|when|to\s+(?:know|ask|say|tell|see|be\s+honest|mention|thank))\b",
    re.IGNORECASE,
)
_PLAN_JUNK = re.compile(
    r"^(?:be\s+honest|say|tell|ask|know|see|check|mention|thank|talk|let|need|think|try\s+to)\b",
    re.IGNORECASE,
)
_NOT_ATTRIBUTE = re.compile(
    r"^(?:bit|little|lot|fan|big\s+fan|huge\s+fan|few|couple|while|sec|second|minute|moment)\b",
    re.IGNORECASE,
)
_NOT_PLANS = word_set(
    "not sure sorry glad happy afraid tired busy free available off out away back home so too "
    "very really"
)
_PREFERENCE_VERBS = {
    "love": "loves",
    "adore": "loves",
    "like": "likes",
    "enjoy": "likes",
    "prefer": "prefers",
    "hate": "hates",
    "detest": "hates",
    "despise": "hates",
    "can't stand": "hates",
    "cannot stand": "hates",
    "dislike": "dislikes",
}

# One rule: a compiled pattern (matched at the start of a clause) and what to make of the match.
Build = Callable[[re.Match[str]], tuple[str | None, str, str, FactKind] | None]
"""Returns (subject suffix or None, relation, object, kind), or None for no fact."""


def _rule(pattern: str, build: Build) -> tuple[re.Pattern[str], Build]:
    return re.compile(pattern, re.IGNORECASE), build


def _preference(match: re.Match[str]) -> tuple[str | None, str, str, FactKind] | None:
    verb = re.sub(r"\s+", " ", match["verb"].lower())
    obj = match["obj"]
    if verb == "prefer":
        obj = re.split(r"\s+(?:over|rather\s+than|instead\s+of|to)\s+", obj, maxsplit=1)[0]
    obj = re.sub(r"^to\s+", "", obj, flags=re.IGNORECASE)
    return None, _PREFERENCE_VERBS[verb], obj, FactKind.PREFERENCE


def _plan(match: re.Match[str]) -> tuple[str | None, str, str, FactKind] | None:
    obj = match["obj"]
    if _PLAN_JUNK.match(obj):
        return None
    if re.match(r"(?:[A-Z]|the\s|a\s|an\s|my\s)", obj) and match["verb"].lower() in (
        "going",
        "gonna",
    ):
        obj = "go to " + obj  # "I'm going to Paris" is a trip, not "to Paris"
    return None, "plans to", obj, FactKind.PLAN


def _family(match: re.Match[str]) -> tuple[str | None, str, str, FactKind] | None:
    relation = re.sub(r"\s+", " ", match["rel"].lower())
    obj = match["obj"]
    article = re.match(r"(an?)\s+(.+)", obj, re.IGNORECASE)
    if match["link"].strip().lower() == "is" and article:  # "my sister is a doctor"
        return relation, f"is {article[1].lower()}", article[2], FactKind.ATTRIBUTE
    name = re.match(r"[A-Z][\w'-]*(?:\s+[A-Z][\w'-]*)*", obj)
    return (None, relation, name.group(0), FactKind.RELATION) if name else None


def _have(match: re.Match[str]) -> tuple[str | None, str, str, FactKind] | None:
    what = match["what"].lower()
    if match["name"]:
        return None, what, match["name"], FactKind.RELATION
    return None, "has", f"{match['count'].lower()} {what}", FactKind.ATTRIBUTE


def _attribute(match: re.Match[str]) -> tuple[str | None, str, str, FactKind] | None:
    obj = match["obj"]
    if _NOT_ATTRIBUTE.match(obj):
        return None
    person = re.match(r"(?:(?:very|really|pretty|quite)\s+)?([\w-]+)\s+person$", obj, re.I)
    if person:  # "I'm a very shy person": a trait, like "I'm shy"
        return None, "is", person.group(1).lower(), FactKind.ATTRIBUTE
    return None, f"is {match['art'].lower()}", obj, FactKind.ATTRIBUTE


def _fixed(relation: str, kind: FactKind) -> Build:
    return lambda match: (None, relation, match["obj"], kind)


def _plan_with_time(match: re.Match[str]) -> tuple[str | None, str, str, FactKind] | None:
    """Dated intentions: "I'll call mum tomorrow", "I'm flying to Oslo next week"."""
    verb = match["verb"]
    if verb.lower() in _NOT_PLANS:
        return None
    obj = f"{verb} {match['obj']}".strip()
    return (None, "plans to", obj, FactKind.PLAN) if not _PLAN_JUNK.match(obj) else None


def _family_named(match: re.Match[str]) -> tuple[str | None, str, str, FactKind] | None:
    """A name right after the relation, "My sister Anna ..." (case-sensitive)."""
    name = match["obj"]
    if not name[0].isupper() or name.lower() in ("is", "and", "i"):
        return None
    return None, re.sub(r"\s+", " ", match["rel"].lower()), name, FactKind.RELATION


_RULES: list[tuple[re.Pattern[str], Build]] = [
    _rule(
        rf"^i\s+{_ADV}(?:don't|do\s+not|never)\s+{_ADV}(?:like|enjoy|love)\s+(?P<obj>.+)",
        _fixed("dislikes", FactKind.PREFERENCE),
    ),
    _rule(
        rf"^{_I_AM}\s+not\s+(?:a\s+)?(?:big\s+|huge\s+)?fan\s+of\s+(?P<obj>.+)",
        _fixed("dislikes", FactKind.PREFERENCE),
    ),
    _rule(
        rf"^i\s+{_ADV}(?P<verb>love|adore|like|enjoy|prefer|hate|detest|despise|dislike|"
        rf"can't\s+stand|cannot\s+stand)\s+(?P<obj>.+)",
        _preference,
    ),
    _rule(
        rf"^{_I_AM}\s+(?:a\s+)?(?:big\s+|huge\s+|massive\s+|great\s+)?fan\s+of\s+(?P<obj>.+)",
        _fixed("likes", FactKind.PREFERENCE),
    ),
    _rule(
        rf"^{_I_AM}\s+{_ADV}(?:into|obsessed\s+with|passionate\s+about|crazy\s+about|keen\s+on)"
        rf"\s+(?P<obj>.+)",
        _fixed("likes", FactKind.PREFERENCE),
    ),
    _rule(
        r"^my\s+(?:all[-\s]time\s+|absolute\s+)?favou?rite\s+(?P<what>[\w\s-]{1,30}?)\s+"
        r"(?:is|are|was|has\s+to\s+be)\s+(?P<obj>.+)",
        lambda m: (None, f"favourite {m['what'].lower()}", m["obj"], FactKind.PREFERENCE),
    ),
    _rule(
        rf"^{_I_AM}\s+{_ADV}(?:allergic|intolerant)\s+to\s+(?P<obj>.+)",
        _fixed("is allergic to", FactKind.ATTRIBUTE),
    ),
    _rule(
        rf"^i\s+{_ADV}work\s+as\s+(?:an?\s+)?(?P<obj>.+)", _fixed("works as", FactKind.ATTRIBUTE)
    ),
    _rule(rf"^i\s+{_ADV}work\s+(?:at|for)\s+(?P<obj>.+)", _fixed("works at", FactKind.ATTRIBUTE)),
    _rule(rf"^i\s+{_ADV}live\s+in\s+(?P<obj>.+)", _fixed("lives in", FactKind.ATTRIBUTE)),
    _rule(
        rf"^{_I_AM}\s+(?:originally\s+)?from\s+(?P<obj>.+)", _fixed("is from", FactKind.ATTRIBUTE)
    ),
    _rule(r"^i\s+grew\s+up\s+in\s+(?P<obj>.+)", _fixed("grew up in", FactKind.ATTRIBUTE)),
    _rule(
        r"^my\s+name\s+is\s+(?P<obj>[\w'-]+)",
        lambda m: (
            (None, "is named", m["obj"], FactKind.ATTRIBUTE) if m["obj"][0].isupper() else None
        ),
    ),
    _rule(
        rf"^{_I_AM}\s+(?P<obj>\d{{1,3}})\s+(?:years?\s+old|y/?o)\b",
        _fixed("is aged", FactKind.ATTRIBUTE),
    ),
    _rule(
        rf"^{_I_AM}\s+{_ADV}(?P<verb>planning|going|gonna|hoping|about|aiming|intending)"
        rf"(?:\s+to)?\s+(?P<obj>.+)",
        _plan,
    ),
    _rule(
        rf"^i\s+{_ADV}(?P<verb>plan|intend|hope|want|aim)\s+to\s+(?P<obj>.+)",
        _plan,
    ),
    _rule(
        rf"^(?:i\s+will|i'll|{_I_AM})\s+{_ADV}(?P<verb>\w+)\s+(?P<obj>.*{_TIME}.*)",
        _plan_with_time,
    ),
    _rule(
        rf"^my\s+(?P<rel>{_FAMILY})(?P<link>'s\s+name\s+is|\s+is\s+(?:named|called)|\s+is)\s+"
        r"(?P<obj>.+)",
        _family,
    ),
    _rule(rf"^my\s+(?P<rel>{_FAMILY})\s+(?P<obj>[A-Z][\w'-]*)\b", _family_named),
    _rule(
        rf"^(?:i\s+have|{_I_HAVE}\s+got)\s+(?P<count>a|an|one|two|three|four|five|\d+)\s+"
        rf"(?P<what>{_PET}s?|{_FAMILY}s?|kids|children)"
        r"(?:\s+(?:named|called)\s+(?P<name>[A-Z][\w'-]*))?",
        _have,
    ),
    _rule(rf"^{_I_AM}\s+married\s+to\s+(?P<obj>.+)", _fixed("is married to", FactKind.RELATION)),
    _rule(r"^i\s+used\s+to\s+(?P<obj>.+)", _fixed("used to", FactKind.EVENT)),
    _rule(
        rf"^(?:i|{_I_HAVE})\s+(?:just\s+|recently\s+|finally\s+)?moved\s+(?:to|into)\s+(?P<obj>.+)",
        _fixed("moved to", FactKind.EVENT),
    ),
    _rule(
        rf"^(?:i|{_I_HAVE})\s+(?:just\s+|recently\s+|finally\s+)?(?P<verb>graduated\s+from|"
        r"started|finished|adopted|bought|visited|joined|quit|retired\s+from|won|completed|"
        r"signed\s+up\s+for|ran|went\s+to|got)\s+(?P<obj>.+)",
        lambda m: (None, re.sub(r"\s+", " ", m["verb"].lower()), m["obj"], FactKind.EVENT),
    ),
    _rule(rf"^{_I_AM}\s+(?P<art>an?)\s+(?P<obj>.+)", _attribute),
    _rule(
        rf"^{_I_AM}\s+{_ADV}(?P<obj>[\w-]+)$",
        lambda m: (
            (None, "is", m["obj"].lower(), FactKind.ATTRIBUTE)
            if m["obj"].lower() in _TRAITS
            else None
        ),
    ),
]


def clean_object(raw: str) -> str:
    """The object without subordinate clauses, trailing fillers or end punctuation, at most
    eight words."""
    text = _OBJECT_END.sub("", raw.strip())
    text = text.strip(" .!?,;:\"'()")
    text = _TRAILING_FILLER.sub("", text).strip(" .!?,;:\"'()")
    return " ".join(text.split()[:8])


def clauses(text: str) -> list[str]:
    """Declarative clauses of ``text`` with leading fillers removed; questions are skipped."""
    out = []
    for sentence in split_sentences(text.replace("\u2019", "'")):
        if sentence.rstrip("\"')").endswith("?"):
            continue
        for clause in _CLAUSE_SPLIT.split(sentence):
            clause = _FILLER_START.sub("", clause.strip()).strip(" .!\"'")
            if clause:
                out.append(clause)
    return out


def extract_facts(text: str, speaker: str | None = None) -> list[Fact]:
    """First-person facts stated in ``text``; "I" is ``speaker`` (default ``"user"``)."""
    subject = speaker or DEFAULT_SUBJECT
    facts: list[Fact] = []
    for sentence in split_sentences(text.replace("\u2019", "'")):
        for clause in clauses(sentence):
            fact = _first_fact(clause, subject, sentence)
            if fact is not None and fact not in facts:
                facts.append(fact)
    return facts


def _meaningful(obj: str) -> bool:
    """An object with at least one content word or number ("34"), not only stop words."""
    return any(is_content_word(word) or word.isdigit() for word in words(obj))


def _first_fact(clause: str, subject: str, sentence: str) -> Fact | None:
    for pattern, build in _RULES:
        match = pattern.match(clause)
        if match is None:
            continue
        built = build(match)
        if built is None:
            continue
        owner, relation, raw, kind = built
        obj = clean_object(raw)
        if not obj or _PRONOUN_OBJECT.match(obj) or not _meaningful(obj):
            continue
        who = f"{subject}'s {owner}" if owner else subject
        return Fact(who, relation, obj, kind, sentence)
    return None


_NUMBER = re.compile(r"\d")
_DATE = re.compile(
    rf"{_TIME}|\b(?:yesterday|today|last\s+\w+|(?:19|20)\d\d|january|february|march|april|"
    r"june|july|august|september|october|november|december|monday|tuesday|wednesday|thursday|"
    r"friday|saturday|sunday|birthday|anniversary)\b",
    re.IGNORECASE,
)
_EMOTION = re.compile(
    r"\b(?:love|hate|afraid|scared|excited|worried|anxious|sad|happy|proud|angry|upset|"
    r"important|never\s+forget|remember|promise|deadline|urgent|diagnos\w*|died|passed\s+away|"
    r"married|pregnant|born|fired|hired|promoted)\b",
    re.IGNORECASE,
)


def importance(text: str) -> float:
    """0..1 from signals that a turn is worth remembering: first-person facts, numbers, dates,
    named entities, strong feelings, exclamation and length. Small talk scores low."""
    tokens = words(text)
    content = [word for word in tokens if is_content_word(word)]
    if not content:
        return 0.05
    score = 0.1
    facts = extract_facts(text)
    if facts:
        score += 0.3 + 0.05 * min(len(facts) - 1, 2)
    if _NUMBER.search(text):
        score += 0.08
    if _DATE.search(text):
        score += 0.1
    names = {
        word
        for sentence in split_sentences(text)
        for word in words(sentence)[1:]
        if word[0].isupper() and word != "I" and not word.startswith("I'")
    }
    score += min(len(names), 3) * 0.05
    if _EMOTION.search(text):
        score += 0.1
    if "!" in text:
        score += 0.03
    score += 0.15 * min(1.0, len(content) / 20)
    if len(tokens) < 4 and not facts:
        score *= 0.6
    return round(min(1.0, max(0.0, score)), 4)
