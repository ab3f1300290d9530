"""Query terms for full-text search: words, lower-cased, without the commonest English words."""

from __future__ import annotations

import re

_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)?", re.UNICODE)

STOPWORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before being
    below between both but by can could did do does doing down during each few for from further
    had has have having he her here hers herself him himself his how i if in into is it its
    itself just me more most my myself no nor not now of off on once only or other our ours
    ourselves out over own same she should so some such than that the their theirs them
    themselves then there these they this those through to too under until up very was we were
    what when where which while who whom why will with would you your yours yourself yourselves
    s t""".split()  # noqa: SIM905
)


def query_terms(text: str, *, max_terms: int = 32) -> list[str]:
    """Distinct search terms of ``text`` in order; stopwords dropped unless nothing else is left."""
    words = [w.lower().replace("’", "'") for w in _WORD.findall(text)]
    kept = [w for w in words if w not in STOPWORDS] or words
    seen: dict[str, None] = {}
    for word in kept:
        for part in word.split("'"):
            if part and part not in STOPWORDS:
                seen.setdefault(part, None)
    if not seen:
        for word in kept:
            seen.setdefault(word, None)
    return list(seen)[:max_terms]
