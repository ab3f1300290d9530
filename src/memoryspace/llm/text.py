"""Small, deterministic text statistics for the offline processors (English first).

Sentence splitting, word tokens with a stop list and a light stemmer, keyword phrases scored the
RAKE way (runs of content words between stop words) with frequency and proper-noun boosts, term
vectors and cosine similarity, and sentence centrality over TF-IDF vectors (numpy). No model, no
corpus statistics, no network: the same text always gives the same answer.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence

import numpy as np

_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9'\-]*")
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+|\n+")
_ABBREVIATION = re.compile(
    r"\b(?:mr|mrs|ms|dr|st|prof|jr|sr|mt|vs|etc|e\.g|i\.e|no|approx|dept|inc|ltd)\.$", re.IGNORECASE
)


def word_set(text: str) -> frozenset[str]:
    """The whitespace-separated words of ``text`` (for word lists written as prose)."""
    return frozenset(text.split())


STOPWORDS = word_set(
    """
    a about above after again against all almost also although always am an and another any
    anybody anyone anything anyway anyways are aren't around as at away be became because been
    before being below between both but by can can't cannot could couldn't did didn't do does
    doesn't doing don't done down during each either else enough even ever every everybody
    everyone everything few for from further get gets getting go goes going gone gonna got gotta
    had hadn't has hasn't have haven't having he he'd he'll he's her here here's hers herself him
    himself his how how's however i i'd i'll i'm i've if in into is isn't it it's its itself just
    kind kinda know least less let let's like liked likely lot lots made make makes many may maybe
    me might mine more most much must mustn't my myself near need needs never no nobody none nor
    not nothing now of off often oh ok okay on once one ones only onto or other others otherwise
    ought our ours ourselves out over own perhaps please pretty quite rather really right said same
    say says see seem seems seen shall shan't she she'd she'll she's should shouldn't since so some
    somebody someone something sometimes somewhat soon sort still such sure take than thank thanks
    that that's the their theirs them themselves then there there's these they they'd they'll
    they're they've thing things think this those though through thus till to today too took
    toward towards try under until up upon us use used very via want wanted was wasn't way we we'd
    we'll we're we've well went were weren't what what's whatever when when's where where's
    whether which while who who's whom whose why why's will with within without won't would
    wouldn't yeah yes yet you you'd you'll you're you've your yours yourself yourselves
    hi hello hey lol haha wow um uh hmm yep nope guess tell told come came back also actually
    definitely probably totally absolutely anyway sounds great good nice cool awesome fun
    love loves loved enjoy enjoys enjoyed hate hates hated called named new last next first ago
    yesterday tomorrow tonight day days week weeks weekend time times year years month months
    """
)


def split_sentences(text: str) -> list[str]:
    """Sentences of ``text``: split after ``.``, ``!`` or ``?`` and at line breaks, but not
    after a title or abbreviation ("Dr.", "St.", "e.g.")."""
    sentences: list[str] = []
    for part in _SENTENCE_END.split(text):
        part = part.strip()
        if not part:
            continue
        if sentences and _ABBREVIATION.search(sentences[-1]):
            sentences[-1] += " " + part
        else:
            sentences.append(part)
    return sentences


def words(text: str) -> list[str]:
    """Word tokens in order, as written (apostrophes normalised to ``'``)."""
    return _WORD.findall(text.replace("\u2019", "'"))


def stem(word: str) -> str:
    """A light English stem so "hike", "hikes" and "hiking" meet: lower case, no possessive,
    no plural ``s``, no ``ing``/``ed``. Crude on purpose: it only has to be consistent."""
    word = word.lower().removesuffix("'s").strip("'-")
    if len(word) > 5 and word.endswith("ing"):
        word = word[:-3]
    elif len(word) > 4 and word.endswith("ied"):
        word = word[:-3] + "y"
    elif len(word) > 4 and word.endswith("ed"):
        word = word[:-2]
    elif len(word) > 4 and word.endswith("ies"):
        word = word[:-3] + "y"
    elif len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    if len(word) > 3 and word.endswith("e"):
        word = word[:-1]
    return word


def is_content_word(word: str) -> bool:
    """Not a stop word, not a bare number, longer than two characters."""
    lowered = word.lower()
    return len(lowered) > 2 and lowered not in STOPWORDS and not lowered.isdigit()


def term_counts(text: str) -> Counter[str]:
    """Stems of the content words of ``text`` with their counts."""
    return Counter(stem(word) for word in words(text) if is_content_word(word))


def cosine(left: Counter[str], right: Counter[str]) -> float:
    """Cosine similarity of two term-count vectors (0 when either is empty)."""
    if not left or not right:
        return 0.0
    shared = sum(count * right[term] for term, count in left.items() if term in right)
    norms = math.sqrt(sum(c * c for c in left.values()) * sum(c * c for c in right.values()))
    return shared / norms


def keyword_phrases(text: str, k: int) -> list[str]:
    """The ``k`` most salient phrases (1-3 content words), lower-cased, best first.

    Candidates are runs of content words between stop words and punctuation (RAKE). A word scores
    by how often its stem recurs, with a boost for proper nouns and long words; a phrase by the
    mean of its words, a bonus for each extra word and for repeats of the whole phrase. A phrase
    whose stems are all inside a better phrase is skipped.
    """
    frequency: Counter[str] = Counter()
    candidates: list[list[tuple[str, str, bool]]] = []
    for sentence in split_sentences(text):
        for clause in re.split(r"[,;:()\"]|\s[-–—]\s", sentence):
            run: list[tuple[str, str, bool]] = []
            for position, word in enumerate(words(clause)):
                if is_content_word(word):
                    proper = word[0].isupper() and position > 0
                    run.append((word.lower(), stem(word), proper))
                    frequency[stem(word)] += 1
                elif run:
                    candidates.append(run)
                    run = []
            if run:
                candidates.append(run)
    scored: dict[str, tuple[float, int, frozenset[str]]] = {}
    for order, run in enumerate(_chunks(candidates, 3)):
        weights = [
            frequency[root] * (1.5 if proper else 1.0) * (1.2 if len(word) >= 7 else 1.0)
            for word, root, proper in run
        ]
        score = sum(weights) / len(weights) * (1 + 0.35 * (len(run) - 1))
        phrase = " ".join(word for word, _, _ in run)
        previous = scored.get(phrase)
        if previous is None:
            scored[phrase] = (score, order, frozenset(root for _, root, _ in run))
        else:
            scored[phrase] = (previous[0] + 0.5 * score, previous[1], previous[2])
    chosen: list[tuple[str, frozenset[str]]] = []
    for phrase, (_, _, roots) in sorted(scored.items(), key=lambda item: (-item[1][0], item[1][1])):
        if any(roots <= taken for _, taken in chosen):
            continue
        chosen.append((phrase, roots))
        if len(chosen) == k:
            break
    return [phrase for phrase, _ in chosen]


def _chunks(
    runs: list[list[tuple[str, str, bool]]], size: int
) -> list[list[tuple[str, str, bool]]]:
    """Runs longer than ``size`` words cut into pieces of at most ``size``."""
    return [run[start : start + size] for run in runs for start in range(0, len(run), size)]


def centrality(sentences: Sequence[str]) -> list[float]:
    """How central each sentence is: the sum of its TF-IDF cosine to every other sentence,
    damped for sentences with fewer than four content words."""
    bags = [term_counts(sentence) for sentence in sentences]
    vocabulary = sorted({term for bag in bags for term in bag})
    if len(sentences) < 2 or not vocabulary:
        return [float(len(bag)) for bag in bags]
    column = {term: index for index, term in enumerate(vocabulary)}
    counts = np.zeros((len(bags), len(vocabulary)))
    for row, bag in enumerate(bags):
        for term, count in bag.items():
            counts[row, column[term]] = count
    document_frequency = (counts > 0).sum(axis=0)
    idf = np.log((1 + len(bags)) / (1 + document_frequency)) + 1.0
    matrix = counts * idf
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    matrix = np.divide(matrix, norms, out=np.zeros_like(matrix), where=norms > 0)
    similarity = matrix @ matrix.T
    np.fill_diagonal(similarity, 0.0)
    damping = np.minimum(1.0, np.array([len(bag) for bag in bags]) / 4.0)
    return [float(value) for value in similarity.sum(axis=1) * damping]
