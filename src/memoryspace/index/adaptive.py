"""``AdaptiveIndex``: exact search while the collection is small, HNSW once it is large.

Exact search is perfect recall and under 1 ms at 20k vectors, but grows linearly (~6 ms at 100k,
82 ms at 1M on 384-d vectors); HNSW stays around a millisecond but is approximate and slow to build
(15-70 s for 20k 384-d vectors on two busy cores). So MemorySpace starts exact and, once the index
grows past ``ann_threshold`` vectors, builds an HNSW graph **in a background thread** and swaps it
in when it is ready:

1. Under the lock, the builder takes a snapshot of the exact vectors (copy on write: nothing is
   copied unless a write follows) and starts recording a tail of the adds and removes after it.
2. Without the lock, it inserts the snapshot into a new graph, chunk by chunk. Searches meanwhile
   use the exact index, and adds and removes go on as before (each is also appended to the tail).
3. It replays the tail without the lock while the tail is long, then takes the lock, replays the
   last few changes (at most ``SWAP_TAIL`` vectors, or as many as the latest add brought, so
   that steady batch adds still let it finish) and swaps the graph in.

So no add waits for the build, and an add or search waits at most for as many graph inserts as
one add costs once the graph is in. Dying mid-build
loses nothing: the index is derived state, and what was saved before (``save_index``, atomic) is
still the exact index. A build that fails (e.g. out of memory) leaves the exact index in place and
is reported by ``build_error``; the next add past the threshold tries again.

It never switches back when removals take it under the threshold: HNSW answers small collections
well, a second build would cost as much again, and an index hovering around the threshold would
otherwise rebuild over and over.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal

import numpy as np

from memoryspace.errors import InvalidInput
from memoryspace.index.base import Keys, Scores, Vectors
from memoryspace.index.exact import ExactIndex, ExactSnapshot, as_keys
from memoryspace.index.hnsw import (
    DEFAULT_PRECISION,
    HNSWIndex,
    check_hnsw_options,
    check_not_reserved,
    check_precision,
)

DEFAULT_ANN_THRESHOLD = 20_000
_HNSW_OPTIONS = frozenset({"connectivity", "expansion_add", "expansion_search"})
# The builder swaps the graph in once at most this many vectors changed since it last caught up:
# inserting them holds the lock (~1-4 ms each on two busy cores), so searches wait at most that.
SWAP_TAIL = 32
_BUILD_CHUNK = 1024  # vectors per usearch call while building (progress and tail catch-up)
_logger = logging.getLogger(__name__)

# One change recorded while a build runs: keys and their vectors (an add) or None (a remove).
_Change = tuple[Keys, Vectors | None]


class AdaptiveIndex:
    """The ``VectorIndex`` MemorySpace uses: ``ExactIndex`` up to ``ann_threshold`` vectors, then
    ``HNSWIndex`` built with ``hnsw_options`` (``connectivity``, ``expansion_add``,
    ``expansion_search``) storing its vectors at ``precision`` (``"float32"`` or ``"float16"``;
    the exact index always holds float32).

    Thread-safe: one lock serialises every call, so a search never sees a half-done switch. The
    switch is built in a background thread (see the module docstring); ``background=False``
    builds it inside the add that crosses the threshold instead. ``wait_for_build`` waits for a
    running build. Key -1 is refused from the start (usearch reserves it), so the switch can
    never fail on it.

    Raises:
        InvalidInput: a bad dimension, threshold, HNSW option or precision.
    """

    def __init__(
        self,
        dimension: int,
        *,
        ann_threshold: int = DEFAULT_ANN_THRESHOLD,
        background: bool = True,
        precision: str = DEFAULT_PRECISION,
        **hnsw_options: int,
    ) -> None:
        self._init(ExactIndex(dimension), ann_threshold, hnsw_options, background, precision)

    @classmethod
    def wrap(
        cls,
        backend: ExactIndex | HNSWIndex,
        *,
        ann_threshold: int = DEFAULT_ANN_THRESHOLD,
        background: bool = True,
        precision: str = DEFAULT_PRECISION,
        **hnsw_options: int,
    ) -> AdaptiveIndex:
        """An adaptive index over an existing exact or HNSW index (e.g. one loaded from disk).

        An HNSW ``backend`` keeps its own options and precision. An exact one over the threshold
        starts its switch to HNSW now (in the background unless ``background=False``).

        Raises:
            InvalidInput: a bad threshold, HNSW option or precision, or an exact ``backend``
                holding key -1, which could never switch to HNSW.
        """
        if isinstance(backend, ExactIndex) and -1 in backend:
            raise InvalidInput("key -1 is reserved by the HNSW index (usearch); use another key")
        index = cls.__new__(cls)
        if isinstance(backend, HNSWIndex):
            hnsw_options, precision = backend.options, backend.precision
        index._init(backend, ann_threshold, hnsw_options, background, precision)
        with index._lock:
            index._maybe_switch()
        return index

    def _init(
        self,
        backend: ExactIndex | HNSWIndex,
        ann_threshold: int,
        hnsw_options: dict[str, int],
        background: bool,
        precision: str = DEFAULT_PRECISION,
    ) -> None:
        if type(ann_threshold) is not int or ann_threshold < 0:
            raise InvalidInput(f"ann_threshold must be an integer ≥ 0, got {ann_threshold!r}")
        unknown = set(hnsw_options) - _HNSW_OPTIONS
        if unknown:
            raise InvalidInput(
                f"unknown HNSW options {sorted(unknown)}; expected some of {sorted(_HNSW_OPTIONS)}"
            )
        check_hnsw_options(**hnsw_options)  # fail now on a bad value, not at the switch
        self._precision = check_precision(precision)
        self._backend = backend
        self._ann_threshold = ann_threshold
        self._hnsw_options = dict(hnsw_options)
        self._background = bool(background)
        self._lock = threading.RLock()
        self._tail: list[_Change] | None = None  # changes since the build's snapshot, if building
        self._builder: threading.Thread | None = None
        self._cancel = threading.Event()
        self._last_add = 0  # vectors in the latest add: the swap may insert that many at most
        self.build_error: BaseException | None = None
        self.builds = 0  # graphs swapped in, for tests and counters

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

    @property
    def precision(self) -> str:
        """How the HNSW graph stores (or will store) its vectors: float32 or float16."""
        return self._precision

    def __len__(self) -> int:
        with self._lock:
            return len(self._backend)

    def __contains__(self, key: object) -> bool:
        with self._lock:
            return key in self._backend

    def __repr__(self) -> str:
        return f"AdaptiveIndex(kind={self.kind!r}, len={len(self)}, dimension={self.dimension})"

    @property
    def building(self) -> bool:
        """Whether an HNSW graph is being built in the background right now."""
        with self._lock:
            return self._tail is not None

    def wait_for_build(self, timeout: float | None = None) -> bool:
        """Wait for a running background build to finish; ``True`` when none is running now."""
        builder = self._builder
        if builder is not None:
            builder.join(timeout)
        return not self.building

    def cancel_build(self) -> None:
        """Stop a running background build (the index stays exact); e.g. when closing."""
        builder = self._builder
        if builder is None:
            return
        self._cancel.set()
        builder.join()
        self._cancel.clear()

    def add(self, keys: Keys, vectors: Vectors) -> None:
        """Insert or replace the vectors of ``keys``; may start the switch to HNSW.

        The switch is built in a background thread, so this call does not wait for it (unless
        the index was made with ``background=False``).

        Raises:
            InvalidInput: bad keys or vectors, or the reserved key -1 (nothing is changed).
        """
        keys = check_not_reserved(as_keys(keys))
        with self._lock:
            self._backend.add(keys, vectors)
            self._last_add = len(keys)
            if self._tail is not None:  # validated by the add above; keep a private copy
                matrix = np.array(vectors, dtype=np.float32).reshape(len(keys), self.dimension)
                self._tail.append((keys.copy(), matrix))
            self._maybe_switch()

    def remove(self, keys: Keys) -> None:
        """Forget ``keys``; unknown keys are ignored. Never switches back to exact.

        Raises:
            InvalidInput: ``keys`` are not integers.
        """
        with self._lock:
            self._backend.remove(keys)
            if self._tail is not None:
                self._tail.append((as_keys(keys).copy(), None))

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

    def frozen(self) -> ExactSnapshot | HNSWIndex:
        """The current backend as it is now, which later writes never change, to be saved
        without holding the index: an exact index's arrays shared copy on write (free until
        the next write copies them), an HNSW graph copied in memory."""
        with self._lock:
            if isinstance(self._backend, ExactIndex):
                keys, vectors = self._backend.snapshot()
                return ExactSnapshot(keys, vectors)
            return self._backend.copy()

    def _maybe_switch(self) -> None:
        """Start the switch to HNSW if the exact index is past the threshold (lock held)."""
        backend = self._backend
        if (
            not isinstance(backend, ExactIndex)
            or len(backend) <= self._ann_threshold
            or self._tail is not None
        ):
            return
        if not self._background:
            hnsw = HNSWIndex(backend.dimension, precision=self._precision, **self._hnsw_options)
            hnsw.add(*backend.export())
            self._backend = hnsw
            self.builds += 1
            return
        keys, vectors = backend.snapshot()
        self._tail = []
        self.build_error = None
        self._builder = threading.Thread(
            target=self._build, args=(keys, vectors), name="memoryspace-hnsw-build", daemon=True
        )
        self._builder.start()

    def _build(self, keys: Keys, vectors: Vectors) -> None:
        """The background builder: snapshot, then tail until it is short, then swap."""
        try:
            hnsw = HNSWIndex(self.dimension, precision=self._precision, **self._hnsw_options)
            for at in range(0, len(keys), _BUILD_CHUNK):
                if self._cancel.is_set():
                    break
                hnsw.add(keys[at : at + _BUILD_CHUNK], vectors[at : at + _BUILD_CHUNK])
            del keys, vectors  # let the exact index's copy on write free the snapshot
            while True:
                with self._lock:
                    assert self._tail is not None
                    if self._cancel.is_set():
                        self._tail = None
                        return
                    pending, self._tail = self._tail, []
                    # At most what one add of the current batch size costs after the swap, so
                    # steady batch adds cannot keep the tail from ever getting short enough.
                    if _vector_count(pending) <= max(SWAP_TAIL, self._last_add):
                        _replay(hnsw, pending)
                        self._backend = hnsw
                        self._tail = None
                        self.builds += 1
                        return
                _replay(hnsw, pending)
        except BaseException as error:  # keep serving exactly; the next add past it retries
            _logger.exception("building the HNSW index failed; staying with exact search")
            with self._lock:
                self.build_error = error
                self._tail = None


def _vector_count(changes: list[_Change]) -> int:
    return sum(len(keys) for keys, vectors in changes if vectors is not None)


def _replay(hnsw: HNSWIndex, changes: list[_Change]) -> None:
    """Apply recorded changes to ``hnsw`` in order (an add replaces; a remove ignores unknowns)."""
    for keys, vectors in changes:
        if vectors is None:
            hnsw.remove(keys)
        else:
            hnsw.add(keys, vectors)
