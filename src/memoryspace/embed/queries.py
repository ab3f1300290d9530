"""``QueryVectors``: a bounded in-memory LRU of query vectors in front of an embedder.

A search embeds its query first; agents and servers repeat queries (the same question each
turn, a dashboard refreshing, many clients asking alike), and a MiniLM query costs
milliseconds even when the persistent cache (``memoryspace.embed.cache``) holds it, while a
dictionary hit costs a microsecond. Only single-text calls are cached (what a search makes);
batches pass through. Entries are keyed by the embedder's ``model_id`` and the text, so a
cache never answers for another model. Vectors are returned read-only, so a caller cannot
change a cached one in place.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence

import numpy as np

from memoryspace.embed.base import CosineScale, Embedder, Vectors, cosine_scale
from memoryspace.errors import InvalidInput

DEFAULT_QUERY_VECTORS = 4096  # about 6 MiB of 384-d float32 vectors


class QueryVectors:
    """An ``Embedder`` that remembers the last ``size`` single-text embeddings of ``inner``.

    Thread-safe. ``hits`` and ``misses`` count single-text calls.

    Raises:
        InvalidInput: ``size`` is not a positive int.
    """

    def __init__(self, inner: Embedder, *, size: int = DEFAULT_QUERY_VECTORS) -> None:
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise InvalidInput(f"size must be a positive int; got {size!r}")
        self._inner = inner
        self._size = size
        self._vectors: OrderedDict[tuple[str, str], Vectors] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    @property
    def inner(self) -> Embedder:
        """The embedder behind the cache."""
        return self._inner

    @property
    def model_id(self) -> str:
        return self._inner.model_id

    @property
    def dimension(self) -> int:
        return self._inner.dimension

    @property
    def cosine_scale(self) -> CosineScale:
        """The inner embedder's scale."""
        return cosine_scale(self._inner)

    def embed(self, texts: Sequence[str]) -> Vectors:
        """The vectors of ``texts``: a remembered one for a single text seen lately.

        Raises:
            InvalidInput, BackendUnavailable: from ``inner``.
        """
        if isinstance(texts, str) or len(texts) != 1 or not isinstance(texts[0], str):
            return self._inner.embed(texts)
        key = (self._inner.model_id, texts[0])
        with self._lock:
            found = self._vectors.get(key)
            if found is not None:
                self._vectors.move_to_end(key)
                self.hits += 1
                return found
            self.misses += 1
        vectors = np.array(self._inner.embed(texts), dtype=np.float32)
        vectors.setflags(write=False)
        with self._lock:
            self._vectors[key] = vectors
            self._vectors.move_to_end(key)
            while len(self._vectors) > self._size:
                self._vectors.popitem(last=False)
        return vectors
