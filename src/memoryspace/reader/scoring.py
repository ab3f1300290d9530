"""Sentence statistics for the offline reading policy: terms, entities and BM25 over a few
hundred sentences (one chunk plus the memory), so the cost of a chunk never depends on how much
was read before it."""

from __future__ import annotations

import functools
import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence

from memoryspace.llm.text import STOPWORDS, is_content_word, stem, words

_CAPITALISED = re.compile(r"[A-Z\u00c0-\u00de][\w'\-]*|\d{3,4}")
_JOINERS = frozenset({"of", "the", "de", "la", "von", "van", "der", "del", "and", "&"})


@functools.lru_cache(maxsize=1 << 15)
def _term(word: str) -> str | None:
    return stem(word) if is_content_word(word) else None


def terms(text: str) -> list[str]:
    """Stems of the content words of ``text``, in order, repeats kept."""
    return [term for word in words(text) if (term := _term(word)) is not None]


def entities(text: str) -> frozenset[str]:
    """Name words in ``text``, lower-cased: capitalised words that are no stop words ("Pablo",
    "Trapero", but never "The" or "He") and numbers of 3-4 digits (years)."""
    found: set[str] = set()
    for word in words(text):
        if not _CAPITALISED.fullmatch(word):
            continue
        lowered = word.lower().removesuffix("'s")
        if lowered in STOPWORDS or lowered in _JOINERS:
            continue
        if len(lowered) > 1:
            found.add(lowered)
    return frozenset(found)


def bm25(
    query: Mapping[str, float],
    documents: Sequence[Counter[str]],
    *,
    k1: float = 1.2,
    b: float = 0.75,
) -> list[float]:
    """Okapi BM25 of each document (a term-count bag) for ``query`` (term → weight), with
    document frequencies taken from ``documents`` themselves."""
    n = len(documents)
    if not n or not query:
        return [0.0] * n
    lengths = [sum(bag.values()) for bag in documents]
    average = (sum(lengths) / n) or 1.0
    frequency: Counter[str] = Counter()
    for bag in documents:
        frequency.update(term for term in bag if term in query)
    scores = [0.0] * n
    for term, weight in query.items():
        df = frequency.get(term, 0)
        if not df:
            continue
        idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
        for row, bag in enumerate(documents):
            tf = bag.get(term, 0)
            if tf:
                norm = tf + k1 * (1 - b + b * lengths[row] / average)
                scores[row] += weight * idf * tf * (k1 + 1) / norm
    return scores


def normalised(values: Sequence[float]) -> list[float]:
    """``values`` divided by their maximum (all zeros stay zeros)."""
    top = max(values, default=0.0)
    return [v / top for v in values] if top > 0 else [0.0] * len(values)
