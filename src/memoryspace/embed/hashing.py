"""A deterministic feature-hashing embedder: no model, no network, only numpy.

It is the honest fake behind the ``Embedder`` protocol: texts that share words (or, failing that,
character trigrams) get similar vectors, so retrieval tests behave like retrieval, and the same
text always gets the same vector in every process because the hash is ``blake2b``, not Python's
salted ``hash()``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from functools import lru_cache
from itertools import pairwise

import numpy as np
import numpy.typing as npt

from memoryspace.embed.base import CosineScale, Vectors
from memoryspace.errors import InvalidInput

_WORD = re.compile(r"\w+")
# Weights per feature kind: whole words matter most, word pairs add order, trigrams add
# tolerance to inflection and typos without drowning the words.
_UNIGRAM_WEIGHT = 1.0
_BIGRAM_WEIGHT = 0.5
_TRIGRAM_WEIGHT = 0.35
_EMPTY_FEATURE = "\x00empty"
_CODE = np.dtype("<i4")  # a feature's bucket, packed: ±(column + 1)
HASHING_COSINE_SCALE = CosineScale(unrelated=0.2, related=0.6)


def _bucket(feature: str, seed: int, dimension: int) -> tuple[int, float]:
    """Map a feature to a (column, sign) pair, stable across processes and platforms."""
    digest = hashlib.blake2b(
        feature.encode("utf-8", "surrogatepass"),
        digest_size=8,
        key=seed.to_bytes(8, "little", signed=True),
    ).digest()
    value = int.from_bytes(digest, "little")
    return value % dimension, (1.0 if value >> 63 else -1.0)


def _code(feature: str, seed: int, dimension: int) -> int:
    """A feature's bucket as one signed int: ``±(column + 1)``."""
    column, sign = _bucket(feature, seed, dimension)
    return column + 1 if sign > 0 else -(column + 1)


@lru_cache(maxsize=1 << 15)
def word_codes(word: str, seed: int, dimension: int) -> bytes:
    """The signed bucket codes of one word (first) and its character trigrams as packed int32,
    cached per word: a full cache (32,768 words) holds about 10 MB, and a miss costs one
    ``blake2b`` per feature."""
    padded = f"<{word}>"
    features = ["w:" + word, *("c:" + padded[i : i + 3] for i in range(len(padded) - 2))]
    return np.array([_code(f, seed, dimension) for f in features], dtype=_CODE).tobytes()


def _words(text: str) -> list[str]:
    """Lowercased words; punctuation-only text counts as one word so it still gets a vector."""
    words = _WORD.findall(text.lower())
    if not words:
        stripped = "".join(text.lower().split())
        words = [stripped] if stripped else []
    return words


class HashingEmbedder:
    """Embeds texts by signed feature hashing of words, word bigrams and character trigrams.

    Deterministic for a given ``(dimension, seed)``, fast (a few microseconds per word), and free
    of dependencies beyond numpy. Empty or whitespace-only texts get one fixed unit vector, so no
    row is ever zero or NaN.

    Raises:
        InvalidInput: ``dimension`` is below 2 or ``seed`` is not an int (at construction).
    """

    def __init__(self, dimension: int = 384, seed: int = 0) -> None:
        if isinstance(dimension, bool) or not isinstance(dimension, int) or dimension < 2:
            raise InvalidInput(f"dimension must be an int of at least 2, got {dimension!r}")
        if isinstance(seed, bool) or not isinstance(seed, int) or not -(2**63) <= seed < 2**63:
            raise InvalidInput(f"seed must be a 64-bit int, got {seed!r}")
        self._dimension = dimension
        self._seed = seed
        column, sign = _bucket(_EMPTY_FEATURE, seed, dimension)
        self._empty = np.zeros(dimension, dtype=np.float32)
        self._empty[column] = sign

    @property
    def model_id(self) -> str:
        """``hashing-{dimension}-v1``, with the seed in it when it is not 0."""
        seed = f"-seed{self._seed}" if self._seed else ""
        return f"hashing-{self._dimension}{seed}-v1"

    @property
    def dimension(self) -> int:
        """Length of every vector."""
        return self._dimension

    @property
    def cosine_scale(self) -> CosineScale:
        """Texts on different subjects still share stopwords and character trigrams here: their
        cosine averages 0.1 to 0.15 and 5% pass 0.22 to 0.29, so relevance starts at 0.2."""
        return HASHING_COSINE_SCALE

    def _sums(
        self,
        pieces: list[bytes],
        rows: list[int],
        word_piece: list[bool],
        count: int,
    ) -> npt.NDArray[np.float64]:
        """The (count, dimension) sums of every piece's signed weights in its row: a word's
        own feature weighs 1, its trigrams 0.35, a bigram 0.5."""
        if not pieces:
            return np.zeros((count, self._dimension))
        size = _CODE.itemsize
        lengths = np.fromiter((len(p) // size for p in pieces), dtype=np.int64, count=len(pieces))
        codes = np.frombuffer(b"".join(pieces), dtype=_CODE).astype(np.int64)
        is_word = np.asarray(word_piece)
        weights = np.repeat(np.where(is_word, _TRIGRAM_WEIGHT, _BIGRAM_WEIGHT), lengths)
        starts = np.cumsum(lengths) - lengths
        weights[starts[is_word]] = _UNIGRAM_WEIGHT
        weights = np.where(codes > 0, weights, -weights)
        flat = np.repeat(np.asarray(rows, dtype=np.int64), lengths) * self._dimension
        flat += np.abs(codes) - 1
        sums = np.bincount(flat, weights=weights, minlength=count * self._dimension)
        return sums.astype(np.float64, copy=False).reshape(count, self._dimension)

    def embed(self, texts: Sequence[str]) -> Vectors:
        """Return one L2-normalised float32 row per text.

        Raises:
            InvalidInput: ``texts`` is a bare string or holds something that is not a string.
        """
        if isinstance(texts, str):
            raise InvalidInput("embed() takes a sequence of strings; wrap a single text in a list")
        # Every feature as a signed code in one array, in a fixed order per text (its words'
        # features, then its bigrams), so sums are the same bit for bit in every run.
        pieces: list[bytes] = []
        rows: list[int] = []
        word_piece: list[bool] = []
        for row, text in enumerate(texts):
            if not isinstance(text, str):
                raise InvalidInput(f"texts[{row}] is {type(text).__name__}, not str")
            words = _words(text)
            # Presence, not counts: a repeated "the" should not outweigh the rarer words.
            for word in dict.fromkeys(words):
                pieces.append(word_codes(word, self._seed, self._dimension))
                rows.append(row)
                word_piece.append(True)
            bigrams = [f"b:{a} {b}" for a, b in dict.fromkeys(pairwise(words))]
            if bigrams:
                codes = [_code(f, self._seed, self._dimension) for f in bigrams]
                pieces.append(np.array(codes, dtype=_CODE).tobytes())
                rows.append(row)
                word_piece.append(False)
        count = len(texts)
        out = self._sums(pieces, rows, word_piece, count)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        blank = norms[:, 0] == 0.0  # no features, or features whose signs cancelled out
        np.divide(out, norms, out=out, where=~blank[:, None])
        unit: Vectors = out.astype(np.float32)
        unit[blank] = self._empty
        return unit
