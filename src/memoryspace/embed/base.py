"""The ``Embedder`` protocol: text in, unit-length float32 vectors out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

Vectors = npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class CosineScale:
    """How an embedder's cosine similarities read as relevance in [0, 1].

    ``unrelated`` is a cosine that texts on different subjects commonly reach (relevance 0 at
    or below it), ``related`` one that texts about the same thing reach (relevance 1 at or
    above it); relevance is linear between. Each model has its own: a cosine of 0.3 is weak
    evidence for one model and strong for another. An embedder declares its scale as a
    ``cosine_scale`` attribute; those that do not get ``DEFAULT_COSINE_SCALE``.
    """

    unrelated: float
    related: float

    def relevance(self, cosine: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """Cosines mapped linearly onto [0, 1] between ``unrelated`` and ``related``."""
        return np.clip((cosine - self.unrelated) / (self.related - self.unrelated), 0.0, 1.0)


# Sentence-embedding models such as all-MiniLM-L6-v2 give texts on different subjects a cosine
# around 0.05 (95% below 0.21) and a question and the sentence answering it around 0.5.
DEFAULT_COSINE_SCALE = CosineScale(unrelated=0.1, related=0.6)


def cosine_scale(embedder: object) -> CosineScale:
    """The embedder's declared ``cosine_scale``, else ``DEFAULT_COSINE_SCALE``."""
    scale = getattr(embedder, "cosine_scale", None)
    return scale if isinstance(scale, CosineScale) else DEFAULT_COSINE_SCALE


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
