"""``AdaptiveIndex``: exact search while the collection is small, HNSW once it is large.

Exact search is perfect recall and under 1 ms at 20k vectors, but grows linearly (~6 ms at 100k,
82 ms at 1M on 384-d vectors); HNSW stays around a millisecond but is approximate and slow to build
(15-20 s for 20k 384-d vectors on two cores). So
MemorySpace starts exact and, when an add takes the index past ``ann_threshold`` vectors, builds an
HNSW graph from the exact vectors once and switches to it.

It never switches back when removals take it under the threshold: HNSW answers small collections
well, a second build would cost as much again, and an index hovering around the threshold would
otherwise rebuild over and over.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal

from memoryspace.errors import InvalidInput
from memoryspace.index.base import Keys, Scores, Vectors
from memoryspace.index.exact import ExactIndex, as_keys
from memoryspace.index.hnsw import HNSWIndex, check_hnsw_options, check_not_reserved

DEFAULT_ANN_THRESHOLD = 20_000
_HNSW_OPTIONS = frozenset({"connectivity", "expansion_add", "expansion_search"})


class AdaptiveIndex:
    """The ``VectorIndex`` MemorySpace uses: ``ExactIndex`` up to ``ann_threshold`` vectors, then
    ``HNSWIndex`` built with ``hnsw_options`` (``connectivity``, ``expansion_add``,
    ``expansion_search``).

    Thread-safe: one lock serialises every call, so a search never sees a half-done switch. Key -1
    is refused from the start (usearch reserves it), so the switch can never fail on it.

    Raises:
        InvalidInput: a bad dimension, threshold or HNSW option.
    """

    def __init__(
        self, dimension: int, *, ann_threshold: int = DEFAULT_ANN_THRESHOLD, **hnsw_options: int
    ) -> None:
        self._init(ExactIndex(dimension), ann_threshold, hnsw_options)

    @classmethod
    def wrap(
        cls,
        backend: ExactIndex | HNSWIndex,
        *,
        ann_threshold: int = DEFAULT_ANN_THRESHOLD,
        **hnsw_options: int,
    ) -> AdaptiveIndex:
        """An adaptive index over an existing exact or HNSW index (e.g. one loaded from disk).

        An HNSW ``backend`` keeps its own options. An exact one over the threshold switches on the
        next add.

        Raises:
            InvalidInput: a bad threshold or HNSW option, or an exact ``backend`` holding key -1,
                which could never switch to HNSW.
        """
        if isinstance(backend, ExactIndex) and -1 in backend:
            raise InvalidInput("key -1 is reserved by the HNSW index (usearch); use another key")
        index = cls.__new__(cls)
        if isinstance(backend, HNSWIndex):
            hnsw_options = backend.options
        index._init(backend, ann_threshold, hnsw_options)
        return index

    def _init(
        self, backend: ExactIndex | HNSWIndex, ann_threshold: int, hnsw_options: dict[str, int]
    ) -> None:
        if type(ann_threshold) is not int or ann_threshold < 0:
            raise InvalidInput(f"ann_threshold must be an integer ≥ 0, got {ann_threshold!r}")
        unknown = set(hnsw_options) - _HNSW_OPTIONS
        if unknown:
            raise InvalidInput(
                f"unknown HNSW options {sorted(unknown)}; expected some of {sorted(_HNSW_OPTIONS)}"
            )
        check_hnsw_options(**hnsw_options)  # fail now on a bad value, not at the switch
        self._backend = backend
        self._ann_threshold = ann_threshold
        self._hnsw_options = dict(hnsw_options)
        self._lock = threading.RLock()

    @property
    def dimension(self) -> int:
        return self._backend.dimension

    @property
    def kind(self) -> Literal["exact", "hnsw"]:
        """``"exact"`` until the index first grows past ``ann_threshold``, ``"hnsw"`` after."""
        return "hnsw" if isinstance(self._backend, HNSWIndex) else "exact"

    @property
    def ann_threshold(self) -> int:
        return self._ann_threshold

    @property
    def hnsw_options(self) -> dict[str, int]:
        return dict(self._hnsw_options)

    def __len__(self) -> int:
        with self._lock:
            return len(self._backend)

    def __contains__(self, key: object) -> bool:
        with self._lock:
            return key in self._backend

    def __repr__(self) -> str:
        return f"AdaptiveIndex(kind={self.kind!r}, len={len(self)}, dimension={self.dimension})"

    def add(self, keys: Keys, vectors: Vectors) -> None:
        """Insert or replace the vectors of ``keys``; may switch to HNSW.

        The switch is a one-off build inside this call (15-20 s at 20k 384-d vectors), and it
        holds the lock, so concurrent searches wait for it.

        Raises:
            InvalidInput: bad keys or vectors, or the reserved key -1 (nothing is changed).
        """
        keys = check_not_reserved(as_keys(keys))
        with self._lock:
            self._backend.add(keys, vectors)
            if isinstance(self._backend, ExactIndex) and len(self._backend) > self._ann_threshold:
                self._switch_to_hnsw(self._backend)

    def remove(self, keys: Keys) -> None:
        """Forget ``keys``; unknown keys are ignored. Never switches back to exact.

        Raises:
            InvalidInput: ``keys`` are not integers.
        """
        with self._lock:
            self._backend.remove(keys)

    def search(self, query: Vectors, k: int, *, allowed: Keys | None = None) -> tuple[Keys, Scores]:
        """The ``k`` nearest keys to ``query`` and their cosine scores, best first; only keys in
        ``allowed`` when it is given.

        Raises:
            InvalidInput: bad query, ``k`` or ``allowed``.
        """
        with self._lock:
            return self._backend.search(query, k, allowed=allowed)

    @contextmanager
    def locked(self) -> Iterator[ExactIndex | HNSWIndex]:
        """Hold the index still and yield its current backend, e.g. to save it consistently."""
        with self._lock:
            yield self._backend

    def _switch_to_hnsw(self, exact: ExactIndex) -> None:
        hnsw = HNSWIndex(exact.dimension, **self._hnsw_options)
        hnsw.add(*exact.export())
        self._backend = hnsw
