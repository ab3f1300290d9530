"""``HNSWIndex``: approximate cosine search over a usearch HNSW graph.

usearch is imported on first use, so ``import memoryspace.index`` stays cheap (it costs ~50 ms).
The graph uses the inner-product metric: vectors are L2-normalised, so ``1 - distance`` is the
same cosine ``ExactIndex`` computes.

Filtered search: usearch 2.26's Python API has no predicate or filter argument (``search`` takes
only ``count``, ``radius``, ``exact`` and threading options), so ``allowed`` is handled here. A
small allowed set is scored exactly from the vectors usearch already holds (``Index.get``): no
second copy of the vectors is kept. A large one is searched approximately with oversampling: ask
for enough candidates that, at the allowed fraction, about ``2k`` of them should pass the filter,
and double the request until ``k`` pass.

Precision: the graph stores its vectors as float32 (the default) or float16 (``precision``),
usearch's ``dtype``. Measured on 7,168 real MiniLM vectors of real text with 200 real questions
(``memoryspace bench vector-precision``): recall@10 against exact float32 search 0.984 (float32)
and 0.983 (float16), index bytes per vector 1,685 and 917. int8 (0.938) is not offered: it falls
below 0.95. Queries stay float32; usearch converts them.

Inserts are single-threaded: usearch 2.26's multi-threaded batch insert leaves a few nodes that no
search reaches (4 of 20k clustered 384-d vectors could not find themselves; 0 single-threaded),
i.e. memories that could never be recalled, and on two cores it built only ~15% faster.
"""

from __future__ import annotations

import math
import os
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from memoryspace.errors import BackendUnavailable, InvalidInput
from memoryspace.index.base import Keys, Scores, Vectors
from memoryspace.index.exact import (
    as_keys,
    as_query,
    as_vectors,
    check_k,
    empty_result,
    scores_of,
    top_k,
)

if TYPE_CHECKING:
    from usearch.index import Index as UsearchIndex

# Scoring m allowed keys exactly costs ~2.5 µs per key (usearch's get() wraps each row in Python,
# then one dot product); oversampling costs ~8 µs per candidate and needs ~2k·n/m candidates of n.
# Exact wins while 2.5·m < 16·k·n/m, i.e. m² < ~7·k·n: ~2,600 keys at n = 100k, k = 10 (measured
# on 100k × 384-d vectors: 2,048 keys 4 ms either way, 5,000 keys 12 ms exact vs 3-5 ms sampled).
_EXACT_ALLOWED_COST_RATIO = 7
_EXACT_ALLOWED_MIN = 2048
# usearch keys are uint64 and it marks free slots with 2**64 - 1, which is int64 -1: a vector stored
# under it is invisible to search. Keys are otherwise passed through bit for bit.
RESERVED_KEY = -1
# The vector storage precisions offered, and usearch's name for each.
PRECISIONS = {"float32": "f32", "float16": "f16"}
DEFAULT_PRECISION = "float32"


def check_not_reserved(keys: Keys) -> Keys:
    """``keys`` if none is ``RESERVED_KEY``.

    Raises:
        InvalidInput: a key is -1, which usearch cannot store.
    """
    if np.any(keys == RESERVED_KEY):
        raise InvalidInput("key -1 is reserved by the HNSW index (usearch); use another key")
    return keys


def _to_usearch(keys: Keys) -> npt.NDArray[np.uint64]:
    """Known-good int64 keys as the uint64 keys usearch stores, bit for bit."""
    return np.ascontiguousarray(keys, dtype=np.int64).view(np.uint64)


def _live(keys: Keys) -> Keys:
    """``keys`` without the reserved key, which can never be stored."""
    live: Keys = keys[keys != RESERVED_KEY]
    return live


def check_precision(precision: object) -> str:
    """``precision`` if it is one of ``PRECISIONS`` (``"float32"`` or ``"float16"``).

    Raises:
        InvalidInput: another value or type.
    """
    if not isinstance(precision, str) or precision not in PRECISIONS:
        raise InvalidInput(
            f"vector precision is one of {sorted(PRECISIONS)}, not {precision!r} "
            "(int8 is not offered: its recall@10 on MiniLM vectors is 0.94)"
        )
    return precision


def _usearch_index(
    dimension: int,
    connectivity: int,
    expansion_add: int,
    expansion_search: int,
    precision: str = DEFAULT_PRECISION,
) -> UsearchIndex:
    """A new, empty usearch inner-product index storing vectors at ``precision``.

    Raises:
        BackendUnavailable: usearch is not installed.
    """
    try:
        from usearch.index import Index
    except ImportError as error:  # pragma: no cover - usearch is a hard dependency
        raise BackendUnavailable("usearch is not installed; pip install usearch==2.26.6") from error
    return Index(
        ndim=dimension,
        metric="ip",
        dtype=PRECISIONS[precision],
        connectivity=connectivity,
        expansion_add=expansion_add,
        expansion_search=expansion_search,
    )


