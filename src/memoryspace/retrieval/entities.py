"""Entity second hop: the names in the best hit pull in the memories about them.

A question often names one thing and needs facts about another that only a first hit names
("the nickname of the winner of the 1998 men's singles": the hit about the final names Pete
Sampras, and the memory about his nickname never mentions the final). So after the first
ranking, the names in the best hit that the query does not already hold are bridges; for each,
the two best-scored memories about that name gain ``weight`` and half of it (see
``hop_boosts``).

Names are found by rule, offline: runs of capitalised words, joined by a few lower-case
connectors ("Bank of England", "The Lord of the Rings"); a single capitalised word that is a
common English word ("The", "She", "In") or opens a sentence is no name. A name that more than
``MAX_SHARE`` (a fifth) of the candidates hold (a word every memory of the scope repeats) says
nothing about any one of them and is dropped; so are the names the caller knows to be everywhere
(the speakers).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence

import numpy as np
import numpy.typing as npt

from memoryspace.retrieval.terms import STOPWORDS

_NAME = re.compile(
    r"\b[A-Z][\w'’.-]*[\w'’]?(?:\s+(?:(?:of|the|de|la|von|van|del|and|&)\s+)*[A-Z][\w'’.-]*[\w'’]?)*"
)
SUBJECT_WORDS = 3  # a memory is about a name that starts within its first three words
MAX_SHARE = 0.2  # a name more than this share of the candidates hold is no bridge
HOLDERS = 2  # a bridge name pulls in this many memories about it, best first
NEXT_HOLDER = 0.5  # each further one gains this share of the one before it
_EXTRA_COMMON = frozenset(
    """also although another both however many may maybe much oh ok okay one please since
    thanks thank wow yeah yes hey hi hello sure well""".split()  # noqa: SIM905
)


def names(text: str) -> set[str]:
    """The capitalised names in ``text`` (see the module docstring), as written.

    A single capitalised word that opens a sentence ("Yesterday", "Congrats") is no name: the
    capital says nothing there.
    """
    found = set()
    for match in _NAME.finditer(text):
        words = match.group(0).rstrip(".'’-").split()
        while words and _common(words[0]):
            words = words[1:]  # "The Beatles" -> "Beatles"; "She" -> nothing
        while words and _common(words[-1]):
            words = words[:-1]  # "Yesterday I" -> "Yesterday"
        if not words or len("".join(words)) < 2:
            continue
        if len(words) == 1 and _opens_sentence(text, match.start()):
            continue
        found.add(" ".join(words))
    return found


def _common(word: str) -> bool:
    parts = [p for p in re.split(r"['’]", word.lower()) if p]
    return all(p in STOPWORDS or p in _EXTRA_COMMON for p in parts)


def _opens_sentence(text: str, at: int) -> bool:
    before = text[:at].rstrip()
    return not before or before[-1] in '.!?:;"“(—-'


def hop_boosts(
    query: str,
    contents: Sequence[str],
    scores: npt.NDArray[np.float64],
    *,
    weight: float,
    known: Collection[str] = (),
) -> npt.NDArray[np.float64]:
    """``weight`` for the candidates a bridge name pulls in, else 0.

    ``contents`` and ``scores`` are aligned: the candidates' texts and first-round scores. The
    bridge names are the names of the best candidate (the seed) that neither the query nor
    ``known`` (e.g. the speakers, who are everywhere in their own chat) holds. A bridge name
    pulls in the ``HOLDERS`` best-scored other candidates that are about it (name it within
    their first ``SUBJECT_WORDS`` words, as "Title: sentence" chunks and sentences whose
    subject it is do): the best gains ``weight``, the next ``NEXT_HOLDER`` times that (the
    fact a bridge question needs is often not the best-scored sentence about the name),
    unless more than ``MAX_SHARE`` of the candidates hold it.
    """
    boosts = np.zeros(len(contents))
    if not weight or len(contents) < 2:
        return boosts
    asked = query.lower()
    seed = int(np.argmax(scores))
    bridges = [
        n for n in sorted(names(contents[seed])) if n.lower() not in asked and n not in known
    ]
    limit = max(2, int(MAX_SHARE * len(contents)))
    for name in bridges:
        pattern = re.compile(rf"(?<!\w){re.escape(name)}(?!\w)")
        holders = [j for j, text in enumerate(contents) if name in text and pattern.search(text)]
        if len(holders) > limit:
            continue
        about = [j for j in holders if j != seed and _leads(name, contents[j], SUBJECT_WORDS)]
        about.sort(key=lambda j: (-scores[j], j))
        for rank, j in enumerate(about[:HOLDERS]):
            boosts[j] = max(boosts[j], weight * NEXT_HOLDER**rank)
    return boosts


def _leads(name: str, text: str, words: int) -> bool:
    """Whether ``name`` starts within the first ``words`` words of ``text``."""
    head = " ".join(text.split()[: words + len(name.split()) - 1])
    return name in head
