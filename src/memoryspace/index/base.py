"""The ``VectorIndex`` protocol: nearest neighbours by cosine over integer keys.

Keys are the store's integer row keys. Vectors are float32 and L2-normalised, so the score is the
dot product (cosine similarity, higher is better). The store is the source of truth: an index is
derived state, persisted beside the database and stamped with the log sequence number (LSN) it
reflects, and rebuilt from the store when it is missing or damaged.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
import numpy.typing as npt

Keys = npt.NDArray[np.int64]
Vectors = npt.NDArray[np.float32]
Scores = npt.NDArray[np.float32]


class VectorIndex(Protocol):
    @property
    def dimension(self) -> int: ...

    def __len__(self) -> int: ...

    def __contains__(self, key: object) -> bool: ...

    def add(self, keys: Keys, vectors: Vectors) -> None:
        """Insert or replace the vectors of ``keys``."""

    def remove(self, keys: Keys) -> None:
        """Forget ``keys``; unknown keys are ignored."""

    def search(self, query: Vectors, k: int, *, allowed: Keys | None = None) -> tuple[Keys, Scores]:
        """The ``k`` nearest keys to the 1-D ``query`` and their cosine scores, best first.

        With ``allowed``, only those keys may be returned (a filter computed by the store).
        """