def _positive(name: str, value: int, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise InvalidInput(f"{name} must be an integer of at least {minimum}, got {value!r}")
    return value


def check_hnsw_options(
    *, connectivity: int = 16, expansion_add: int = 128, expansion_search: int = 64
) -> dict[str, int]:
    """The HNSW options as a dict, checked without building (or importing) anything.

    Raises:
        InvalidInput: an option is not a positive integer (``connectivity`` needs at least 2).
    """
    return {
        "connectivity": _positive("connectivity", connectivity, 2),
        "expansion_add": _positive("expansion_add", expansion_add),
        "expansion_search": _positive("expansion_search", expansion_search),
    }


class HNSWIndex:
    """Approximate nearest neighbours by cosine in a usearch HNSW graph.

    ``connectivity`` (HNSW's M) is fixed at construction; ``expansion_add`` (efConstruction) and
    ``expansion_search`` (ef) trade build and query time for recall. ``precision`` is how the
    vectors are stored: ``"float32"`` or ``"float16"`` (half the memory, same recall on MiniLM
    vectors; see the module docstring). Not thread-safe on its own: ``AdaptiveIndex`` serialises
    access.

    Raises:
        InvalidInput: a non-positive dimension or option, or an unknown precision.
        BackendUnavailable: usearch is not installed.
    """

    def __init__(
        self,
        dimension: int,
        *,
        connectivity: int = 16,
        expansion_add: int = 128,
        expansion_search: int = 64,
        precision: str = DEFAULT_PRECISION,
    ) -> None:
        self._dimension = _positive("dimension", dimension)
        self._options = check_hnsw_options(
            connectivity=connectivity,
            expansion_add=expansion_add,
            expansion_search=expansion_search,
        )
        self._precision = check_precision(precision)
        self._index = _usearch_index(
            dimension, connectivity, expansion_add, expansion_search, precision
        )

    @property
    def dimension(self) -> int:
        return self._dimension

    @property
    def options(self) -> dict[str, int]:
        """The constructor's HNSW options, so that a copy or a reload can be built alike."""
        return dict(self._options)

    @property
    def precision(self) -> str:
        """How the vectors are stored: ``"float32"`` or ``"float16"``."""
        return self._precision

    def __len__(self) -> int:
        return len(self._index)

    def __contains__(self, key: object) -> bool:
        if isinstance(key, bool) or not isinstance(key, int | np.integer) or key == RESERVED_KEY:
            return False
        if not -(2**63) <= key < 2**63:
            return False
        return bool(self._index.contains(int(key) % 2**64))

    def __repr__(self) -> str:
        return (
            f"HNSWIndex(dimension={self._dimension}, len={len(self)}, {self._options}, "
            f"precision={self._precision!r})"
        )

    def add(self, keys: Keys, vectors: Vectors) -> None:
        """Insert or replace the vectors of ``keys``; a key repeated in one call keeps its last.

        A replaced key is removed and re-inserted (usearch refuses duplicate keys).

        Raises:
            InvalidInput: bad keys or vectors, or the reserved key -1 (nothing is changed).
        """
        keys = check_not_reserved(as_keys(keys))
        matrix = as_vectors(vectors, dimension=self._dimension, count=len(keys))
        if len(keys) == 0:
            return
        if len(np.unique(keys)) != len(keys):
            last = {key: position for position, key in enumerate(keys.tolist())}
            positions = np.fromiter(last.values(), dtype=np.intp, count=len(last))
            keys, matrix = keys[positions], matrix[positions]
        native = _to_usearch(keys)
        stored = np.asarray(self._index.contains(native), dtype=bool)
        if stored.any():
            self._index.remove(native[stored])
        self._index.add(native, matrix, threads=1)  # see the module docstring

    def remove(self, keys: Keys) -> None:
        """Forget ``keys``; unknown keys are ignored.

        Raises:
            InvalidInput: ``keys`` are not integers.
        """
        keys = _live(as_keys(keys))
        if len(keys):
            self._index.remove(_to_usearch(keys))

    def search(self, query: Vectors, k: int, *, allowed: Keys | None = None) -> tuple[Keys, Scores]:
        """About the ``k`` keys with the highest cosine to ``query``, best first, and their scores.

        Approximate (recall@10 ≈ 0.97 on MiniLM vectors at the default options), except when
        ``k`` covers the whole index or a small ``allowed`` set, which are answered exactly.

        Raises:
            InvalidInput: bad query, ``k`` or ``allowed``.
        """
        vector = as_query(query, dimension=self._dimension)
        k = check_k(k)
        if allowed is not None:
            return self._search_allowed(vector, k, _live(as_keys(allowed, name="allowed")))
        size = len(self._index)
        if size == 0:
            return empty_result()
        keys, scores = self._ann(vector, min(k, size))
        if len(keys) < min(k, size):  # the graph missed live nodes (e.g. after many removals)
            keys, scores = self._ann(vector, min(k, size), exact=True)
        return keys, scores

    def copy(self) -> HNSWIndex:
        """An independent copy of the graph and its vectors (what a background save writes
        while this one goes on taking writes): a memory copy, about half the time of ``save``
        to a file."""
        twin = HNSWIndex.__new__(HNSWIndex)
        twin._dimension, twin._options = self._dimension, dict(self._options)
        twin._precision = self._precision
        twin._index = self._index.copy()
        return twin

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the graph and vectors to ``path`` in usearch's own format."""
        self._index.save(os.fspath(path))

    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str],
        dimension: int,
        *,
        precision: str = DEFAULT_PRECISION,
        **options: int,
    ) -> HNSWIndex:
        """An index read fully into memory from a file written by ``save``.

        Raises:
            InvalidInput: the file holds vectors of another dimension or precision.
            RuntimeError, OSError: usearch cannot read the file.
        """
        index = cls(dimension, precision=precision, **options)
        index._index.load(os.fspath(path))
        if index._index.ndim != dimension:
            raise InvalidInput(f"{path} holds {index._index.ndim}-d vectors, not {dimension}-d")
        stored = str(index._index.dtype).rsplit(".", 1)[-1].lower()
        if stored != PRECISIONS[precision]:
            raise InvalidInput(f"{path} stores {stored} vectors, not {precision}")
        return index

    def _ann(self, vector: Vectors, count: int, *, exact: bool = False) -> tuple[Keys, Scores]:
        """usearch's top ``count`` matches: keys and cosines (1 - inner-product distance)."""
        matches = self._index.search(vector, count, exact=exact)
        keys = np.asarray(matches.keys, dtype=np.uint64).view(np.int64)
        scores = (1.0 - np.asarray(matches.distances, dtype=np.float64)).astype(np.float32)
        return keys, scores

    def _search_allowed(self, vector: Vectors, k: int, allowed: Keys) -> tuple[Keys, Scores]:
        size, wanted = len(self._index), len(allowed)
        if size == 0 or wanted == 0:
            return empty_result()
        if wanted <= _EXACT_ALLOWED_MIN or wanted * wanted <= _EXACT_ALLOWED_COST_RATIO * k * size:
            return self._exact_over(vector, k, allowed)
        ordered = allowed if bool(np.all(allowed[1:] >= allowed[:-1])) else np.sort(allowed)
        count = min(size, max(4 * k, math.ceil(2 * k * size / wanted)))
        while count < size:
            keys, scores = self._ann(vector, count)
            slots = np.minimum(np.searchsorted(ordered, keys), len(ordered) - 1)
            passed = ordered[slots] == keys
            if np.count_nonzero(passed) >= k:
                return keys[passed][:k], scores[passed][:k]
            count = min(size, 2 * count)
        # Most allowed keys are not in the index (or k is huge): only an exact pass is sure.
        return self._exact_over(vector, k, allowed)

    def _stored_rows(self, present: npt.NDArray[np.uint64]) -> npt.NDArray[np.float32]:
        """The float32 vectors of ``present`` (usearch keys, all stored), one row each.

        usearch's ``Index.get`` wraps each row in a Python call (a dtype view) after its
        compiled ``get_many``: half the cost at 1,000 rows. The pinned usearch (2.25) exposes
        ``get_many`` on its compiled index; without it, the public call is used.
        """
        compiled = getattr(self._index, "_compiled", None)
        if compiled is not None and hasattr(compiled, "get_many"):
            from usearch.compiled import ScalarKind

            try:  # (a missing key would give None: concatenate refuses it)
                joined = np.concatenate(compiled.get_many(present, ScalarKind.F32))
            except (TypeError, ValueError):
                pass
            else:  # 3x faster than stack
                return np.asarray(joined.view(np.float32), dtype=np.float32)
        stored = self._index.get(present, dtype="f32")  # one row per key, all present
        listed = stored if isinstance(stored, tuple) else (stored,)
        return np.concatenate([row for row in listed if row is not None])

    def _exact_over(self, vector: Vectors, k: int, allowed: Keys) -> tuple[Keys, Scores]:
        """Exact top ``k`` among the stored ``allowed`` keys, scored from usearch's own vectors."""
        distinct = _to_usearch(np.unique(allowed))
        present = distinct[np.asarray(self._index.contains(distinct), dtype=bool)]
        if len(present) == 0:
            return empty_result()
        matrix = self._stored_rows(present)
        scores = scores_of(matrix.reshape(len(present), self._dimension), vector)
        return top_k(present.view(np.int64), scores, k)
