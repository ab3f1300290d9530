"""``ExactIndex``: brute-force cosine search over a growable float32 matrix.

Exact, so it is both the index MemorySpace uses while the collection is small (a matrix-vector
product over 20k rows takes well under a millisecond) and the ground truth the approximate index is
tested against. The input checks and the top-k selection here are shared by the other indexes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from memoryspace.errors import InvalidInput
from memoryspace.index.base import Keys, Scores, Vectors

_INT64_MAX = np.iinfo(np.int64).max
# Below this many allowed keys, a dict lookup per key beats one vectorised pass over every row.
_ALLOWED_LOOKUP_LIMIT = 4096
_MIN_CAPACITY = 16


def as_keys(keys: npt.ArrayLike, *, name: str = "keys") -> Keys:
    """``keys`` as a 1-D int64 array.

    Raises:
        InvalidInput: not a 1-D sequence of integers that fit in int64.
    """
    array = np.asarray(keys)
    if array.ndim != 1:
        raise InvalidInput(f"{name} must be a 1-D array of integers, got shape {array.shape}")
    if array.size == 0:
        return np.empty(0, dtype=np.int64)
    if array.dtype.kind not in "iu":
        raise InvalidInput(f"{name} must be integers (the store's row keys), got {array.dtype}")
    if array.dtype.kind == "u" and int(array.max()) > _INT64_MAX:
        raise InvalidInput(f"{name} must fit in int64")
    return array.astype(np.int64, copy=False)


def as_vectors(vectors: npt.ArrayLike, *, dimension: int, count: int) -> Vectors:
    """``vectors`` as a C-contiguous ``(count, dimension)`` float32 matrix of finite values.

    Raises:
        InvalidInput: wrong shape, not real numbers, or a NaN or infinity.
    """
    array = np.asarray(vectors)
    if count == 0 and array.size == 0:
        return np.empty((0, dimension), dtype=np.float32)
    if array.ndim != 2 or array.shape[1] != dimension:
        raise InvalidInput(
            f"vectors must have shape (n, {dimension}), got {array.shape}; "
            "embed with the model this index was built for"
        )
    if array.shape[0] != count:
        raise InvalidInput(f"{count} keys but {array.shape[0]} vectors; pass one key per vector")
    if array.dtype.kind not in "fiu":
        raise InvalidInput(f"vectors must be real numbers, got {array.dtype}")
    matrix = np.ascontiguousarray(array, dtype=np.float32)
    finite = np.isfinite(matrix).all(axis=1)
    if not finite.all():
        row = int(np.argmin(finite))
        raise InvalidInput(f"vector {row} contains NaN or infinity; re-embed that memory")
    return matrix


def as_query(query: npt.ArrayLike, *, dimension: int) -> Vectors:
    """``query`` as a finite 1-D float32 vector of ``dimension`` values.

    Raises:
        InvalidInput: wrong shape, not real numbers, or a NaN or infinity.
    """
    array = np.asarray(query)
    if array.ndim != 1 or array.shape[0] != dimension:
        raise InvalidInput(
            f"query must be a 1-D vector of {dimension} values, got shape {array.shape}"
        )
    if array.dtype.kind not in "fiu":
        raise InvalidInput(f"query must be real numbers, got {array.dtype}")
    vector = np.ascontiguousarray(array, dtype=np.float32)
    if not np.isfinite(vector).all():
        raise InvalidInput("query contains NaN or infinity")
    return vector


def check_k(k: int) -> int:
    """``k`` if it is a positive integer.

    Raises:
        InvalidInput: ``k`` is not an integer of at least 1.
    """
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise InvalidInput(f"k must be an integer of at least 1, got {k!r}")
    return int(k)


def empty_result() -> tuple[Keys, Scores]:
    """No keys and no scores, with the right dtypes."""
    return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)


def top_k(keys: Keys, scores: npt.NDArray[np.floating], k: int) -> tuple[Keys, Scores]:
    """The ``k`` best ``keys`` by ``scores``, best first; ties go to the smaller key."""
    if len(scores) > k:
        candidates = np.argpartition(scores, len(scores) - k)[len(scores) - k :]
    else:
        candidates = np.arange(len(scores))
    order = candidates[np.lexsort((keys[candidates], -scores[candidates]))]
    return keys[order].astype(np.int64), scores[order].astype(np.float32)


@dataclass(frozen=True, slots=True)
class ExactSnapshot:
    """An exact index's keys and vectors at one moment, which later writes never change (the
    arrays are shared copy on write, see ``ExactIndex.snapshot``): what a background save
    writes while the index goes on taking writes."""

    keys: Keys
    vectors: Vectors

    @property
    def dimension(self) -> int:
        return int(self.vectors.shape[1])

    def __len__(self) -> int:
        return len(self.keys)

    def export(self) -> tuple[Keys, Vectors]:
        return self.keys, self.vectors


class ExactIndex:
    """Exact cosine search: one dot product per stored vector.

    Vectors live in a contiguous float32 matrix that grows by doubling (amortised O(1) adds) with
    row-aligned keys and a key → row dict. Removing swaps the last row into the hole, so the live
    rows stay contiguous and a search is a single matrix-vector product. Not thread-safe on its
    own: ``AdaptiveIndex`` serialises access.

    Raises:
        InvalidInput: ``dimension`` is not a positive integer.
    """

    def __init__(self, dimension: int) -> None:
        if isinstance(dimension, bool) or not isinstance(dimension, int) or dimension < 1:
            raise InvalidInput(f"dimension must be a positive integer, got {dimension!r}")
        self._dimension = dimension
        self._matrix = np.empty((0, dimension), dtype=np.float32)
        self._keys = np.empty(0, dtype=np.int64)
        self._rows: dict[int, int] = {}
        self._shared = False  # a snapshot still reads the arrays: copy them before a write

    @property
    def dimension(self) -> int:
        return self._dimension

    def __len__(self) -> int:
        return len(self._rows)

    def __contains__(self, key: object) -> bool:
        if isinstance(key, bool) or not isinstance(key, int | np.integer):
            return False
        return int(key) in self._rows

    def __repr__(self) -> str:
        return f"ExactIndex(dimension={self._dimension}, len={len(self)})"

    def add(self, keys: Keys, vectors: Vectors) -> None:
        """Insert or replace the vectors of ``keys``; a key repeated in one call keeps its last.

        Raises:
            InvalidInput: bad keys or vectors (nothing is changed).
        """
        keys = as_keys(keys)
        matrix = as_vectors(vectors, dimension=self._dimension, count=len(keys))
        last_position = {key: position for position, key in enumerate(keys.tolist())}
        self._own()
        size = len(self._rows)
        self._reserve(size + len(last_position))
        targets = np.empty(len(last_position), dtype=np.intp)
        for i, key in enumerate(last_position):
            row = self._rows.get(key)
            if row is None:
                row = self._rows[key] = size
                self._keys[row] = key
                size += 1
            targets[i] = row
        sources = np.fromiter(last_position.values(), dtype=np.intp, count=len(last_position))
        self._matrix[targets] = matrix[sources]

    def remove(self, keys: Keys) -> None:
        """Forget ``keys``; unknown keys are ignored.

        Raises:
            InvalidInput: ``keys`` are not integers.
        """
        keys = as_keys(keys)
        if any(key in self._rows for key in keys.tolist()):
            self._own()
        for key in keys.tolist():
            row = self._rows.pop(key, None)
            if row is None:
                continue
            last = len(self._rows)  # the row count before this removal, minus one
            if row != last:
                moved = int(self._keys[last])
                self._matrix[row] = self._matrix[last]
                self._keys[row] = moved
                self._rows[moved] = row
        self._shrink()

    def search(self, query: Vectors, k: int, *, allowed: Keys | None = None) -> tuple[Keys, Scores]:
        """The ``k`` keys with the highest cosine to ``query``, best first, and their scores.

        With ``allowed``, only those rows are scored.

        Raises:
            InvalidInput: bad query, ``k`` or ``allowed``.
        """
        vector = as_query(query, dimension=self._dimension)
        k = check_k(k)
        size = len(self._rows)
        if allowed is None:
            return top_k(self._keys[:size], scores_of(self._matrix[:size], vector), k)
        rows = self._rows_of(as_keys(allowed, name="allowed"))
        if 3 * len(rows) > size:  # gathering that many rows costs more than scoring them all
            return top_k(self._keys[rows], scores_of(self._matrix[:size], vector)[rows], k)
        return top_k(self._keys[rows], scores_of(self._matrix[rows], vector), k)

    def export(self) -> tuple[Keys, Vectors]:
        """Read-only, row-aligned views of the stored keys and vectors, valid until the next write.

        Used to build an HNSW index from this one and to persist it without copying.
        """
        size = len(self._rows)
        keys, matrix = self._keys[:size], self._matrix[:size]
        keys.flags.writeable = False
        matrix.flags.writeable = False
        return keys, matrix

    def snapshot(self) -> tuple[Keys, Vectors]:
        """Read-only keys and vectors as they are now, which later writes never change.

        Nothing is copied here: the next write copies the arrays first (copy on write), so a
        snapshot taken for a background HNSW build costs one copy, and only if writes follow.
        """
        snapshot = self.export()
        self._shared = True
        return snapshot

    def _own(self) -> None:
        """Stop sharing the arrays with a snapshot before writing to them."""
        if self._shared:
            self._resize(len(self._matrix))

    def _rows_of(self, allowed: Keys) -> npt.NDArray[np.intp]:
        """The sorted, distinct rows of the ``allowed`` keys that are stored."""
        size = len(self._rows)
        if len(allowed) <= _ALLOWED_LOOKUP_LIMIT:
            found = {self._rows.get(key) for key in allowed.tolist()}
            found.discard(None)
            return np.sort(np.fromiter(found, dtype=np.intp, count=len(found)))
        return np.flatnonzero(np.isin(self._keys[:size], allowed))

    def _reserve(self, rows: int) -> None:
        """Make room for ``rows`` rows, at least doubling so that adds stay amortised O(1)."""
        if rows > len(self._matrix):
            self._resize(max(rows, 2 * len(self._matrix), _MIN_CAPACITY))

    def _shrink(self) -> None:
        """Give memory back once three quarters of the capacity is unused."""
        size = len(self._rows)
        if len(self._matrix) > 4 * max(size, _MIN_CAPACITY):
            self._resize(max(2 * size, _MIN_CAPACITY))

    def _resize(self, capacity: int) -> None:
        size = len(self._rows)
        matrix = np.empty((capacity, self._dimension), dtype=np.float32)
        matrix[:size] = self._matrix[:size]
        keys = np.empty(capacity, dtype=np.int64)
        keys[:size] = self._keys[:size]
        self._matrix, self._keys = matrix, keys
        self._shared = False  # new arrays: no snapshot reads them


def scores_of(matrix: Vectors, vector: Vectors) -> Scores:
    """Each row's dot product with ``vector``.

    ``einsum`` rather than ``@``: a matrix-vector product goes to multi-threaded BLAS, whose
    threads cost far more than the product on a busy machine (measured on 2 cores under load:
    8 ms instead of 0.06 ms for 2,000 x 384).
    """
    scores: Scores = np.einsum("ij,j->i", matrix, vector)
    return scores
