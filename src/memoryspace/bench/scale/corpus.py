"""The scale benchmark's records and queries: real text, cut into passages of about 200 characters.

Records come from four real corpora under a data folder (this project's developers pass
``../shared/data``): every LoCoMo dialogue turn, the LongMemEval-S haystack turns (each distinct
turn once, long ones cut into passages), and passages of text8 and of enwik8's article text. The
passages are shuffled with a fixed seed so that every prefix mixes all four sources, and a size
``n`` takes the first ``n``. When ``n`` exceeds the distinct passages, the pool is cycled and each
repeat gets a ``[copy k]`` suffix, so every record's text is still unique; the corpus says how many
records are such copies. Queries are the real questions of LoCoMo and LongMemEval.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from memoryspace.datasets.locomo import load_locomo
from memoryspace.datasets.longmemeval import load_longmemeval
from memoryspace.errors import InvalidInput

# The files read under the data folder, relative to it.
LOCOMO = "locomo/locomo_dev6.json"
LONGMEMEVAL = "longmemeval/longmemeval_s_dev.json.gz"
TEXT8 = "text8/text8_prefix.txt"
ENWIK8 = "enwik8/enwik8_prefix.xml"
EXPECTED = (LOCOMO, LONGMEMEVAL, TEXT8, ENWIK8)

PASSAGE_CHARS = 200  # the size a passage is cut to (at a word boundary)
_SHUFFLE_SEED = 16
_CORPUS_VERSION = 1  # bump when the passages change, so saved corpora are rebuilt
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_WIKI_TEXT = re.compile(r"<text[^>]*>(.*?)</text>", re.S)
_WIKI_DROP = re.compile(
    r"\{\{[^{}]*\}\}|\{\|.*?\|\}|<[^>]+>|&lt;.*?&gt;|\[\[(?:Image|Category|File):[^\]]*\]\]|'{2,}",
    re.S,
)
_WIKI_LINK = re.compile(r"\[\[(?:[^\]|]*\|)?([^\]]*)\]\]")
_WIKI_URL = re.compile(r"\[https?://\S+\s*([^\]]*)\]")


@dataclass(frozen=True, slots=True)
class Corpus:
    """The distinct passages (shuffled), the questions, and where each passage came from."""

    passages: tuple[str, ...]
    queries: tuple[str, ...]
    sources: dict[str, int]  # passages per source

    def texts(self, n: int) -> list[str]:
        """The first ``n`` records: the passages in order, cycled with a ``[copy k]`` suffix past
        the end of the pool."""
        pool = len(self.passages)
        return [
            self.passages[i % pool] if i < pool else f"{self.passages[i % pool]} [copy {i // pool}]"
            for i in range(n)
        ]

    def copies(self, n: int) -> int:
        """How many of the first ``n`` records are suffixed copies of an earlier passage."""
        return max(0, n - len(self.passages))

    def digest(self) -> str:
        """A hash of the passages in order (vector caches are keyed by it)."""
        return text_digest(self.passages)


def text_digest(texts: tuple[str, ...] | list[str]) -> str:
    """A blake2b hash of ``texts`` in order (20 hex digits)."""
    hasher = hashlib.blake2b(digest_size=10)
    for text in texts:
        hasher.update(text.encode("utf-8"))
        hasher.update(b"\x00")
    return hasher.hexdigest()


def require_folder(data: Path) -> Path:
    """``data`` when every expected file is under it.

    Raises:
        InvalidInput: a file is missing; the message names every expected file.
    """
    missing = [name for name in EXPECTED if not (data / name).is_file()]
    if missing:
        raise InvalidInput(
            f"{data} lacks {', '.join(missing)}: bench scale needs a data folder holding "
            f"{', '.join(EXPECTED)} (this project's developers pass --data ../shared/data; "
            "everyone else downloads LoCoMo, LongMemEval-S, text8 and enwik8 into that layout)"
        )
    return data


def cut(text: str, size: int = PASSAGE_CHARS) -> Iterator[str]:
    """``text`` as passages of about ``size`` characters: whole sentences packed together, a
    sentence longer than ``size`` cut at word boundaries, fragments under ``size // 4`` dropped
    unless they are the whole text."""
    words: list[str] = []
    length = 0
    for sentence in _SENTENCE_END.split(" ".join(text.split())):
        for word in sentence.split(" "):
            if not word:  # only an empty text has one
                continue
            if length + len(word) > size and words:
                yield " ".join(words)
                words, length = [], 0
            words.append(word)
            length += len(word) + 1
        if length >= size * 3 // 4:
            yield " ".join(words)
            words, length = [], 0
    if words and (length >= size // 4 or length >= len(text) // 2):
        yield " ".join(words)


def _wiki_text(xml: str) -> Iterator[str]:
    for match in _WIKI_TEXT.finditer(xml):
        body = match.group(1)
        if body.lstrip().upper().startswith("#REDIRECT"):
            continue
        body = _WIKI_DROP.sub(" ", body)
        body = _WIKI_URL.sub(r"\1", _WIKI_LINK.sub(r"\1", body))
        for line in body.splitlines():
            line = line.strip()
            if len(line) > 40 and not line.startswith(("|", "!", "*", "#", "=", ":", "[")):
                yield line.replace("&quot;", '"').replace("&amp;", "&")


def load_corpus(data: Path, cache: Path | None = None) -> Corpus:
    """The benchmark's corpus from the data folder ``data`` (see ``EXPECTED``), read from
    ``cache`` (a folder) when an earlier call saved it there for the same files, else built
    (about 40 s) and saved there.

    Raises:
        InvalidInput: a file is missing or unreadable.
    """
    require_folder(data)
    saved = None if cache is None else cache / f"corpus-{_files_key(data)}.json"
    if saved is not None and saved.is_file():
        doc = json.loads(saved.read_text(encoding="utf-8"))
        return Corpus(tuple(doc["passages"]), tuple(doc["queries"]), doc["sources"])
    corpus = _build(data)
    if saved is not None:
        saved.parent.mkdir(parents=True, exist_ok=True)
        partial = saved.with_suffix(f".{os.getpid()}.tmp")
        partial.write_text(json.dumps(asdict(corpus)), encoding="utf-8")
        partial.replace(saved)
    return corpus


def _files_key(data: Path) -> str:
    """A hash of this module's version and each expected file's name, size and mtime."""
    stats = [
        (name, (data / name).stat().st_size, (data / name).stat().st_mtime_ns) for name in EXPECTED
    ]
    return text_digest([str(_CORPUS_VERSION), *map(str, stats)])


def _build(data: Path) -> Corpus:
    seen: set[str] = set()
    by_source: dict[str, list[str]] = {"locomo": [], "longmemeval": [], "text8": [], "enwik8": []}

    def keep(source: str, passage: str) -> None:
        passage = " ".join(passage.split())  # one line each, so a cache can store one a line
        if passage and passage not in seen:
            seen.add(passage)
            by_source[source].append(passage)

    queries: list[str] = []
    for conversation in load_locomo(data / LOCOMO):
        for turn in conversation.turns:
            keep("locomo", f"{turn.speaker}: {turn.text}")
        queries.extend(qa.question for qa in conversation.questions)
    for haystack in load_longmemeval(data / LONGMEMEVAL):
        queries.extend(q.question for q in haystack.questions)
        for session in haystack.sessions:
            for chat in session.turns:
                for passage in cut(chat.content):
                    keep("longmemeval", passage)
    for passage in cut((data / TEXT8).read_text(encoding="ascii")):
        keep("text8", passage)
    for line in _wiki_text((data / ENWIK8).read_text(encoding="utf-8", errors="replace")):
        for passage in cut(line):
            keep("enwik8", passage)
    pool = [p for texts in by_source.values() for p in texts]
    order = np.random.default_rng(_SHUFFLE_SEED).permutation(len(pool))
    questions = list(dict.fromkeys(" ".join(q.split()) for q in queries if q.strip()))
    question_order = np.random.default_rng(_SHUFFLE_SEED).permutation(len(questions))
    return Corpus(
        passages=tuple(pool[i] for i in order),
        queries=tuple(questions[i] for i in question_order),
        sources={name: len(texts) for name, texts in by_source.items()},
    )
