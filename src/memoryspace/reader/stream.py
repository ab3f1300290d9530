"""Streaming an input of any length as sentences, then as chunks of a token budget.

A source is a string, a path (``pathlib.Path``) or any iterable of strings. Files are read in
blocks of ``BLOCK_BYTES`` through an incremental UTF-8 decoder (bad bytes become U+FFFD), so a
multi-GB file is never held whole in RAM: at any moment the stream holds one block, the sentence
being completed, and one chunk.

Sentences end after ``.``, ``!`` or ``?`` followed by white space (not after an initial such as
"J." or a title such as "Dr."), and at line breaks; a line break also starts a new paragraph. A
"sentence" longer than the token limit (text8, for instance, has no punctuation at all) is cut at
white space into pieces that fit. Each sentence carries its character offset in the input, its
paragraph and its token count, so what the reader keeps can be traced back to where it was read.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from memoryspace.errors import InvalidInput
from memoryspace.tokens import TokenCounter

BLOCK_BYTES = 1 << 16
_BOUNDARY = re.compile(r"(?<=[.!?])[ \t]+|(?<=[.!?][\"')\]])[ \t]+|[ \t]*\n\s*")
_ABBREVIATION = re.compile(
    r"(?:\b[A-Z]|\b(?:Mr|Mrs|Ms|Dr|St|Jr|Sr|Prof|Mt|vs|etc|No|Inc|Ltd|Co|Gen|Col|Lt|Rev|Gov|"
    r"Sen|Rep|Jan|Feb|Mar|Apr|Aug|Sept?|Oct|Nov|Dec|e\.g|i\.e|approx))\.[\"')\]]*$"
)

Progress = Callable[[int, int | None], None]
"""Called with (units read so far, total units or ``None``): bytes for files, characters else."""


@dataclass(frozen=True, slots=True)
class Sentence:
    """One sentence of the input: its text, where it starts (characters from the start of the
    input), its paragraph number, its running number, its tokens and the chunk it was read in.
    ``offset`` is ``None`` for text a model wrote rather than read."""

    text: str
    offset: int | None
    paragraph: int
    number: int
    tokens: int
    chunk: int = -1

    @property
    def key(self) -> str:
        """A stable id: the offset for read text, the text for written text."""
        return f"o{self.offset}" if self.offset is not None else "g" + self.text


@dataclass(frozen=True, slots=True)
class Chunk:
    """Consecutive sentences of at most ``tokens`` tokens (the chunk budget)."""

    index: int
    sentences: tuple[Sentence, ...]
    tokens: int
    offset: int  # character offset of the first sentence
    end: int  # character offset just after the last sentence


def pieces(source: object, progress: Progress | None = None) -> Iterator[str]:
    """The text of ``source`` in pieces: a string, a ``Path`` (read in blocks) or an iterable of
    strings.

    Raises:
        InvalidInput: a source of another type, an iterable yielding a non-string, or a path that
            cannot be read.
    """
    if isinstance(source, str):
        if progress is not None:
            progress(len(source), len(source))
        yield source
        return
    if isinstance(source, Path):
        yield from _file_pieces(source, progress)
        return
    if isinstance(source, bytes | bytearray) or not isinstance(source, Iterable):
        raise InvalidInput(
            f"source must be a string, a pathlib.Path or an iterable of strings, "
            f"not {type(source).__name__}; decode bytes first or pass a Path"
        )
    done = 0
    for number, piece in enumerate(source):
        if not isinstance(piece, str):
            raise InvalidInput(
                f"the source's item {number} is {type(piece).__name__}, not str; "
                "an iterable source must yield text"
            )
        done += len(piece)
        if progress is not None:
            progress(done, None)
        yield piece


def _file_pieces(path: Path, progress: Progress | None) -> Iterator[str]:
    try:
        handle = open(path, "rb")  # noqa: SIM115  (closed in finally; this is a generator)
        total: int | None = path.stat().st_size
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror or exc}; check the path") from None
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    done = 0
    try:
        while block := handle.read(BLOCK_BYTES):
            done += len(block)
            if progress is not None:
                progress(done, total)
            text = decoder.decode(block)
            if text:
                yield text
        tail = decoder.decode(b"", final=True)
        if tail:
            yield tail
    finally:
        handle.close()


class SentenceStream:
    """Turns pieces of text into ``Sentence``s, holding at most one unfinished sentence.

    ``max_tokens`` bounds a sentence: longer ones are cut at white space (halving until each
    piece fits), so every sentence fits a chunk and the memory.
    """

    def __init__(self, count_tokens: TokenCounter, max_tokens: int) -> None:
        self.count_tokens = count_tokens
        self.max_tokens = max_tokens
        self._max_chars = max_tokens * 8  # cut runs without a boundary before they grow large
        self._carry = ""
        self._carry_offset = 0  # offset of the carry's first character
        self._paragraph = 0
        self._number = 0
        self._new_paragraph = False
        self.chars = 0

    def feed(self, piece: str) -> Iterator[Sentence]:
        """The sentences completed by ``piece``."""
        self.chars += len(piece)
        text = self._carry + piece
        start = 0
        for match in _BOUNDARY.finditer(text):
            paragraph_end = "\n" in match.group()
            if not paragraph_end and _ABBREVIATION.search(text, start, match.start()):
                continue
            yield from self._emit(text[start : match.start()], self._carry_offset + start)
            self._new_paragraph = self._new_paragraph or paragraph_end
            start = match.end()
        while len(text) - start > self._max_chars:  # a run without a boundary: cut it
            cut = text.rfind(" ", start + 1, start + self._max_chars)
            cut = cut if cut > start else start + self._max_chars
            yield from self._emit(text[start:cut], self._carry_offset + start)
            start = cut
        self._carry_offset += start
        self._carry = text[start:]

    def finish(self) -> Iterator[Sentence]:
        """The last sentence, when the input does not end with a boundary."""
        carry, offset = self._carry, self._carry_offset
        self._carry, self._carry_offset = "", offset + len(carry)
        yield from self._emit(carry, offset)

    def _emit(self, raw: str, offset: int) -> Iterator[Sentence]:
        stripped = raw.strip()
        if not stripped:
            return
        offset += len(raw) - len(raw.lstrip())
        if self._new_paragraph:
            self._paragraph += 1
            self._new_paragraph = False
        for text, at in self._fit(stripped, offset):
            self._number += 1
            yield Sentence(text, at, self._paragraph, self._number, self.count_tokens(text))

    def _fit(self, text: str, offset: int) -> list[tuple[str, int]]:
        """``text`` as one piece, or cut at white space into pieces of at most ``max_tokens``."""
        if self.count_tokens(text) <= self.max_tokens:
            return [(text, offset)]
        words = [(m.group(), m.start()) for m in re.finditer(r"\S+", text)]
        if len(words) < 2:  # one huge "word": cut by characters
            half = len(text) // 2
            return self._fit(text[:half], offset) + self._fit(text[half:], offset + half)
        middle = len(words) // 2
        left_end = words[middle - 1][1] + len(words[middle - 1][0])
        right_start = words[middle][1]
        return self._fit(text[:left_end], offset) + self._fit(
            text[right_start:], offset + right_start
        )


def chunks(
    sentences: Iterable[Sentence], chunk_tokens: int, *, max_tokens: int | None = None
) -> Iterator[Chunk]:
    """Consecutive sentences grouped into chunks of at most ``chunk_tokens`` tokens; stops once
    ``max_tokens`` tokens were chunked (the chunk that reaches it is the last)."""
    index, held, used, total = 0, list[Sentence](), 0, 0
    for sentence in sentences:
        if held and used + sentence.tokens > chunk_tokens:
            yield _chunk(index, held, used)
            index, held, used = index + 1, [], 0
            if max_tokens is not None and total >= max_tokens:
                return
        held.append(sentence)
        used += sentence.tokens
        total += sentence.tokens
    if held:
        yield _chunk(index, held, used)


def _chunk(index: int, held: list[Sentence], used: int) -> Chunk:
    placed = tuple(Sentence(s.text, s.offset, s.paragraph, s.number, s.tokens, index) for s in held)
    last = held[-1]
    start = held[0].offset or 0
    return Chunk(index, placed, used, start, (last.offset or 0) + len(last.text))


def stream_sentences(
    source: object,
    count_tokens: TokenCounter,
    max_sentence_tokens: int,
    progress: Progress | None = None,
) -> Iterator[Sentence]:
    """Every sentence of ``source``, streamed (see the module docstring)."""
    splitter = SentenceStream(count_tokens, max_sentence_tokens)
    for piece in pieces(source, progress):
        yield from splitter.feed(piece)
    yield from splitter.finish()
