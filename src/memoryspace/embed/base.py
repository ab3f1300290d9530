"""The ``Embedder`` protocol: text in, unit-length float32 vectors out."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

Vectors = npt.NDArray[np.float32]


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into vectors.

    ``model_id`` names the model and its settings (two embedders with the same id must give the
    same vectors); it is stored with the database so a space is never searched with vectors of
    another model. ``embed`` returns an array of shape ``(len(texts), dimension)``, dtype float32,
    each row L2-normalised, so cosine similarity is a dot product.
    """

    @property
    def model_id(self) -> str: ...

    @property
    def dimension(self) -> int: ...

    def embed(self, texts: Sequence[str]) -> Vectors: ...
